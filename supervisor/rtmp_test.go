package supervisor

import (
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
	"github.com/liveinject/liveinject/profiles"
)

// TestChannelHoldsRTMP SIGSTOPs a channel's real ffmpeg for 60 s while the channel pushes to
// nginx, which drops a publisher that sends nothing for 10 s: the hold keeps the session the
// whole minute, a player that starts to read during it gets the held picture, and the same
// ffmpeg's frames follow on the same session after SIGCONT.
func TestChannelHoldsRTMP(t *testing.T) {
	fftest.Require(t)
	n := testpeers.StartNginx(t, "")
	ch := testProfile()
	smallVideo(&ch)
	ch.Hold = profiles.Duration(time.Second)
	ch.Slate.Off = true
	ch.FFmpeg.StallTimeout = profiles.Duration(2 * time.Minute) // the same ffmpeg throughout
	ch.Destinations = []profiles.Destination{{URL: n.URL("live/held")}}
	s := &Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{ch}}
	runSupervisor(t, s)
	status := func() Status {
		if st := s.Status(); len(st) == 1 {
			return st[0]
		}
		return Status{}
	}
	fftest.WaitFor(t, 30*time.Second, "recording", func() bool {
		st := status()
		return len(st.Destinations) == 1 && st.Destinations[0].State == "recording" && st.Frames > 50
	})
	pid := status().PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT) //nolint:errcheck // cleanup
		}
	}()
	var since time.Time
	fftest.WaitFor(t, 10*time.Second, "holding", func() bool {
		since = status().HoldingSince
		return !since.IsZero()
	})

	type read struct {
		pkts map[string][]float64
		err  error
	}
	played := make(chan read, 1)
	play := time.AfterFunc(time.Until(since.Add(20*time.Second)), func() {
		pkts, err := testpeers.Packets(t, n.URL("live/held"), 10*time.Second)
		played <- read{pkts, err}
	})
	defer play.Stop()
	fftest.WaitFor(t, 90*time.Second, "60 s of hold", func() bool {
		st := status()
		if d := st.Destinations[0]; d.State != "recording" || d.Reconnects != 0 {
			t.Fatalf("%v into the hold: destination %+v", time.Since(since).Round(time.Millisecond), d)
		}
		return time.Since(since) > 60*time.Second
	})
	r := <-played
	if r.err != nil {
		t.Fatal(r.err)
	}
	t.Logf("a player got %d video and %d audio frames in 10 s of the hold", len(r.pkts["video"]), len(r.pkts["audio"]))
	if len(r.pkts["video"]) < 15 || len(r.pkts["audio"]) < 300 {
		t.Errorf("the player got %d video and %d audio frames in 10 s, want the held picture twice a second "+
			"and the silence", len(r.pkts["video"]), len(r.pkts["audio"]))
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	frames := status().Frames
	fftest.WaitFor(t, 60*time.Second, "live again", func() bool {
		st := status()
		return st.HoldingSince.IsZero() && st.Frames > frames+50
	})
	st := status()
	if d := st.Destinations[0]; d.State != "recording" || d.Reconnects != 0 || d.FailedAttempts != 0 ||
		st.PID != pid || st.Starts != 1 {
		t.Errorf("after the hold: %+v, destination %+v; want the same ffmpeg and the one session", st, d)
	}
}
