package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// TestChannelReload hands a running channel a new profile, and one while it waits in backoff:
// ffmpeg restarts at once each time with the new one, and the counters go on.
func TestChannelReload(t *testing.T) {
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	c, _, pids, logs, stop := startChannel(t, "hang-after-ts", func(c *Channel) {
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
	c, _, pids, _, stop := startChannel(t, "fail", func(c *Channel) {
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
	c, _, pids, _, stop := startChannel(t, "hang-after-ts", func(c *Channel) {
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

// TestReloadFFmpegTimings reloads a channel's [ffmpeg] stall_timeout and stop_grace from an hour
// to 200 ms: the ffmpeg started for the new profile runs by the new values.
func TestReloadFFmpegTimings(t *testing.T) {
	for _, tc := range []struct {
		name string
		mode string // of the fake ffmpeg
		set  func(p *profiles.Channel, d time.Duration)
		// done tells that an ffmpeg ran by 200 ms
		done func(s *Supervisor, pids *pidTracker) bool
	}{
		// writes nothing: stalled after stall_timeout
		{"stall_timeout", "hang", func(p *profiles.Channel, d time.Duration) { p.FFmpeg.StallTimeout = profiles.Duration(d) },
			func(s *Supervisor, _ *pidTracker) bool { st := s.Status(); return len(st) == 1 && st[0].Stalls > 0 }},
		// closes its output and stays: stopped after stop_grace, and started again
		{"stop_grace", "closed", func(p *profiles.Channel, d time.Duration) { p.FFmpeg.StopGrace = profiles.Duration(d) },
			func(_ *Supervisor, pids *pidTracker) bool { return len(pids.pids) >= 3 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("FAKE_FFMPEG", tc.mode)
			p := testProfile()
			p.FFmpeg.StallTimeout = profiles.Duration(time.Hour)
			tc.set(&p, time.Hour)
			pids := newPIDTracker()
			s := &Supervisor{FFmpeg: os.Args[0], Channels: []profiles.Channel{p}, OnStart: func(_ string, pid int) { pids.add(pid) }}
			t.Cleanup(func() { pids.assertReaped(t) })
			runSupervisor(t, s)
			pids.waitStarts(t, 1)
			tc.set(&p, 200*time.Millisecond)
			s.Update([]profiles.Channel{p})
			pids.waitStarts(t, 2)
			fftest.WaitFor(t, 20*time.Second, "the new "+tc.name+" in force", func() bool {
				pids.mu.Lock()
				defer pids.mu.Unlock()
				return tc.done(s, pids)
			})
		})
	}
}

// TestOwnerInjectorCannotStart gives a channel a destination the injector refuses: the channel
// is in state error with the cause, the others run, and a fixed profile starts it.
func TestOwnerInjectorCannotStart(t *testing.T) {
	t.Setenv("FAKE_FFMPEG", "hang-after-ts")
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	bad := testProfile()
	bad.Name = "bad"
	bad.Destinations = []profiles.Destination{{URL: "http://127.0.0.1:1/x.sdp"}}
	good := testProfile()
	good.Name = "good"
	pids := newPIDTracker()
	var logs fftest.Buffer
	s := &Supervisor{FFmpeg: os.Args[0], Channels: []profiles.Channel{bad, good}, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		OnStart: func(_ string, pid int) { pids.add(pid) }}
	t.Cleanup(func() { pids.assertReaped(t) }) // after the supervisor's cleanup: they run last first
	runSupervisor(t, s)
	fftest.WaitFor(t, 10*time.Second, "bad in error, good running", func() bool {
		st := s.Status()
		return len(st) == 2 && st[0].State == StateError && st[1].State == StateRunning
	})
	st := s.Status()[0]
	if st.Name != "bad" || st.Cause != CauseProfile || !strings.Contains(st.LastCause, `scheme "http", want rtsp or rtsps`) ||
		st.LastCauseAt.IsZero() || st.Destinations != nil || s.Destinations("bad") != nil {
		t.Errorf("bad channel: %+v", st)
	}
	if err, ok := errors.AsType[*NotRunnableError](s.Restart("bad")); !ok || err.Channel != "bad" || err.Cause != st.LastCause {
		t.Errorf("restart of the channel in error: %v, want a NotRunnableError", err)
	}
	if err, ok := errors.AsType[*UnknownChannelError](s.Restart("nope")); !ok || err.Channel != "nope" {
		t.Errorf("restart of an unknown channel: %v, want an UnknownChannelError", err)
	}
	bad.Destinations = []profiles.Destination{{URL: "rtsp://127.0.0.1:1/x.sdp"}}
	s.Update([]profiles.Channel{bad, good})
	fftest.WaitFor(t, 10*time.Second, "bad running", func() bool {
		st := s.Status()
		return len(st) == 2 && st[0].State == StateRunning && len(st[0].Destinations) == 1
	})
}

// TestOwnerHolds has a channel's ffmpeg go silent after its stream: after the hold delay its
// destination keeps getting packets (the last keyframe, twice a second) on the same session, the
// status says since when, and when a new ffmpeg's frames come the hold ends.
func TestOwnerHolds(t *testing.T) {
	t.Setenv("FAKE_FFMPEG", "hang-after-ts")
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	p := testProfile()
	p.Hold = profiles.Duration(300 * time.Millisecond)
	p.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/test.sdp"}}
	pids := newPIDTracker()
	s := &Supervisor{FFmpeg: os.Args[0], Channels: []profiles.Channel{p}, OnStart: func(_ string, pid int) { pids.add(pid) }}
	runSupervisor(t, s)

	var held Status
	fftest.WaitFor(t, 10*time.Second, "holding", func() bool {
		st := s.Status()
		if len(st) != 1 {
			return false
		}
		held = st[0]
		return !held.HoldingSince.IsZero()
	})
	sent := held.Destinations[0].PacketsSent
	fftest.WaitFor(t, 10*time.Second, "held keyframes sent", func() bool {
		d := s.Status()[0].Destinations[0]
		return d.PacketsSent > sent+2 && d.State == "recording"
	})
	s.Restart("test")
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, 10*time.Second, "the hold ended", func() bool {
		st := s.Status()[0]
		return st.HoldingSince.IsZero() && st.Held > 0
	})
	if d := s.Status()[0].Destinations[0]; d.Reconnects != 0 || d.FailedAttempts != 0 {
		t.Errorf("destination %+v, want the one session throughout", d)
	}
}

// runSupervisor runs s until the test ends, and then waits for it: every ffmpeg reaped, every
// destination torn down.
func runSupervisor(t testing.TB, s *Supervisor) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}
