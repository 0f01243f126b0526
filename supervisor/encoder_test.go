package supervisor

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
)

// The test binary doubles as a fake ffmpeg (os/exec's TestHelperProcess pattern): with
// FAKE_FFMPEG set it behaves as that mode says instead of running tests. With LIVEINJECT_RELAY=1
// it is a relay for the benchmarks (relayChild).
func TestMain(m *testing.M) {
	if mode := os.Getenv("FAKE_FFMPEG"); mode != "" {
		os.Exit(fakeFFmpeg(mode))
	}
	if os.Getenv("LIVEINJECT_RELAY") == "1" {
		os.Exit(relayChild())
	}
	goleak.VerifyTestMain(m)
}

func fakeFFmpeg(mode string) int {
	if slices.Contains(os.Args[1:], "-encoders") {
		// An ffmpeg built without VAAPI, whatever the mode, counting how often it is asked.
		if f, err := os.OpenFile(os.Getenv("FAKE_FFMPEG_PROBES"), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintln(f, strings.Join(os.Args[1:], " "))
			f.Close()
		}
		switch os.Getenv("FAKE_FFMPEG_PROBE") {
		case "fail-once": // the first time only
			if b, _ := os.ReadFile(os.Getenv("FAKE_FFMPEG_PROBES")); strings.Count(string(b), "\n") == 1 {
				fmt.Fprintln(os.Stderr, "Illegal instruction")
				return 1
			}
		case "hang":
			select {}
		}
		fmt.Print("Encoders:\n V..... = Video\n A..... = Audio\n ------\n" +
			" V....D libx264              libx264 H.264 / AVC / MPEG-4 AVC / MPEG-4 part 10 (codec h264)\n" +
			" V....D h264_nvenc           NVIDIA NVENC H.264 encoder (codec h264)\n" +
			" A..... aac                  AAC (Advanced Audio Coding)\n")
		return 0
	}
	switch mode {
	case "inputs": // an input the test controls (see fakeInput)
		return fakeInput()
	case "ts": // a short stream, then a clean exit
		f, err := os.Open(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		io.Copy(os.Stdout, f) //nolint:errcheck
		return 0
	case "hang-after-ts": // the stream once, then nothing, until SIGINT
		signal.Ignore(syscall.SIGPIPE)
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		f, err := os.Open(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		io.Copy(os.Stdout, f) //nolint:errcheck
		<-c
		return 255
	case "fail": // a device that cannot be opened
		fmt.Fprint(os.Stderr, "[video4linux2 @ 0x1] Cannot open video device /dev/video0: Device or resource busy\r\n")
		return 3
	case "hang": // writes nothing, but stops on SIGINT like ffmpeg
		signal.Ignore(syscall.SIGPIPE)
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		<-c
		return 255
	case "stubborn": // writes nothing and ignores SIGINT
		signal.Ignore(os.Interrupt)
		select {}
	case "nulls": // the stream once, then MPEG-TS without frames: null packets, forever
		f, err := os.Open(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		io.Copy(os.Stdout, f) //nolint:errcheck
		null := make([]byte, 188*100)
		for i := 0; i < len(null); i += 188 {
			copy(null[i:], []byte{0x47, 0x1f, 0xff, 0x10})
		}
		for {
			if _, err := os.Stdout.Write(null); err != nil {
				return 1
			}
		}
	case "closed": // closes its output and stays, until SIGINT
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		os.Stdout.Close()
		<-c
		return 255
	case "flood": // the stream, with a flood of warnings on stderr
		f, err := os.Open(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		go func() {
			for i := 0; ; i++ {
				fmt.Fprintf(os.Stderr, "[h264 @ 0x1] warning %d: non-existing PPS 0 referenced\r", i)
			}
		}()
		io.Copy(os.Stdout, f) //nolint:errcheck
		return 0
	case "no-audio-data": // the stream without its audio packets, over and over at 235 kB/s
		b, err := os.ReadFile(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		var ts []byte
		for i := 0; i+188 <= len(b); i += 188 {
			if pid := int(b[i+1]&0x1f)<<8 | int(b[i+2]); pid != 0x101 { // ffmpeg's second stream
				ts = append(ts, b[i:i+188]...)
			}
		}
		tick := time.NewTicker(20 * time.Millisecond)
		for i := 0; ; i = (i + 25*188) % len(ts) {
			<-tick.C
			if _, err := os.Stdout.Write(ts[i:min(i+25*188, len(ts))]); err != nil {
				return 1
			}
		}
	case "over-and-over": // the stream, over and over; like ffmpeg, it sees SIGINT only between two writes
		c := make(chan os.Signal, 1)
		signal.Notify(c, os.Interrupt)
		b, err := os.ReadFile(os.Getenv("FAKE_FFMPEG_TS"))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for {
			select {
			case <-c:
				return 255
			default:
			}
			if _, err := os.Stdout.Write(b); err != nil {
				return 1
			}
		}
	case "orphan": // leaves a process in its group ("pong"), says its PID and address, and exits
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "FAKE_FFMPEG=pong")
		out, err := cmd.StdoutPipe()
		if err == nil {
			err = cmd.Start()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		addr, _ := bufio.NewReader(out).ReadString('\n')
		fmt.Printf("%d %s", cmd.Process.Pid, addr)
		return 0
	case "pong": // answers each line on 127.0.0.1 with "pong", until killed
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 1
		}
		fmt.Println(l.Addr())
		os.Stdout.Close()
		for {
			c, err := l.Accept()
			if err != nil {
				return 1
			}
			go func() {
				defer c.Close()
				for sc := bufio.NewScanner(c); sc.Scan(); {
					fmt.Fprintln(c, "pong")
				}
			}()
		}
	case "echo": // repeats its input's URL in its error, as ffmpeg does
		input := os.Args[slices.Index(os.Args, "-i")+1]
		fmt.Fprintf(os.Stderr, "%s: Connection refused\n", input)
		return 1
	}
	return 2
}

// recorder is a Sink that keeps what it is given.
type recorder struct {
	mu             sync.Mutex
	frames         int
	keys           int
	discontinuites int
	video, audio   int
	// lastDTS is the last video frame's; backwards counts the video frames whose DTS is not
	// after it within one ffmpeg run; noParams those without SPS and PPS.
	lastDTS   int64
	haveDTS   bool // lastDTS is of this run
	backwards int
	noParams  int
}

func (r *recorder) WriteFrame(f *demux.Frame) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.frames++
	if f.Key {
		r.keys++
	}
	if f.Kind == demux.Audio {
		r.audio++
		return nil
	}
	if r.haveDTS && f.DTS <= r.lastDTS {
		r.backwards++
	}
	if f.Params == nil || len(f.Params.SPS) == 0 || len(f.Params.PPS) == 0 {
		r.noParams++
	}
	r.video++
	r.lastDTS, r.haveDTS = f.DTS, true
	return nil
}

// kinds returns the video and audio frames received, and the video frames that went back in
// time or came without parameter sets.
func (r *recorder) kinds() (video, audio, backwards, noParams int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.video, r.audio, r.backwards, r.noParams
}

func (r *recorder) Discontinuity() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.discontinuites++
	r.haveDTS = false // a new run starts its own timestamps
}

func (r *recorder) counts() (frames, keys, discontinuities int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames, r.keys, r.discontinuites
}

func testProfile() profiles.Channel {
	return profiles.Channel{
		Name:   "test",
		Source: profiles.Source{Kind: "testsrc"},
		Video: profiles.Video{Encoder: "libx264", Preset: "veryfast", Profile: "high", Bitrate: 2_500_000, GOP: profiles.Duration(2 * time.Second),
			Size: profiles.Size{Width: 1280, Height: 720}, FPS: 25},
		Audio: profiles.Audio{Encoder: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
	}
}

// pidTracker records the fake ffmpeg children an encoder starts.
type pidTracker struct {
	mu   sync.Mutex
	pids []int
	c    chan int
}

func newPIDTracker() *pidTracker { return &pidTracker{c: make(chan int, 100)} }

func (p *pidTracker) add(pid int) {
	p.mu.Lock()
	p.pids = append(p.pids, pid)
	p.mu.Unlock()
	p.c <- pid
}

// waitStarts waits until n children have been started.
func (p *pidTracker) waitStarts(t *testing.T, n int) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		p.mu.Lock()
		got := len(p.pids)
		p.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-p.c:
		case <-deadline:
			t.Fatalf("%d ffmpeg starts, want %d", got, n)
		}
	}
}

// last returns the PID of the latest child started, 0 before the first.
func (p *pidTracker) last() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.pids) == 0 {
		return 0
	}
	return p.pids[len(p.pids)-1]
}

// assertReaped fails when any child started is still there, as a process or a zombie.
func (p *pidTracker) assertReaped(t *testing.T) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pid := range p.pids {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("ffmpeg child %d still exists after Run returned", pid)
		}
	}
}

func startEncoder(t *testing.T, mode string, configure func(*encoder)) (*encoder, *recorder, *pidTracker, *fftest.Buffer, func()) {
	t.Setenv("FAKE_FFMPEG", mode)
	logs := &fftest.Buffer{}
	sink := &recorder{}
	pids := newPIDTracker()
	c := &encoder{
		Profile:    testProfile(),
		FFmpeg:     os.Args[0],
		Sink:       sink,
		Logger:     slog.New(slog.NewTextHandler(logs, nil)),
		MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		OnStart:    pids.add,
	}
	c.Profile.FFmpeg.StopGrace = profiles.Duration(time.Second)
	if configure != nil {
		configure(c)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop := func() {
		t.Helper()
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("Run did not return after cancel")
		}
		pids.assertReaped(t)
	}
	return c, sink, pids, logs, stop
}

// TestEncoderReload hands a running channel a new profile, and one while it waits in backoff:
// ffmpeg restarts at once each time with the new one, and the counters go on.
func TestEncoderReload(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, _, pids, logs, stop := startEncoder(t, "hang-after-ts", func(c *encoder) {
		c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour
	})
	pids.waitStarts(t, 1)
	fftest.WaitFor(t, 10*time.Second, "frames", func() bool { return c.Status().Frames > 0 })
	before := c.Status()

	p := testProfile()
	p.File = "/etc/liveinject/profiles/test.toml"
	p.Video.Bitrate = 800_000
	c.Reload(p)
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, 10*time.Second, "frames of the new run", func() bool { return c.Status().Frames > before.Frames })
	st := c.Status()
	if st.Starts != 2 || st.File != p.File || st.Stalls != 0 {
		t.Errorf("after reload: %+v, want 2 starts, file %s", st, p.File)
	}
	if !strings.Contains(logs.String(), "ffmpeg stopped to start again at once") {
		t.Errorf("reload not logged:\n%s", logs)
	}
	stop()
}

// TestBackoffCutShort has ffmpeg fail into an hour of backoff, three times: a new profile,
// RetryNow (SIGHUP) and Restart each start it at once.
func TestBackoffCutShort(t *testing.T) {
	c, _, pids, _, stop := startEncoder(t, "fail", func(c *encoder) {
		c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour
	})
	defer stop()
	for i, cut := range []func(){func() { c.Reload(testProfile()) }, c.RetryNow, c.Restart} {
		pids.waitStarts(t, i+1)
		fftest.WaitFor(t, 10*time.Second, "backoff", func() bool { return c.Status().State == StateBackoff })
		cut()
	}
	pids.waitStarts(t, 4)
}

// TestRestartAndRetryNow restarts a running channel: its ffmpeg is replaced at once and the
// counters go on. RetryNow then leaves the running ffmpeg alone: when that ffmpeg is killed, the
// channel waits in backoff as after any failure, rather than taking the kill for the restart
// that RetryNow asked for.
func TestRestartAndRetryNow(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, _, pids, _, stop := startEncoder(t, "hang-after-ts", func(c *encoder) {
		c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour
	})
	defer stop()
	pids.waitStarts(t, 1)
	fftest.WaitFor(t, 10*time.Second, "running", func() bool { return c.Status().State == StateRunning })
	c.Restart()
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, 10*time.Second, "running again", func() bool {
		st := c.Status()
		return st.State == StateRunning && st.Starts == 2 && st.PID == pids.last()
	})

	c.RetryNow()
	// A RetryNow that stopped the run did so before it returned: the kill below then ends a run
	// already stopped, and a third ffmpeg starts at once.
	if err := syscall.Kill(pids.last(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "backoff, or a third start", func() bool {
		st := c.Status()
		return st.State == StateBackoff || st.Starts > 2
	})
	if st := c.Status(); st.State != StateBackoff || st.Starts != 2 || st.Cause != CauseKilled {
		t.Errorf("after RetryNow and a kill: %+v, want backoff after 2 starts, cause %q: RetryNow restarted a running ffmpeg", st, CauseKilled)
	}
}

func TestEncoderRestartsWhenFFmpegExits(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, sink, pids, logs, stop := startEncoder(t, "ts", nil)
	pids.waitStarts(t, 3)
	stop()

	frames, keys, disc := sink.counts()
	if frames < 2*25 || keys < 2 {
		t.Errorf("frames %d, IDRs %d: want every run's stream delivered", frames, keys)
	}
	if disc < 2 {
		t.Errorf("discontinuities %d, want one per restart", disc)
	}
	if !strings.Contains(logs.String(), "ffmpeg exited with status 0") {
		t.Errorf("exit not logged:\n%s", logs)
	}
	st := c.Status()
	// Frames counts the video, AudioFrames the audio
	if st.State != StateStopped || st.Starts < 3 || st.Frames == 0 || st.Frames+st.AudioFrames != uint64(frames) || st.Stalls != 0 ||
		st.LastCause != "ffmpeg exited with status 0" || st.Cause != "exited 0" || st.PID != 0 {
		t.Errorf("status %+v, want stopped after >= 3 starts, %d frames, no stall", st, frames)
	}
}

func TestEncoderReportsExitCauseWithStderr(t *testing.T) {
	c, _, pids, logs, stop := startEncoder(t, "fail", nil)
	pids.waitStarts(t, 2)
	want := "ffmpeg exited with status 3: [video4linux2 @ 0x1] Cannot open video device /dev/video0: Device or resource busy"
	fftest.WaitFor(t, 10*time.Second, "the cause in the status", func() bool {
		st := c.Status()
		return st.State == StateBackoff && st.LastCause == want && st.Cause == CauseDeviceBusy &&
			len(st.LastStderr) == 1 && !st.RetryAt.IsZero()
	})
	stop()
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
}

// TestEncoderLastCauseAt has ffmpeg fail over and over: the status says when it last did, and
// says nothing of a cause before the first.
func TestEncoderLastCauseAt(t *testing.T) {
	c, _, pids, _, stop := startEncoder(t, "fail", nil)
	defer stop()
	if st := c.Status(); st.LastCauseAt.IsZero() != (st.LastCause == "") {
		t.Errorf("status %+v: a time of the last cause without one, or one without", st)
	}
	pids.waitStarts(t, 2)
	var first Status
	fftest.WaitFor(t, 10*time.Second, "a cause", func() bool { first = c.Status(); return first.LastCause != "" })
	if first.LastCauseAt.IsZero() || time.Since(first.LastCauseAt) > 10*time.Second {
		t.Fatalf("last cause at %v, want the time of the failure", first.LastCauseAt)
	}
	fftest.WaitFor(t, 10*time.Second, "the time of a later failure", func() bool {
		return c.Status().LastCauseAt.After(first.LastCauseAt)
	})
}

func TestEncoderKillsStalledFFmpeg(t *testing.T) {
	c, _, pids, logs, stop := startEncoder(t, "hang", func(c *encoder) { c.Profile.FFmpeg.StallTimeout = profiles.Duration(200 * time.Millisecond) })
	pids.waitStarts(t, 2)
	stop()
	if st := c.Status(); st.Stalls < 1 || !strings.HasPrefix(st.LastCause, "stalled") || st.Cause != CauseStalled {
		t.Errorf("status %+v, want a stall counted", st)
	}
	if !strings.Contains(logs.String(), "stalled: no output for 200ms") {
		t.Errorf("stall not logged:\n%s", logs)
	}
}

func TestEncoderStopEscalatesToSIGKILL(t *testing.T) {
	_, _, pids, _, stop := startEncoder(t, "stubborn", func(c *encoder) { c.Profile.FFmpeg.StopGrace = profiles.Duration(100 * time.Millisecond) })
	pids.waitStarts(t, 1)
	start := time.Now()
	stop()
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("stop took %v although ffmpeg ignores SIGINT and the grace is 100ms", d)
	}
}

func TestEncoderFFmpegNotFound(t *testing.T) {
	_, _, _, logs, stop := startEncoder(t, "ts", func(c *encoder) { c.FFmpeg = "/nonexistent/ffmpeg" })
	logs.WaitFor(t, `ffmpeg not found (\"/nonexistent/ffmpeg\"): install it with`)
	stop()
}

// TestEncoderStallCauses stops an ffmpeg after its stream, as SIGSTOP does: the bytes of its
// last frame came but not the frame (the demuxer hands a frame on when the next one starts), and
// the stall says "no output", not that MPEG-TS came.
func TestEncoderStallCauses(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, _, pids, logs, stop := startEncoder(t, "hang-after-ts", func(c *encoder) { c.Profile.FFmpeg.StallTimeout = profiles.Duration(800 * time.Millisecond) })
	pids.waitStarts(t, 2)
	stop()
	if want := "stalled: no output for 800ms"; !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q:\n%s", want, logs)
	}
	if st := c.Status(); st.Stalls < 1 || st.Cause != CauseStalled {
		t.Errorf("status %+v, want a stall counted", st)
	}
}

// TestEncoderDemuxFailureStopsAtOnce runs an ffmpeg that writes MPEG-2 video, which the demuxer
// refuses, and goes on writing: it is stopped at once, not after its stop_grace of an hour. What
// it writes meanwhile must be read, or it blocks on the full pipe and never acts on the SIGINT.
func TestEncoderDemuxFailureStopsAtOnce(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1", "-c:v", "mpeg2video", "-c:a", "aac"))
	c, _, pids, _, stop := startEncoder(t, "over-and-over", func(c *encoder) {
		c.Profile.FFmpeg.StopGrace = profiles.Duration(time.Hour)
		c.Profile.FFmpeg.StallTimeout = profiles.Duration(time.Hour)
	})
	defer stop()
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, 10*time.Second, "the first run's cause", func() bool { return c.Status().Cause != "" })
	if st := c.Status(); st.Cause != CauseUnsupportedCodec || !strings.Contains(st.LastCause, "ffmpeg exited with status 255") {
		t.Errorf("cause %q (%s), want %q and ffmpeg's own exit after SIGINT", st.Cause, st.LastCause, CauseUnsupportedCodec)
	}
}

// TestEncoderMissingTrackIsNoStall runs an ffmpeg whose program lists an audio track whose data
// never comes, while video comes: too slowly for the demuxer to read its 1 MiB of probe within
// the stall timeout (in 4.5 s, the timeout being 2 s). The cause is the missing track, with what to do, and not a stall.
func TestEncoderMissingTrackIsNoStall(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, _, pids, _, stop := startEncoder(t, "no-audio-data", func(c *encoder) {
		c.Profile.FFmpeg.StallTimeout = profiles.Duration(2 * time.Second)
		c.MinBackoff, c.MaxBackoff = time.Hour, time.Hour
	})
	defer stop()
	pids.waitStarts(t, 1)
	fftest.WaitFor(t, 20*time.Second, "backoff", func() bool { return c.Status().State == StateBackoff })
	if st := c.Status(); st.Cause != CauseMissingTrack || st.Stalls != 0 ||
		!strings.Contains(st.LastCause, `a source without sound needs audio.encoder = "none"`) {
		t.Errorf("cause %q (%s), %d stalls; want %q with its hint, no stall", st.Cause, st.LastCause, st.Stalls, CauseMissingTrack)
	}
}

func TestStallCause(t *testing.T) {
	now, never := time.Now(), time.Time{}
	for _, tc := range []struct {
		bytes, audio time.Time
		want         string
	}{
		{never, never, "stalled: no output for 10s"},
		{now.Add(-7 * time.Second), never, "stalled: no output for 10s"}, // a last frame's bytes, long ago
		{now.Add(-time.Second), never, "stalled: MPEG-TS came but no frame for 10s"},
		{now.Add(-time.Second), now.Add(-2 * time.Second), "stalled: audio only, no video frame for 10s"},
		{now.Add(-time.Second), now.Add(-8 * time.Second), "stalled: MPEG-TS came but no frame for 10s"},
	} {
		if got := stallCause(now, tc.bytes, tc.audio, 10*time.Second).Error(); got != tc.want {
			t.Errorf("bytes %v ago, audio %v ago: %q, want %q", now.Sub(tc.bytes), now.Sub(tc.audio), got, tc.want)
		}
	}
}

// TestEncoderStallWithOutput tells a stall of an ffmpeg that writes MPEG-TS without frames
// from a silent one, and counts it as a stall.
func TestEncoderStallWithOutput(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, sink, pids, logs, stop := startEncoder(t, "nulls", func(c *encoder) { c.Profile.FFmpeg.StallTimeout = profiles.Duration(300 * time.Millisecond) })
	pids.waitStarts(t, 2)
	stop()
	if !strings.Contains(logs.String(), "stalled: MPEG-TS came but no frame for 300ms") {
		t.Errorf("stall with output not logged:\n%s", logs)
	}
	if frames, _, _ := sink.counts(); frames < 25 {
		t.Errorf("%d frames, want the stream's before the stall", frames)
	}
	if st := c.Status(); st.Stalls < 1 || st.Cause != CauseStalled {
		t.Errorf("status %+v, want a stall counted", st)
	}
}

// TestEncoderOutputClosedButAlive stops an ffmpeg that closed its output and stays: it gets the
// grace, then SIGINT, and is started again without waiting for the stall timeout.
func TestEncoderOutputClosedButAlive(t *testing.T) {
	_, _, pids, logs, stop := startEncoder(t, "closed", func(c *encoder) {
		c.Profile.FFmpeg.StopGrace = profiles.Duration(200 * time.Millisecond)
		c.Profile.FFmpeg.StallTimeout = profiles.Duration(time.Hour)
	})
	pids.waitStarts(t, 3)
	stop()
	if !strings.Contains(logs.String(), "ffmpeg exited with status 255") {
		t.Errorf("the stop after the closed output not logged:\n%s", logs)
	}
}

// TestEncoderStderrFlood runs an ffmpeg that floods stderr while it streams: the frames all come
// and only the last lines are kept.
func TestEncoderStderrFlood(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, sink, pids, _, stop := startEncoder(t, "flood", nil)
	pids.waitStarts(t, 2)
	st := c.Status() // the first run's lines: the second may be stopped before it says anything
	stop()
	if frames, _, _ := sink.counts(); frames < 25 {
		t.Errorf("%d frames, want every frame of the first run", frames)
	}
	if len(st.LastStderr) != stderrLines || !strings.Contains(st.LastStderr[0], "non-existing PPS") {
		t.Errorf("kept %d stderr lines (%q...), want the last %d", len(st.LastStderr), st.LastStderr[:min(2, len(st.LastStderr))], stderrLines)
	}
}

// TestEncoderBackoffSequence checks the delays between restarts of an ffmpeg that fails at once,
// as the channel logs them: doubling from the minimum to the cap, within the ±20 % jitter, then
// staying at the cap.
func TestEncoderBackoffSequence(t *testing.T) {
	_, _, pids, logs, stop := startEncoder(t, "fail", func(c *encoder) {
		c.MinBackoff, c.MaxBackoff = 50*time.Millisecond, 400*time.Millisecond
	})
	pids.waitStarts(t, 7)
	stop()
	var delays []time.Duration
	for _, m := range regexp.MustCompile(`restart_in=(\S+)`).FindAllStringSubmatch(logs.String(), -1) {
		d, err := time.ParseDuration(m[1])
		if err != nil {
			t.Fatal(err)
		}
		delays = append(delays, d)
	}
	if len(delays) < 6 {
		t.Fatalf("delays %v, want at least 6", delays)
	}
	for i, want := range []time.Duration{50, 100, 200, 400, 400, 400} {
		want *= time.Millisecond
		lo, hi := want*8/10-time.Millisecond, want*12/10+time.Millisecond
		if delays[i] < lo || delays[i] > hi {
			t.Errorf("delay %d is %v, want %v ± 20 %%; all: %v", i+1, delays[i], want, delays)
		}
	}
}
