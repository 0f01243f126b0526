package supervisor

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

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

// TestChannelInjectorCannotStart gives a channel a destination the injector refuses: the channel
// is in state error with the cause, the others run, and a fixed profile starts it.
func TestChannelInjectorCannotStart(t *testing.T) {
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
	if st.Name != "bad" || st.Cause != CauseProfile || !strings.Contains(st.LastCause, `scheme "http", want rtsp, rtsps, rtmp, rtmps or srt`) ||
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

// TestChannelHolds has a channel's ffmpeg go silent after its stream: after the hold delay its
// destination keeps getting packets (the last keyframe, twice a second) on the same session, the
// status says since when, and when a new ffmpeg's frames come the hold ends.
func TestChannelHolds(t *testing.T) {
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

// runSupervisor runs s until the test ends, or until stop is called, and then waits for it:
// every ffmpeg reaped, every destination torn down.
func runSupervisor(t testing.TB, s *Supervisor) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	t.Cleanup(stop)
	return stop
}

// updater has s report the Updates it applies (it sets OnApplied: call it before Run), and
// returns what hands s a channel set and waits until it is applied, with what changed.
func updater(s *Supervisor, logs *fftest.Buffer) func(t *testing.T, chs ...profiles.Channel) profiles.Changes {
	applied := make(chan profiles.Changes, 10)
	s.OnApplied = func(c profiles.Changes) { applied <- c }
	return func(t *testing.T, chs ...profiles.Channel) profiles.Changes {
		t.Helper()
		s.Update(chs)
		select {
		case c := <-applied:
			return c
		case <-time.After(30 * time.Second):
			t.Fatalf("update not applied:\n%s", logs.String())
			return profiles.Changes{}
		}
	}
}
