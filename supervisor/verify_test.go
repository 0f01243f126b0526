package supervisor

import (
	"log/slog"
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// TestVerifyEndToEnd runs real ffmpeg channels into the in-process relay with the return check
// on, as a profile has it by default: verified within 10 s of the first RECORD, with the relay's
// delay. A reload that points verify_url at another channel's path makes it "not our stream",
// and one that points it back verified again, neither restarting ffmpeg nor the push.
func TestVerifyEndToEnd(t *testing.T) {
	fftest.Require(t)
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	channel := func(name, verifyURL string, verify bool) profiles.Channel {
		ch := testProfile()
		ch.Name = name
		ch.Video.Size = profiles.Size{Width: 320, Height: 240}
		ch.Video.Bitrate = 300_000
		ch.Video.GOP = profiles.Duration(500 * time.Millisecond)
		ch.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/" + name + ".sdp", Transport: "tcp",
			Verify: verify, VerifyURL: verifyURL}}
		return ch
	}
	a, b := channel("a", "", true), channel("b", "", false)
	ev := newEvents()
	var logs fftest.Buffer
	s := &Supervisor{
		FFmpeg:   "ffmpeg",
		Channels: []profiles.Channel{a, b},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnStart:  ev.started,
	}
	apply := updater(s, &logs)
	stop := runSupervisor(t, s)
	defer func() {
		stop()
		if t.Failed() {
			t.Logf("log:\n%s", logs.String())
		}
	}()
	verify := func(what string, within time.Duration, state, cause string) inject.Stats {
		t.Helper()
		var st inject.Stats
		fftest.WaitFor(t, within, what, func() bool {
			d := s.Destinations("a")
			if len(d) != 1 {
				return false
			}
			st = d[0]
			return st.Verify.State == state && st.Verify.Cause == cause
		})
		return st
	}
	st := verify("a verified", 30*time.Second, inject.VerifyVerified, "")
	if took := st.Verify.Since.Sub(st.ConnectedSince); took > 10*time.Second || st.Verify.ServerDelay <= 0 {
		t.Errorf("verified %v after the first RECORD with a delay of %v, want within 10 s and a delay", took,
			st.Verify.ServerDelay)
	}
	if d := s.Destinations("b"); len(d) != 1 || d[0].Verify.State != inject.VerifyOff {
		t.Errorf("b with verify = false: %+v, want off", d)
	}
	update := func(chs ...profiles.Channel) {
		t.Helper()
		if c := apply(t, chs...); len(c.Retarget) != 1 || len(c.Restart) != 0 {
			t.Fatalf("changes %+v, want a retargeted only", c)
		}
	}
	update(channel("a", "rtsp://"+rl.Addr()+"/b.sdp", true), b)
	verify("a not our stream", 15*time.Second, inject.VerifyUnverified, "not our stream")
	update(a, b)
	last := verify("a verified again", 15*time.Second, inject.VerifyVerified, "")
	if last.ConnectedSince != st.ConnectedSince || last.Reconnects != 0 {
		t.Errorf("a's push after the reloads: %+v, want its first session", last)
	}
	if n := len(ev.pids("a")); n != 1 {
		t.Errorf("a's ffmpeg started %d times, want once", n)
	}
}
