package supervisor

import (
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// eventLog keeps the events a Sink hears.
type eventLog struct {
	mu     sync.Mutex
	events []event.Event
}

func (l *eventLog) sink(e event.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// of returns the events whose kind begins with one of prefixes.
func (l *eventLog) of(prefixes ...string) []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []event.Event
	for _, e := range l.events {
		if slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e.Kind, p) }) {
			out = append(out, e)
		}
	}
	return out
}

func (l *eventLog) kinds(prefixes ...string) []string {
	var out []string
	for _, e := range l.of(prefixes...) {
		out = append(out, e.Kind)
	}
	return out
}

// TestChannelEvents: a channel tells that it started, that its frames stopped (holding) and came
// back (live), once each, and that it stopped, removed or with liveinject; added again, it
// starts again.
func TestChannelEvents(t *testing.T) {
	t.Setenv("FAKE_FFMPEG", "hang-after-ts")
	t.Setenv("FAKE_FFMPEG_TS", fftest.TS(t, "1"))
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	p := testProfile()
	p.Hold = profiles.Duration(300 * time.Millisecond)
	p.Slate.Off = true
	p.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/test.sdp"}}
	var log eventLog
	pids := newPIDTracker()
	s := &Supervisor{FFmpeg: os.Args[0], Channels: []profiles.Channel{p}, OnEvent: log.sink,
		OnStart: func(_ string, pid int) { pids.add(pid) }}
	stop := runSupervisor(t, s)

	fftest.WaitFor(t, 10*time.Second, "holding", func() bool { return slices.Contains(log.kinds("channel."), event.ChannelHolding) })
	// held for a while: told once
	sent := s.Status()[0].Destinations[0].PacketsSent
	fftest.WaitFor(t, 10*time.Second, "held keyframes sent", func() bool { return s.Status()[0].Destinations[0].PacketsSent > sent+4 })
	s.Restart("test")
	pids.waitStarts(t, 2)
	fftest.WaitFor(t, 10*time.Second, "live", func() bool { return len(log.kinds("channel.")) >= 3 })
	if got := log.kinds("channel."); !slices.Equal(got[:3], []string{event.ChannelStarted, event.ChannelHolding, event.ChannelLive}) {
		t.Fatalf("events %q, want started, holding, live", got)
	}
	if got := log.kinds("destination."); len(got) == 0 || got[0] != event.DestinationRecording {
		t.Errorf("destination events %q, want recording first", got)
	}

	s.Update(nil)
	fftest.WaitFor(t, 10*time.Second, "stopped", func() bool { return slices.Contains(log.kinds("channel."), event.ChannelStopped) })
	s.Update([]profiles.Channel{p})
	fftest.WaitFor(t, 10*time.Second, "started again", func() bool {
		k := log.kinds("channel.")
		return k[len(k)-1] == event.ChannelStarted
	})
	stop()
	evs := log.of("channel.")
	for i := 1; i < len(evs); i++ {
		if evs[i].Kind == evs[i-1].Kind {
			t.Errorf("%s told twice in a row: %q", evs[i].Kind, log.kinds("channel."))
		}
	}
	var stops []string
	for _, e := range evs {
		if e.Channel != "test" || e.Time.IsZero() {
			t.Errorf("event %+v", e)
		}
		if e.Kind == event.ChannelStopped {
			stops = append(stops, e.Cause)
		}
	}
	if !slices.Equal(stops, []string{"removed", "liveinject stopped"}) {
		t.Errorf("stopped with causes %q, want removed, then liveinject stopped", stops)
	}
	if last := evs[len(evs)-1]; last.Kind != event.ChannelStopped {
		t.Errorf("last event %+v, want channel.stopped", last)
	}
}

// TestInputSwitchedEvents: each switch of a channel with a backup and a slate is told once,
// with the input before (the one that failed, not the hold between), the one after and why.
func TestInputSwitchedEvents(t *testing.T) {
	it, _ := newInputsTest(t, 1, nil)
	it.waitOnAir("source", 10*time.Second)
	it.set("source", "fail")
	it.waitOnAir("backup 1", 15*time.Second)
	if err := it.s.Switch("test", "slate"); err != nil {
		t.Fatal(err)
	}
	it.waitOnAir("slate", 10*time.Second)
	it.set("source", "play")
	if err := it.s.Switch("test", "source"); err != nil {
		t.Fatal(err)
	}
	it.waitOnAir("source", 30*time.Second)
	var got []event.Event
	for _, e := range it.events.of("input.") {
		if e.Channel != "test" || e.Time.IsZero() {
			t.Errorf("event %+v", e)
		}
		got = append(got, event.Event{Kind: e.Kind, From: e.From, To: e.To, Reason: e.Reason})
	}
	want := []event.Event{
		{Kind: event.InputSwitched, From: "source", To: "backup 1", Reason: SwitchFailed},
		{Kind: event.InputSwitched, From: "backup 1", To: "slate", Reason: SwitchManual},
		{Kind: event.InputSwitched, From: "slate", To: "source", Reason: SwitchManual},
	}
	if !slices.Equal(got, want) {
		t.Errorf("events\n%+v\nwant\n%+v", got, want)
	}
}
