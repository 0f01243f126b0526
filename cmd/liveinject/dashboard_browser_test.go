package main

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

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

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.WindowSize(1280, 1000),
		chromedp.UserDataDir(t.TempDir()),
		// Chromium's sandbox refuses to run as root, and needs user namespaces that containers
		// often lack; the page is the test's own, on loopback.
		chromedp.NoSandbox,
	)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	ctx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	ctx, cancelBrowser := chromedp.NewContext(ctx, chromedp.WithErrorf(t.Logf))
	defer cancelBrowser()
	shots := t.TempDir()

	const card = `article[data-channel="test"]`
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// poll waits until the expression is truthy and returns its value.
	poll := func(what, expr string) any {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Poll[any](expr,
			chromedp.WithPollingTimeout(30*time.Second), chromedp.WithPollingInterval(100*time.Millisecond)))
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		return v
	}
	screenshot := func(name string) string {
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
	}

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
	poll("the destination light green", `(() => {
		const l = document.querySelector('`+card+` .dest .light');
		return l && l.dataset.colour === "green";
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

// pair returns the two numbers of a JSON array of two.
func pair(v []any) (a, b float64, ok bool) {
	if len(v) != 2 {
		return 0, 0, false
	}
	a, okA := v[0].(float64)
	b, okB := v[1].(float64)
	return a, b, okA && okB && b != 0
}
