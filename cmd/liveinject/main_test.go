package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// The HTTP endpoint's default address is fixed: every test config sets its own, so that test
// binaries running in parallel never collide.
const (
	httpAnyPort = "[http]\nlisten = \"127.0.0.1:0\"\n"
	relayAny    = "[relay]\nlisten = \"127.0.0.1:0\"\n"
)

// writeConfig writes a main config with the given body and one channel "test" pushing a
// 1280x720 25 fps test pattern with 48 kHz stereo AAC to dests, and returns the config's path.
func writeConfig(t *testing.T, main string, dests ...string) string {
	t.Helper()
	profile := fmt.Sprintf(`[source]
kind = "testsrc"
[video]
size = "1280x720"
fps = 25
gop = "1s"
[audio]
sample_rate = 48000
channels = 2
`)
	for _, d := range dests {
		profile += fmt.Sprintf("[[destination]]\nurl = %q\n", d)
	}
	return writeProfileConfig(t, main, profile)
}

// writeProfileConfig writes a main config with the given body and one channel "test" with the
// given profile, and returns the config's path.
func writeProfileConfig(t *testing.T, main, profile string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "profiles", "test.toml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "liveinject.toml")
	if err := os.WriteFile(path, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// running is an in-process `liveinject run`.
type running struct {
	inst   *instance
	stderr *fftest.Buffer
	cancel context.CancelFunc
	code   chan int
}

// startRun runs `run -c config` in-process; configure, if not nil, sets up the Main first.
func startRun(t *testing.T, config string, configure ...func(*Main)) *running {
	t.Helper()
	return startRunArgs(t, []string{"run", "-c", config}, configure...)
}

// startRunArgs runs the command line args in-process, as startRun does.
func startRunArgs(t *testing.T, args []string, configure ...func(*Main)) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stderr: &fftest.Buffer{}, cancel: cancel, code: make(chan int, 1)}
	ready := make(chan *instance, 1)
	m := &Main{Stdout: &fftest.Buffer{}, Stderr: r.stderr, onReady: func(i *instance) { ready <- i }}
	for _, c := range configure {
		c(m)
	}
	go func() { r.code <- m.Run(ctx, args) }()
	select {
	case r.inst = <-ready:
	case code := <-r.code:
		cancel()
		t.Fatalf("run exited with %d:\n%s", code, r.stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("run did not get ready")
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels run as SIGINT would and checks that it exits 0 promptly.
func (r *running) stop(t *testing.T) {
	t.Helper()
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case code := <-r.code:
		if code != 0 {
			t.Errorf("run exited with %d:\n%s", code, r.stderr)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("run did not exit within 5 s of the stop:\n%s", r.stderr)
	}
}

// probe waits until ffprobe finds two streams at url.
func probe(t *testing.T, url string) []fftest.Stream {
	t.Helper()
	var streams []fftest.Stream
	var err error
	fftest.WaitFor(t, 30*time.Second, "ffprobe of "+url, func() bool {
		streams, err = fftest.Probe(url, "-rtsp_transport", "tcp")
		return err == nil && len(streams) == 2
	})
	return streams
}

// testPattern is what ffprobe must find of the test channel.
var testPattern = fftest.AV{Width: 1280, Height: 720, SampleRate: 48000, Channels: 2}

func TestRunPushesTestPatternToBuiltinRelay(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp")
	r := startRun(t, config)
	url := "rtsp://" + r.inst.relayAddr + "/test.sdp"
	fftest.CheckAV(t, probe(t, url), testPattern)

	// A player decodes three seconds without a single error.
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error",
		"-rtsp_transport", "tcp", "-i", url, "-t", "3", "-f", "null", "-").CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("decoding %s: %v\n%s", url, err, out)
	}
	r.stop(t)
	if log := r.stderr.String(); !strings.Contains(log, "msg=unpublish component=relay path=test.sdp") ||
		!strings.Contains(log, "teardown=true") {
		t.Errorf("the relay logged no unpublish by TEARDOWN:\n%s", log)
	}
}

func TestRunPushesToFFmpegReceiver(t *testing.T) {
	url, wait := fftest.Receiver(t)
	config := writeConfig(t, httpAnyPort, url)
	r := startRun(t, config)
	fftest.WaitFor(t, 30*time.Second, "recording", func() bool {
		d := r.inst.sup.Destinations("test")
		return len(d) == 1 && d[0].PacketsSent > 200
	})
	r.stop(t) // TEARDOWN ends the receiver
	streams, err := fftest.Probe(wait())
	if err != nil {
		t.Fatal(err)
	}
	fftest.CheckAV(t, streams, testPattern)
}

// ffmpegChildren returns the PIDs of the ffmpeg processes whose parent is pid.
func ffmpegChildren(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(stat)
		end := strings.LastIndexByte(s, ')')
		if end < 0 || !strings.Contains(s[:end], "(ffmpeg") {
			continue
		}
		f := strings.Fields(s[end+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// TestBinaryStops runs the real binary against an in-process relay and stops it with signals:
// one SIGINT or SIGTERM stops it cleanly (exit 0, TEARDOWN, ffmpeg reaped); a second signal
// during the stop exits at once, and the kernel still ends ffmpeg (Pdeathsig). On the way it
// checks the GOMAXPROCS and GOGC in force: one P and a GOGC over 100 for a channel's load (its
// live heap is under the GC floor), or what the environment sets.
func TestBinaryStops(t *testing.T) {
	fftest.Require(t)
	bin := buildBinary(t)
	for _, tc := range []struct {
		name    string
		signals []os.Signal
		clean   bool
		env     []string // GOMAXPROCS=, GOGC=
		procs   string   // the GOMAXPROCS in force
		gogc    string   // the GOGC in force, "" for over 100
	}{
		{"SIGINT", []os.Signal{syscall.SIGINT}, true, nil, "1", ""},
		{"SIGTERM", []os.Signal{syscall.SIGTERM}, true, []string{"GOMAXPROCS=3", "GOGC=150"}, "3", "150"},
		{"SIGTERM twice", []os.Signal{syscall.SIGTERM, syscall.SIGTERM}, false, nil, "1", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			published := make(chan string, 10)
			unpublished := make(chan bool, 10)
			rl := &relay.Server{
				Address:     "127.0.0.1:0",
				OnPublish:   func(path string) { published <- path },
				OnUnpublish: func(_ string, teardown bool) { unpublished <- teardown },
			}
			if err := rl.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer rl.Close()

			config := writeConfig(t, httpAnyPort, "rtsp://"+rl.Addr()+"/test.sdp")
			var stderr fftest.Buffer
			cmd := exec.Command(bin, "run", "-c", config)
			cmd.Stderr = &stderr
			cmd.Env = append(os.Environ(), tc.env...)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer cmd.Process.Kill() //nolint:errcheck
			select {
			case <-published:
			case <-time.After(30 * time.Second):
				t.Fatalf("nothing published:\n%s", stderr.String())
			}
			metrics := runtimeMetrics(t, &stderr)
			if procs := metrics["go_sched_gomaxprocs_threads"]; procs != tc.procs {
				t.Errorf("GOMAXPROCS %s with %q in the environment, want %s", procs, tc.env, tc.procs)
			}
			gogc, _ := strconv.Atoi(metrics["go_gc_gogc_percent"])
			if tc.gogc == "" && gogc <= 100 || tc.gogc != "" && strconv.Itoa(gogc) != tc.gogc {
				t.Errorf("GOGC %d with %q in the environment, want %s", gogc, tc.env, cmp.Or(tc.gogc, "over 100"))
			}
			// Beside the channel's ffmpeg, a short one encodes the channel's AAC silence once its
			// audio config is known (made ahead of a hold or a switch): it ends within a second.
			var children []int
			fftest.WaitFor(t, 10*time.Second, "one ffmpeg child", func() bool {
				children = ffmpegChildren(cmd.Process.Pid)
				return len(children) == 1
			})
			if len(children) != 1 {
				t.Fatalf("ffmpeg children %v, want one", children)
			}

			for i, sig := range tc.signals {
				if i > 0 {
					// Signals sent together would merge into one: the second comes once the
					// stop has begun.
					stderr.WaitFor(t, "msg=\"stopping:")
				}
				if err := cmd.Process.Signal(sig); err != nil {
					t.Fatal(err)
				}
			}
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			var err error
			select {
			case err = <-exited:
			case <-time.After(5 * time.Second):
				t.Fatalf("still running 5 s after %v:\n%s", tc.signals, stderr.String())
			}
			if tc.clean {
				if err != nil {
					t.Fatalf("exit after %v: %v\n%s", tc.signals, err, stderr.String())
				}
				select {
				case teardown := <-unpublished:
					if !teardown {
						t.Errorf("the publisher went away without TEARDOWN")
					}
				case <-time.After(5 * time.Second):
					t.Errorf("the relay saw no end of the publish")
				}
			} else {
				var ee *exec.ExitError
				if !errors.As(err, &ee) || ee.ExitCode() != exitFail ||
					!strings.Contains(stderr.String(), "second signal: exiting at once") {
					t.Errorf("exit %v, want status %d saying why:\n%s", err, exitFail, stderr.String())
				}
			}
			for _, pid := range children {
				fftest.WaitFor(t, 5*time.Second, fmt.Sprintf("ffmpeg %d gone", pid), func() bool { return gone(pid) })
			}
		})
	}
}

// buildBinary builds liveinject into the test's temporary directory and returns its path.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "liveinject")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runtimeMetrics returns go_sched_gomaxprocs_threads and go_gc_gogc_percent from a running
// binary's /metrics, found at the address its log gives.
func runtimeMetrics(t *testing.T, stderr *fftest.Buffer) map[string]string {
	t.Helper()
	stderr.WaitFor(t, `msg="http listening"`)
	m := regexp.MustCompile(`msg="http listening" .*address=(\S+)`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no HTTP address in the log:\n%s", stderr.String())
	}
	res, err := http.Get("http://" + m[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, name := range []string{"go_sched_gomaxprocs_threads", "go_gc_gogc_percent"} {
		v := regexp.MustCompile(`(?m)^` + name + ` (\d+)$`).FindSubmatch(body)
		if v == nil {
			t.Fatalf("no %s in /metrics:\n%s", name, body)
		}
		out[name] = string(v[1])
	}
	return out
}

// gone reports whether a process has ended: no longer in /proc, or a zombie waiting for a
// reaper (a container's init may not reap).
func gone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	end := strings.LastIndexByte(s, ')')
	return end >= 0 && strings.HasPrefix(s[end+1:], " Z")
}

func TestBadInput(t *testing.T) {
	good := httpAnyPort + relayAny
	for _, tc := range []struct {
		name, main string
		cmds       []string
		code       int
		want       []string
	}{
		{
			name: "ffmpeg missing",
			main: "ffmpeg = \"/nonexistent/ffmpeg\"\n" + good,
			cmds: []string{"run"},
			code: exitFail,
			want: []string{`ffmpeg not found ("/nonexistent/ffmpeg")`, "apt-get install ffmpeg"},
		},
		{
			name: "TOML syntax error",
			main: good + "udp_rtp_address = \n",
			cmds: []string{"run", "check"},
			code: exitConfig,
			want: []string{"liveinject.toml:5:"},
		},
		{
			name: "password file missing",
			main: relayAny + "[http]\nlisten = \"127.0.0.1:0\"\nuser = \"ops\"\npassword_file = \"nonexistent\"\n",
			cmds: []string{"run"},
			code: exitConfig,
			want: []string{"http.password_file:", "nonexistent: no such file"},
		},
		{
			name: "unknown log format flag",
			main: good,
			cmds: []string{"run -log-format yaml"},
			code: exitConfig,
			want: []string{`invalid value "yaml" for flag -log-format: not one of text, json`},
		},
		{
			name: "unknown log level flag",
			main: good,
			cmds: []string{"run -log-level loud"},
			code: exitConfig,
			want: []string{`invalid value "loud" for flag -log-level: not one of debug, info, warn, error`},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := writeConfig(t, tc.main, "rtsp://{relay}/test.sdp")
			for _, c := range tc.cmds {
				var stdout, stderr fftest.Buffer
				args := append(strings.Fields(c), "-c", config)
				code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), args)
				if code != tc.code {
					t.Errorf("%s: exit %d, want %d\n%s", c, code, tc.code, stderr.String())
				}
				for _, w := range tc.want {
					if !strings.Contains(stderr.String(), w) {
						t.Errorf("%s: stderr lacks %q:\n%s", c, w, stderr.String())
					}
				}
			}
		})
	}
}

func TestCheckShowsChannels(t *testing.T) {
	config := writeConfig(t, "[relay]\nlisten = \"127.0.0.1:7554\"\n"+httpAnyPort, "rtsp://user:secret@127.0.0.1:7554/{channel}.sdp")
	out := checkOK(t, config)
	for _, want := range []string{
		"channel test (",
		"ffmpeg -hide_banner -nostdin",
		"testsrc2=size=1280x720:rate=25",
		"-> rtsp://user:xxxxx@127.0.0.1:7554/test.sdp (tcp)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	// the only warning: the password written into the profile
	if n := strings.Count(out, "warning:"); n != 1 ||
		!strings.Contains(out, "test.toml:11: destination.url: password is readable by anyone") {
		t.Errorf("check output has %d warnings, want one about the password in the URL:\n%s", n, out)
	}
	if strings.Contains(out, "secret") {
		t.Errorf("check shows the password:\n%s", out)
	}
}

func TestCheckWarnsAboutPathsDSSRefuses(t *testing.T) {
	config := writeConfig(t, httpAnyPort, "rtsp://127.0.0.1:8554/live/test?x=1.sdp")
	var stdout, stderr fftest.Buffer
	if code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"check", "-c", config}); code != 0 {
		t.Fatalf("check exited %d (a warning must not fail it):\n%s", code, stderr.String())
	}
	if want := "warning: the path does not end in .sdp"; !strings.Contains(stdout.String(), want) {
		t.Errorf("check output lacks %q:\n%s", want, stdout.String())
	}
}

func TestExamplesCheck(t *testing.T) {
	configs, err := filepath.Glob("../../examples/*/liveinject.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, config := range append([]string{"../../examples/liveinject.toml"}, configs...) {
		var stdout, stderr fftest.Buffer
		if code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"check", "-c", config}); code != 0 {
			t.Errorf("%s: check exited %d:\n%s", config, code, stderr.String())
		}
	}
}

func TestVersion(t *testing.T) {
	fftest.Require(t)
	var stdout, stderr fftest.Buffer
	if code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"version"}); code != exitOK {
		t.Fatalf("version exited %d:\n%s", code, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "liveinject (devel) go1.") || !strings.HasPrefix(lines[1], "ffmpeg version ") {
		t.Errorf("version printed\n%s\nwant liveinject's version and ffmpeg's", stdout.String())
	}
}

// TestShellQuote pastes check's rendering of an argv into a real shell and compares what the
// shell passes on with the argv.
func TestShellQuote(t *testing.T) {
	argv := []string{"printf", `%s\n`, "plain", "a b", "it's", `$HOME`, "x;y", "`id`", `back\slash`,
		"lavfi=testsrc2=size=1280x720:rate=25", `"q"`, "", "*", "~"}
	out, err := exec.Command("sh", "-c", shellQuote(argv)).Output()
	if err != nil {
		t.Fatalf("sh -c %s: %v", shellQuote(argv), err)
	}
	if got, want := string(out), strings.Join(argv[2:], "\n")+"\n"; got != want {
		t.Errorf("the shell got\n%q\nwant\n%q", got, want)
	}
}

// TestRunReloadsProfiles edits the profile of a streaming channel: a new destination gets the
// stream while ffmpeg and the first destination's session go on; a broken edit keeps the channel
// streaming as it was and says file:line; SIGHUP reloads.
func TestRunReloadsProfiles(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp")
	profile := filepath.Join(filepath.Dir(config), "profiles", "test.toml")
	applied := make(chan profiles.Changes, 10)
	hup := make(chan os.Signal, 1)
	r := startRun(t, config, func(m *Main) {
		m.onApplied = func(c profiles.Changes) { applied <- c }
		m.Reload = hup
	})
	relayURL := func(path string) string { return "rtsp://" + r.inst.relayAddr + "/" + path }
	fftest.CheckAV(t, probe(t, relayURL("test.sdp")), testPattern)
	// nextChanges waits for the next reload that changes something (one that only reports a
	// broken file changes nothing)
	nextChanges := func(what string) profiles.Changes {
		t.Helper()
		for {
			select {
			case c := <-applied:
				if !c.Empty() {
					return c
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s: not applied:\n%s", what, r.stderr)
				return profiles.Changes{}
			}
		}
	}

	src, err := os.ReadFile(profile)
	if err != nil {
		t.Fatal(err)
	}
	// Saved the way editors do: a new file renamed over the old one.
	save := func(content string) {
		t.Helper()
		tmp := profile + ".tmp"
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, profile); err != nil {
			t.Fatal(err)
		}
	}
	save(string(src) + "[[destination]]\nurl = \"rtsp://{relay}/second.sdp\"\n")
	if c := nextChanges("adding a destination"); len(c.Retarget) != 1 || len(c.Restart)+len(c.Added)+len(c.Removed) != 0 {
		t.Fatalf("changes %+v, want test retargeted only", c)
	}
	fftest.CheckAV(t, probe(t, relayURL("second.sdp")), testPattern)
	if d := r.inst.sup.Destinations("test"); len(d) != 2 || d[0].Reconnects != 0 {
		t.Errorf("destinations %+v, want the first one never reconnected and a second one", d)
	}

	// A broken edit: the channel keeps both destinations and streams on.
	save(string(src) + "[[destination]]\nurl = \"rtsp://{relay}/second.sdp\"\nbogus = 1\n")
	r.stderr.WaitFor(t, `test.toml line=14 error="unknown key \"destination.bogus\""`)
	sent := r.inst.sup.Destinations("test")[1].PacketsSent
	fftest.WaitFor(t, 10*time.Second, "streaming on after a broken edit", func() bool {
		d := r.inst.sup.Destinations("test")
		return len(d) == 2 && d[1].PacketsSent > sent+100
	})

	// The fix, which also drops the second destination, applies; a SIGHUP on top reloads too.
	save(string(src))
	hup <- syscall.SIGHUP
	if c := nextChanges("removing the destination"); len(c.Retarget) != 1 {
		t.Fatalf("changes %+v, want test retargeted", c)
	}
	r.stderr.WaitFor(t, "reload requested")
	if n := strings.Count(r.stderr.String(), `msg="ffmpeg started"`); n != 1 {
		t.Errorf("ffmpeg started %d times, want once: reloads that change destinations leave it alone", n)
	}
	r.stop(t)
}

// TestRunStartsDespiteABadProfile boots with one bad profile among three: the two good channels
// stream, the bad one is reported with file:line in /status, /metrics and /healthz, and fixing
// it adds its channel.
func TestRunStartsDespiteABadProfile(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/{channel}.sdp")
	dir := filepath.Join(filepath.Dir(config), "profiles")
	good, err := os.ReadFile(filepath.Join(dir, "test.toml"))
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.toml")
	for file, content := range map[string]string{
		"second.toml": string(good),
		"bad.toml":    "[source]\nkind = \"testsrc\"\n[video]\nbitrat = \"1M\"\n[[destination]]\nurl = \"rtsp://{relay}/bad.sdp\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	r := startRun(t, config)
	s := waitSent(t, r, 0)
	want := bad + `:4: unknown key "video.bitrat" (did you mean "bitrate"?)`
	if len(s.Channels) != 2 || s.Channels[0].Name != "second" || s.Channels[1].Name != "test" ||
		!slices.Equal(s.ProfileErrors, []string{want}) {
		t.Fatalf("channels %+v, profile errors %q; want second and test, and %q", s.Channels, s.ProfileErrors, want)
	}
	if code, body := get(t, "http://"+r.inst.httpAddr+"/healthz"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "profile error: "+want) {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if _, body := get(t, "http://"+r.inst.httpAddr+"/metrics"); !strings.Contains(body, "liveinject_profile_errors 1\n") {
		t.Errorf("/metrics lacks the profile error")
	}
	if !strings.Contains(r.stderr.String(), `msg="profile not loaded" file=`+bad+` line=4`) {
		t.Errorf("the bad profile is not logged:\n%s", r.stderr)
	}

	if err := os.WriteFile(bad, good, 0o644); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 30*time.Second, "the fixed channel streaming", func() bool {
		s := getStatusReport(t, r)
		return len(s.Channels) == 3 && len(s.ProfileErrors) == 0 && len(s.Channels[0].Destinations) == 1 &&
			s.Channels[0].Destinations[0].PacketsSent > 0
	})
}

// TestRunStartsDespiteADeepProfile boots with a profile of 30,000 nested arrays beside a good
// one, the file that crashed the process at every start (a stack overflow while finding its
// lines): the good channel streams and the deep one is a profile error at its line.
func TestRunStartsDespiteADeepProfile(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/{channel}.sdp")
	deep := filepath.Join(filepath.Dir(config), "profiles", "deep.toml")
	if err := os.WriteFile(deep, []byte("a = "+strings.Repeat("[", 30_000)+strings.Repeat("]", 30_000)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)
	s := waitSent(t, r, 0)
	want := deep + ":1: nested more than 32 levels deep (arrays, inline tables, dotted keys): no profile needs that"
	if len(s.Channels) != 1 || s.Channels[0].Name != "test" || !slices.Equal(s.ProfileErrors, []string{want}) {
		t.Errorf("channels %+v, profile errors %q; want test, and %q", s.Channels, s.ProfileErrors, want)
	}
}

// TestRelayRefusesOtherPublishers pushes a channel into the built-in relay, then has another
// program publish to the same path without the relay's credentials: it is refused, and the
// channel keeps its path.
func TestRelayRefusesOtherPublishers(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	waitSent(t, r, 0)
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", fftest.TS(t, "1"),
		"-c:v", "copy", "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp",
		"rtsp://"+r.inst.relayAddr+"/test.sdp").CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") {
		t.Errorf("anonymous publisher: %v, %s; want it refused with 401", err, out)
	}
	before := r.inst.sup.Destinations("test")[0]
	s := waitSent(t, r, before.PacketsSent)
	if d := s.Channels[0].Destinations[0]; d.Reconnects != 0 || d.State != "recording" {
		t.Errorf("the channel's destination %+v, want it recording on, never replaced", d)
	}
}

// TestRunEditsCannotStopAnotherChannel makes, on a running box, the two edits that used to stop
// the wrong channel: a.toml takes b's name, and a copy of b's profile pushes b's stream. Each is
// refused at the edited file's line, naming the other file, and both channels stream on with the
// same ffmpeg.
func TestRunEditsCannotStopAnotherChannel(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/{channel}.sdp")
	dir := filepath.Join(filepath.Dir(config), "profiles")
	src, err := os.ReadFile(filepath.Join(dir, "test.toml"))
	if err != nil {
		t.Fatal(err)
	}
	b := strings.ReplaceAll(string(src), "{channel}", "b") // b's own stream, not {channel}'s
	for file, content := range map[string]string{"a.toml": string(src), "b.toml": b} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(dir, "test.toml")); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)
	s := waitSent(t, r, 0)
	pids := map[string]int{}
	for _, c := range s.Channels {
		pids[c.Name] = c.FFmpegPID
	}
	if len(pids) != 2 || pids["a"] == 0 || pids["b"] == 0 {
		t.Fatalf("channels %+v, want a and b", s.Channels)
	}

	for _, edit := range []struct{ file, content, want string }{
		{"a.toml", "name = \"b\"\n" + string(src),
			filepath.Join(dir, "a.toml") + `:1: channel name "b" is taken by ` + filepath.Join(dir, "b.toml")},
		{"b2.toml", b, filepath.Join(dir, "b2.toml") + `:11: destination.url: rtsp://{relay}/b.sdp is pushed by ` +
			filepath.Join(dir, "b.toml") + ` too: two pushes of one stream replace each other at the server`},
	} {
		if err := os.WriteFile(filepath.Join(dir, edit.file), []byte(edit.content), 0o644); err != nil {
			t.Fatal(err)
		}
		var errs []string
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("profile errors: %q", errs)
			}
		})
		fftest.WaitFor(t, 20*time.Second, "the edit refused", func() bool {
			errs = getStatusReport(t, r).ProfileErrors
			return slices.Contains(errs, edit.want)
		})
		s := waitSent(t, r, 0)
		for _, c := range s.Channels {
			if c.FFmpegPID != pids[c.Name] || c.FFmpegStarts != 1 || c.Destinations[0].Reconnects != 0 {
				t.Errorf("after %s: channel %+v, want it untouched", edit.file, c)
			}
		}
		if len(s.Channels) != 2 {
			t.Errorf("after %s: channels %+v, want a and b", edit.file, s.Channels)
		}
	}
}

// TestRunCPUProfile: run -cpuprofile FILE writes a CPU profile (gzipped, as go tool pprof reads
// it) once run has stopped; a file it cannot create stops it before anything starts.
func TestRunCPUProfile(t *testing.T) {
	fftest.Require(t)
	path := filepath.Join(t.TempDir(), "cpu.pprof")
	config := writeConfig(t, relayAny, "rtsp://{relay}/test.sdp")
	r := startRunArgs(t, []string{"run", "-c", config, "-cpuprofile", path})
	r.stop(t)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatalf("the profile is not gzipped protobuf, as pprof writes it: %v", err)
	}
	if n, err := io.Copy(io.Discard, zr); err != nil || n == 0 {
		t.Fatalf("the profile: %d bytes, %v", n, err)
	}

	var stderr fftest.Buffer
	m := &Main{Stdout: &fftest.Buffer{}, Stderr: &stderr}
	bad := filepath.Join(t.TempDir(), "missing", "cpu.pprof")
	if code := m.Run(t.Context(), []string{"run", "-c", config, "-cpuprofile", bad}); code != exitFail ||
		!strings.Contains(stderr.String(), "CPU profile:") {
		t.Errorf("run -cpuprofile into a missing directory: exit %d, want %d saying why:\n%s", code, exitFail, stderr.String())
	}
}
