package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// e2eTimeout bounds each wait on a real ffmpeg.
const e2eTimeout = 20 * time.Second

// smallVideo sets a channel's video to something every test machine encodes at once.
func smallVideo(ch *profiles.Channel) {
	ch.Video.Size = profiles.Size{Width: 320, Height: 240}
	ch.Video.Bitrate = 300_000
	ch.Video.GOP = profiles.Duration(time.Second)
}

// mp4 makes a one-second H.264 + AAC MP4 file with one keyframe, as a camera recording would
// be, and returns its path.
func mp4(t *testing.T) string {
	t.Helper()
	fftest.Require(t)
	out := filepath.Join(t.TempDir(), "clip.mp4")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", "1", "-c:v", "libx264", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-ac", "2", "-y", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making a test MP4: %v\n%s", err, b)
	}
	return out
}

// realEncoder runs ch with the real ffmpeg; stop stops it and checks that every ffmpeg it
// started is gone.
func realEncoder(t *testing.T, ch profiles.Channel) (*encoder, *recorder, *fftest.Buffer, func()) {
	t.Helper()
	fftest.Require(t)
	c, sink, _, logs, stop := startEncoder(t, "", func(c *encoder) {
		c.Profile = ch
		c.FFmpeg = "ffmpeg"
	})
	return c, sink, logs, stop
}

// waitVideo waits for n video frames from a single ffmpeg run and checks them: every one in
// decoding order, with its SPS and PPS.
func waitVideo(t *testing.T, c *encoder, sink *recorder, logs *fftest.Buffer, n int) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("status %+v\nlog:\n%s", c.Status(), logs)
		}
	}()
	fftest.WaitFor(t, e2eTimeout, fmt.Sprintf("%d video frames", n), func() bool { v, _, _, _ := sink.kinds(); return v >= n })
	if st := c.Status(); st.Starts != 1 || st.State != StateRunning {
		t.Errorf("status %+v, want one ffmpeg run, running", st)
	}
	if _, _, backwards, noParams := sink.kinds(); backwards != 0 || noParams != 0 {
		t.Errorf("%d video frames out of order, %d without SPS/PPS", backwards, noParams)
	}
}

// TestFileSource plays files in a loop, encoded again and passed through: frames keep coming
// after the file's end, from the same ffmpeg.
func TestFileSource(t *testing.T) {
	for _, tc := range []struct {
		name, encoder string
		file          func(*testing.T) string
	}{
		{"ts with libx264", "libx264", func(t *testing.T) string { return fftest.TS(t, "1") }},
		{"mp4 copied", "copy", mp4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := testProfile()
			smallVideo(&ch)
			ch.Source = profiles.Source{Kind: "file", Path: tc.file(t)}
			ch.Video.Encoder = tc.encoder
			if tc.encoder == "copy" {
				ch.Audio.Encoder = "copy"
			}
			c, sink, logs, stop := realEncoder(t, ch)
			defer stop()
			// 25 frames a second, a keyframe each: three keyframes are two ends of the file.
			waitVideo(t, c, sink, logs, 60)
			fftest.WaitFor(t, e2eTimeout, "the third keyframe", func() bool { _, keys, _ := sink.counts(); return keys >= 3 })
			if _, audio, _, _ := sink.kinds(); audio == 0 {
				t.Errorf("no audio frames")
			}
			if st := c.Status(); st.Starts != 1 {
				t.Errorf("ffmpeg started %d times, want once: the file loops in one run", st.Starts)
			}
		})
	}
}

// TestRTSPSource pulls a camera's stream, H.264 and AAC from a publisher in the in-process relay,
// through unchanged.
func TestRTSPSource(t *testing.T) {
	fftest.Require(t)
	published := make(chan struct{}, 1)
	// The relay logs at debug level, shown when the test fails.
	var relayLogs fftest.Buffer
	rl := &relay.Server{
		Address: "127.0.0.1:0",
		Logger:  slog.New(slog.NewTextHandler(&relayLogs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		OnPublish: func(string) {
			select {
			case published <- struct{}{}:
			default:
			}
		},
	}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	defer func() {
		if t.Failed() {
			t.Logf("relay log:\n%s", relayLogs.String())
		}
	}()

	camera := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-re", "-f", "lavfi", "-i", "sine=sample_rate=48000",
		"-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-f", "rtsp", "-rtsp_transport", "tcp", "rtsp://"+rl.Addr()+"/cam.sdp")
	var cameraErr bytes.Buffer
	camera.Stderr = &cameraErr
	if err := camera.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		camera.Process.Kill() //nolint:errcheck
		camera.Wait()         //nolint:errcheck
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", camera.Process.Pid)); err == nil {
			t.Errorf("the camera's ffmpeg %d is still there", camera.Process.Pid)
		}
	}()
	select {
	case <-published:
	case <-time.After(e2eTimeout):
		t.Fatalf("the camera did not publish:\n%s", cameraErr.String())
	}

	ch := testProfile()
	ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://viewer:s3cret@" + rl.Addr() + "/cam.sdp", Timeout: profiles.Duration(5 * time.Second)}
	ch.Video.Encoder, ch.Audio.Encoder = "copy", "copy"
	c, sink, logs, stop := realEncoder(t, ch)
	defer stop()
	waitVideo(t, c, sink, logs, 50)
	if _, audio, _, _ := sink.kinds(); audio == 0 {
		t.Errorf("no audio frames")
	}
	if p := rl.Paths(); len(p) != 1 || p[0].Readers != 1 {
		t.Errorf("relay paths %+v, want cam.sdp with the channel as its reader", p)
	}
}

// TestFFmpegSource runs input arguments written by hand: video only.
func TestFFmpegSource(t *testing.T) {
	ch := testProfile()
	smallVideo(&ch)
	ch.Source = profiles.Source{Kind: "ffmpeg"}
	ch.FFmpeg.InputArgs = []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"}
	c, sink, logs, stop := realEncoder(t, ch)
	defer stop()
	waitVideo(t, c, sink, logs, 30)
	if _, audio, _, _ := sink.kinds(); audio != 0 {
		t.Errorf("%d audio frames from a source without sound", audio)
	}
}

// TestV4L2DeviceMissing checks that a camera that is not there is said before ffmpeg starts,
// named in the cause of every failure, and retried.
func TestV4L2DeviceMissing(t *testing.T) {
	device := filepath.Join(t.TempDir(), "video0")
	ch := testProfile()
	ch.File = "/etc/liveinject/profiles/test.toml"
	ch.Source = profiles.Source{Kind: "v4l2", Device: device}

	problems := (&Checker{}).Check(t.Context(), ch, "ffmpeg")
	want := `channel "test" (/etc/liveinject/profiles/test.toml): v4l2 device ` + device + ` not found: is the camera plugged in?`
	if len(problems) != 1 || problems[0].Error() != want {
		t.Errorf("problems %v, want\n%s", problems, want)
	}

	c, _, logs, stop := realEncoder(t, ch)
	defer stop()
	fftest.WaitFor(t, e2eTimeout, "two failed starts", func() bool {
		st := c.Status()
		return st.Starts >= 2 && st.State == StateBackoff && st.Cause == CauseDeviceNotFound
	})
	if want := "problem=\"v4l2 device " + device + " not found: is the camera plugged in?\""; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %s:\n%s", want, logs)
	}
	if st := c.Status(); !strings.Contains(st.LastCause, device) {
		t.Errorf("last cause %q does not name the device", st.LastCause)
	}
}

func TestCheckPaths(t *testing.T) {
	dir := t.TempDir()
	ch := testProfile()
	ch.File = "cam.toml"
	ch.Source = profiles.Source{Kind: "file", Path: filepath.Join(dir, "clip.mp4")}
	ch.Video.Encoder, ch.Video.VAAPIDevice = "h264_vaapi", filepath.Join(dir, "renderD128")
	// with no ffmpeg to ask, the encoders are not checked
	got := (&Checker{}).Check(t.Context(), ch, filepath.Join(dir, "ffmpeg"))
	want := []string{
		`channel "test" (cam.toml): file ` + dir + `/clip.mp4 not found: its path must name a media file`,
		`channel "test" (cam.toml): VAAPI device ` + dir + `/renderD128 not found: h264_vaapi needs an Intel or AMD GPU with its driver`,
	}
	if s := problemStrings(got); !slices.Equal(s, want) {
		t.Errorf("problems\n%s\nwant\n%s", strings.Join(s, "\n"), strings.Join(want, "\n"))
	}

	for _, f := range []string{"clip.mp4", "renderD128"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := (&Checker{}).Check(t.Context(), ch, filepath.Join(dir, "ffmpeg")); len(got) != 0 {
		t.Errorf("problems %v with everything there", got)
	}
}

// TestCheckEncoders asks a fake ffmpeg built without VAAPI for its encoders: once, however
// many channels are checked.
func TestCheckEncoders(t *testing.T) {
	probes, vaapi := encoderProbeTest(t, "")
	checker := &Checker{}
	vaapi.File = "vaapi.toml"
	nvenc := testProfile()
	nvenc.Video.Encoder = "h264_nvenc"
	for range 3 {
		want := []string{`channel "test" (vaapi.toml): video encoder h264_vaapi is not compiled into ` + os.Args[0] +
			`: choose another video.encoder, or install an ffmpeg built with it (` + "`" + os.Args[0] + " -hide_banner -encoders` lists those it has)"}
		if got := problemStrings(checker.Check(t.Context(), vaapi, os.Args[0])); !slices.Equal(got, want) {
			t.Errorf("problems\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
		// listed, even if this machine has no GPU for it: the cause says so once it runs
		if got := checker.Check(t.Context(), nvenc, os.Args[0]); len(got) != 0 {
			t.Errorf("problems %v, want none", got)
		}
	}
	if got, log := encoderProbes(t, probes); got != 1 {
		t.Errorf("ffmpeg asked for its encoders %d times, want once:\n%s", got, log)
	}
}

// TestCheckEncodersAfterFailure asks a fake ffmpeg for its encoders, which fails the first time
// only: the failure is said, and the next check asks again.
func TestCheckEncodersAfterFailure(t *testing.T) {
	probes, vaapi := encoderProbeTest(t, "fail-once")
	checker := &Checker{}
	got := problemStrings(checker.Check(t.Context(), vaapi, os.Args[0]))
	if want := "cannot list the encoders of " + os.Args[0] + ": exit status 1: Illegal instruction"; len(got) != 1 || !strings.HasSuffix(got[0], want) {
		t.Errorf("first check: %q, want %q", got, want)
	}
	for range 2 {
		got = problemStrings(checker.Check(t.Context(), vaapi, os.Args[0]))
		if len(got) != 1 || !strings.Contains(got[0], "video encoder h264_vaapi is not compiled into") {
			t.Errorf("after the failure: %q, want the encoder missing", got)
		}
	}
	if got, log := encoderProbes(t, probes); got != 2 {
		t.Errorf("ffmpeg asked for its encoders %d times, want twice: after the failure, then never again:\n%s", got, log)
	}
}

// encoderProbeTest makes this test binary a fake ffmpeg built without VAAPI whose answers to
// "-encoders" follow probe ("": at once; "fail-once", "hang"), and logs them at probes. It
// returns that path and a profile that wants h264_vaapi.
func encoderProbeTest(t *testing.T, probe string) (probes string, vaapi profiles.Channel) {
	t.Helper()
	probes = filepath.Join(t.TempDir(), "probes")
	t.Setenv("FAKE_FFMPEG", "hang")
	t.Setenv("FAKE_FFMPEG_PROBE", probe)
	t.Setenv("FAKE_FFMPEG_PROBES", probes)
	vaapi = testProfile()
	vaapi.Video.Encoder, vaapi.Video.VAAPIDevice = "h264_vaapi", "/"
	return probes, vaapi
}

// encoderProbes returns how many times the fake ffmpeg was asked for its encoders, from the log
// of its runs at path, and the log.
func encoderProbes(t *testing.T, path string) (int, []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "-encoders"), b
}

// TestCheckEncodersContext asks an ffmpeg that never answers for its encoders: the check ends with
// its context and says so, and the next check asks again.
func TestCheckEncodersContext(t *testing.T) {
	probes, vaapi := encoderProbeTest(t, "hang")
	checker := &Checker{}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan []*Problem, 1)
	go func() { done <- checker.Check(ctx, vaapi, os.Args[0]) }()
	fftest.WaitFor(t, 10*time.Second, "ffmpeg asked", func() bool { b, _ := os.ReadFile(probes); return len(b) > 0 })
	cancel()
	select {
	case ps := <-done:
		want := "cannot list the encoders of " + os.Args[0] + ": " + os.Args[0] + " -encoders: context canceled"
		if got := problemStrings(ps); len(got) != 1 || !strings.HasSuffix(got[0], want) {
			t.Errorf("check: %q, want %q", got, want)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the check went on after its context ended")
	}

	t.Setenv("FAKE_FFMPEG_PROBE", "")
	if got := problemStrings(checker.Check(t.Context(), vaapi, os.Args[0])); len(got) != 1 ||
		!strings.Contains(got[0], "video encoder h264_vaapi is not compiled into") {
		t.Errorf("the next check: %q, want the encoder missing", got)
	}
}

// TestParseEncoders reads the real ffmpeg's list.
func TestParseEncoders(t *testing.T) {
	fftest.Require(t)
	names, err := probeEncoders(t.Context(), "ffmpeg")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []string{"libx264", "aac", "h264_nvenc", "h264_vaapi", "h264_qsv"} {
		if !names[e] {
			t.Errorf("%s not found among %d encoders", e, len(names))
		}
	}
	for _, junk := range []string{"=", "Video", "------"} {
		if names[junk] {
			t.Errorf("%q taken for an encoder", junk)
		}
	}
}

func problemStrings(ps []*Problem) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Error())
	}
	return out
}

// TestRedactor hides a source's password in ffmpeg's arguments and messages, as written and
// as decoded.
func TestRedactor(t *testing.T) {
	ch := testProfile()
	ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://admin:p%40ss@cam.example/s"}
	redact := Redactor(ch)
	for in, want := range map[string]string{
		"rtsp://admin:p%40ss@cam.example/s":                   "rtsp://admin:xxxxx@cam.example/s",
		"[rtsp @ 0x1] rtsp://admin:p@ss@cam.example/s: 401":   "[rtsp @ 0x1] rtsp://admin:xxxxx@cam.example/s: 401",
		"testsrc2=size=1280x720:rate=25":                      "testsrc2=size=1280x720:rate=25",
		"Connection to tcp://cam.example:554 failed: refused": "Connection to tcp://cam.example:554 failed: refused",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}

	ch.Source = profiles.Source{Kind: "ffmpeg"}
	ch.FFmpeg.InputArgs = []string{"-rtsp_transport", "udp", "-i", "rtsp://u:hidden@cam/x"}
	if got := Redactor(ch)("-i rtsp://u:hidden@cam/x"); got != "-i rtsp://u:xxxxx@cam/x" {
		t.Errorf("input_args' password not hidden: %q", got)
	}
	ch.FFmpeg.InputArgs = nil
	if got := Redactor(ch)("rtsp://u:hidden@cam/x"); got != "rtsp://u:hidden@cam/x" {
		t.Errorf("changed a text with no password of the channel: %q", got)
	}
}

// TestEncoderHidesSourcePassword runs a fake ffmpeg that repeats its arguments in its error,
// as ffmpeg repeats a camera's URL: neither the log nor the status shows the password.
func TestEncoderHidesSourcePassword(t *testing.T) {
	var debug fftest.Buffer
	c, _, pids, _, stop := startEncoder(t, "echo", func(c *encoder) {
		c.Profile.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://admin:s3cret@cam.example/s", Timeout: profiles.Duration(time.Second)}
		c.Logger = slog.New(slog.NewTextHandler(&debug, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, e2eTimeout, "the cause in the status", func() bool { return c.Status().LastCause != "" })
	stop()
	st := c.Status()
	shown := st.LastCause + "\n" + strings.Join(st.LastStderr, "\n") + "\n" + debug.String()
	if strings.Contains(shown, "s3cret") || !strings.Contains(st.LastCause, "rtsp://admin:xxxxx@cam.example/s: Connection refused") {
		t.Errorf("the password shows, or the URL does not:\n%s", shown)
	}
}
