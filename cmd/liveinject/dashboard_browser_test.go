package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
)

// chromium returns the path of a Chromium binary, as Debian's chromium-headless-shell and chromium
// packages install it. Without one the test is skipped, but not in CI, which installs it (the
// Makefile's deps target and .ci/run): there its absence is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "headless-shell", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	const why = "no Chromium found (chromium-headless-shell, chromium): install it with apt-get install chromium-headless-shell, or run make deps"
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
	return ""
}

// TestDashboardInBrowser opens the dashboard in a real headless Chromium while the test channel
// runs: the channel shows as running with its picture and a green destination, pressing restart
// restarts its ffmpeg and shows it on the card, and the page fits a phone's screen. Screenshots
// are left in the test's temp dir.
func TestDashboardInBrowser(t *testing.T) {
	fftest.Require(t)
	browser := chromium(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	first := waitSent(t, r, 0).Channels[0]

	b := openBrowser(t, browser)
	do, poll, screenshot := b.do, b.poll, b.screenshot
	const card = `article[data-channel="test"]`
	do("open the dashboard", chromedp.Navigate("http://"+r.inst.httpAddr+"/"))
	poll("the channel running with a green light", `(() => {
		const c = document.querySelector('`+card+`');
		return c && c.dataset.state === "running" && c.querySelector(".light").dataset.colour === "green";
	})()`)
	size, _ := poll("the thumbnail loaded", `(() => {
		const i = document.querySelector('`+card+` .picture img');
		return i && i.complete && i.naturalWidth > 0 && !i.hidden ? [i.naturalWidth, i.naturalHeight] : false;
	})()`).([]any)
	if w, h, ok := pair(size); !ok || math.Abs(w/h-16.0/9) > 0.02 {
		t.Errorf("thumbnail %v, want the 16:9 of a 1280x720 picture", size)
	} else {
		t.Logf("thumbnail in the page: %vx%v", w, h)
	}
	poll("the destination light green, of kind rtsp, counting packets", `(() => {
		const d = document.querySelector('`+card+` .dest');
		return d && d.querySelector(".light").dataset.colour === "green" && d.dataset.kind === "rtsp" &&
			d.querySelector(".kind").textContent === "rtsp" && d.querySelector(".counts").textContent.includes(" packets (");
	})()`)
	destinationKindsInPage(t, b)
	poll("the source on air, in auto mode", `(() => {
		const c = document.querySelector('`+card+`'), i = c.querySelector(".onair-input");
		return i.textContent === "source" && i.dataset.kind === "source" && c.querySelector(".manual").hidden;
	})()`)
	screenshot("dashboard.png")

	// The button asks for a second press before it restarts.
	button := chromedp.CSS(card + ` button.restart`)
	do("press restart", chromedp.Click(button), chromedp.WaitVisible(chromedp.CSS(card+` button.restart.confirm`)))
	if c := getStatusReport(t, r).Channels[0]; c.FFmpegPID != first.FFmpegPID {
		t.Fatalf("one press restarted ffmpeg: pid %d, was %d", c.FFmpegPID, first.FFmpegPID)
	}
	do("press restart again", chromedp.Click(button))

	var pid int
	fftest.WaitFor(t, 30*time.Second, "a new ffmpeg in /status", func() bool {
		c := getStatusReport(t, r).Channels[0]
		pid = c.FFmpegPID
		return pid != 0 && pid != first.FFmpegPID
	})
	shown := poll("the card showing the restart", `(() => {
		const c = document.querySelector('`+card+`');
		const restarts = c.querySelector(".restarts").textContent, pid = c.querySelector(".pid").textContent;
		return restarts === "1" && pid === "`+strconv.Itoa(pid)+`" && c.querySelector(".note").textContent.startsWith("restart requested")
			? "restarts " + restarts + ", pid " + pid : false;
	})()`)
	t.Logf("ffmpeg pid %d → %d; the card shows %v", first.FFmpegPID, pid, shown)
	screenshot("dashboard-restarted.png")

	// On a phone the cards stack and nothing is wider than the screen.
	do("a phone's screen", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	poll("the page to fit a phone's width", `(() => {
		const c = document.querySelector('`+card+`').getBoundingClientRect();
		return document.documentElement.scrollWidth <= window.innerWidth && c.left >= 0 && c.right <= window.innerWidth;
	})()`)
	screenshot("dashboard-phone.png")
}

// destinationKindsInPage has the dashboard open in b draw RTMP and SRT destinations as /status
// shows them: their kind, a green light while they record (the return check does not play them
// back, which is no fault: never amber for it), their return check as not played back, and
// frames counted rather than packets.
func destinationKindsInPage(t *testing.T, b *browser) {
	t.Helper()
	at := time.Now().Add(-time.Minute)
	dests := []destinationReport{
		destinationReportOf(inject.Stats{URL: "rtmps://a.rtmp.youtube.com/live2", State: inject.StateRecording,
			Transport: "rtmps", ConnectedSince: at, PacketsSent: 1500, BytesSent: 2e6}),
		destinationReportOf(inject.Stats{URL: "srt://127.0.0.1:9000", State: inject.StateRecording,
			Transport: "srt", ConnectedSince: at, PacketsSent: 1500, BytesSent: 2e6, Verify: inject.Verify{State: inject.VerifyOff}}),
		// were an RTMP destination ever reported unverified, it is still not amber for it
		destinationReportOf(inject.Stats{URL: "rtmp://ingest.example/live", State: inject.StateRecording,
			Transport: "rtmp", Verify: inject.Verify{State: inject.VerifyUnverified, Cause: "DESCRIBE 404"}}),
	}
	js, err := json.Marshal(dests)
	if err != nil {
		t.Fatal(err)
	}
	got := b.poll("RTMP and SRT destinations drawn", `(() => {
		const list = document.createElement("ul");
		renderDestinations(list, `+string(js)+`);
		return Array.from(list.children).map(li => [li.dataset.kind, li.querySelector(".kind").textContent,
			li.querySelector(".light").dataset.colour, li.querySelector(".verify").textContent,
			li.querySelector(".counts").textContent.split(" · ")[0], li.querySelector(".state").textContent].join(" | "));
	})()`)
	want := []any{
		"rtmp | rtmp | green | not played back (the return check plays RTSP only) | sent 1500 frames (2.0 MB) | recording · rtmps",
		"srt | srt | green | not played back (the return check plays RTSP only) | sent 1500 frames (2.0 MB) | recording · srt",
		"rtmp | rtmp | green | unverified: DESCRIBE 404 | sent 0 frames (0 B) | recording · rtmp",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("destinations drawn as\n%q\nwant\n%q", got, want)
	}
}

// TestDashboardSwitchInBrowser opens the dashboard of a channel whose source fails: the card
// shows its backup on air in amber and the source's cause; switching to the slate with the
// card's control shows the slate in red, tagged manual, and auto gives the backup back.
func TestDashboardSwitchInBrowser(t *testing.T) {
	fftest.Require(t)
	path := chromium(t)
	r, _ := startBackupRun(t)
	b := openBrowser(t, path)
	const card = `article[data-channel="test"]`
	onAir := func(what, input, kind string, manual bool) {
		t.Helper()
		b.poll(what, `(() => {
			const c = document.querySelector('`+card+`');
			if (!c) return false;
			const i = c.querySelector(".onair-input"), m = c.querySelector(".manual");
			return i.textContent === "`+input+`" && i.dataset.kind === "`+kind+`" && m.hidden === `+strconv.FormatBool(!manual)+` &&
				(getComputedStyle(m).display !== "none") === `+strconv.FormatBool(manual)+`;
		})()`)
	}
	b.do("open the dashboard", chromedp.Navigate("http://"+r.inst.httpAddr+"/"))
	onAir("backup 1 on air in amber", "backup 1", "backup", false)
	colour := b.poll("the backup's colour", `getComputedStyle(document.querySelector('`+card+` .onair-input')).backgroundColor`)
	if colour != "rgb(217, 112, 8)" { // --amber
		t.Errorf("backup on air in %v, want amber", colour)
	}
	light := func(what, colour, word string) {
		t.Helper()
		b.poll(what, `(() => {
			const c = document.querySelector('`+card+`');
			return c.querySelector(".light").dataset.colour === "`+colour+`" && c.dataset.state === "`+word+`";
		})()`)
	}
	light("the channel's light amber on a backup", "amber", "on backup 1")
	failing := b.poll("the source's cause on the card", `(() => {
		const t = document.querySelector('`+card+` .inputs').textContent;
		return t.startsWith("source ") && t.includes(" ago)") ? t : false;
	})()`)
	t.Logf("the card says: %v", failing)
	options := b.poll("the inputs offered", `Array.from(document.querySelectorAll('`+card+` select.switch-to option')).map(o => o.value).join(",")`)
	if options != "source,backup 1,slate,auto" {
		t.Errorf("the switch offers %v, want source, backup 1, slate, auto", options)
	}
	b.screenshot("dashboard-backup.png")

	b.do("switch to the slate", chromedp.SetValue(chromedp.CSS(card+` select.switch-to`), "slate"),
		chromedp.Click(chromedp.CSS(card+` button.switch`)))
	onAir("the slate on air in red, manual", "slate", "down", true)
	light("the channel's light red on the slate", "red", "slate on air")
	if c := getStatusReport(t, r).Channels[0]; c.Mode != "manual" || c.Forced != "slate" {
		t.Errorf("after the switch: mode %q, forced %q; want manual, slate", c.Mode, c.Forced)
	}
	b.poll("the note", `document.querySelector('`+card+` .note').textContent.startsWith("switch to slate requested")`)
	b.screenshot("dashboard-slate.png")

	b.do("back to auto", chromedp.SetValue(chromedp.CSS(card+` select.switch-to`), "auto"),
		chromedp.Click(chromedp.CSS(card+` button.switch`)))
	onAir("backup 1 on air again, auto", "backup 1", "backup", false)
}

// browser is a headless Chromium for a test, with helpers that fail the test.
type browser struct {
	ctx context.Context
	// do runs actions; poll waits until the expression is truthy and returns its value;
	// screenshot leaves a screenshot of the page in the test's temp dir.
	do         func(what string, actions ...chromedp.Action[chromedp.Void])
	poll       func(what, expr string) any
	screenshot func(name string) string
}

// openBrowser starts Chromium at path for the test; it ends with the test.
func openBrowser(t *testing.T, path string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium's sandbox refuses to run as root, and needs user namespaces that containers
		// often lack; the page is the test's own, on loopback.
		chromedp.NoSandbox,
	)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(cancelBrowser)
	shots := t.TempDir()
	return &browser{
		ctx: ctx,
		do: func(what string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(ctx, actions...); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		},
		poll: func(what, expr string) any {
			t.Helper()
			v, err := chromedp.Run(ctx, chromedp.Poll[any](expr,
				chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			return v
		},
		screenshot: func(name string) string {
			t.Helper()
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatalf("screenshot: %v", err)
			}
			path := filepath.Join(shots, name)
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot of the dashboard: %s (%d bytes)", path, len(png))
			return path
		},
	}
}

// pair returns the two numbers of a JSON array of two.
func pair(v []any) (a, b float64, ok bool) {
	if len(v) != 2 {
		return 0, 0, false
	}
	a, okA := v[0].(float64)
	b, okB := v[1].(float64)
	return a, b, okA && okB && b != 0
}
