package inject

import (
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
)

// eventLog keeps the events of the kinds only that a Sink hears: a test of the push's events
// (recording, failed) leaves out the return check's, which the fake server's answers to its
// DESCRIBE make, and the other way round.
type eventLog struct {
	only   []string
	mu     sync.Mutex
	events []event.Event
}

// pushEvents and verifyEvents return a log of the push's events and of the return check's.
func pushEvents() *eventLog {
	return &eventLog{only: []string{event.DestinationRecording, event.DestinationFailed}}
}

func verifyEvents() *eventLog {
	return &eventLog{only: []string{event.DestinationVerified, event.DestinationUnverified}}
}

func (l *eventLog) sink(e event.Event) {
	if !slices.Contains(l.only, e.Kind) {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *eventLog) all() []event.Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *eventLog) kinds() []string {
	var out []string
	for _, e := range l.all() {
		out = append(out, e.Kind)
	}
	return out
}

// withCauses returns the kinds of the events so far, each with its cause.
func (l *eventLog) withCauses() []string {
	var out []string
	for _, e := range l.all() {
		out = append(out, strings.TrimSpace(e.Kind+" "+e.Cause))
	}
	return out
}

// TestDestinationEventsOncePerChange: a server that refuses four tries in a row makes one
// destination.failed, the session that records one destination.recording, a cut session one
// destination.failed and the next session one destination.recording, each naming the channel
// and the destination without its password.
func TestDestinationEventsOncePerChange(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	s := newFakeServer(t, func(s *fakeServer) {
		s.respond = func(n int, req *base.Request) *base.Response {
			if n < 4 && req.Method == base.Announce {
				return &base.Response{StatusCode: base.StatusServiceUnavailable}
			}
			return nil
		}
	})
	log := pushEvents()
	url := strings.Replace(s.url("/test.sdp"), "rtsp://", "rtsp://pub:secret@", 1)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: url}}, QueueSize: 1024,
		RetryMin: 50 * time.Millisecond, RetryMax: 50 * time.Millisecond, OnEvent: log.sink}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feedFast(t, f, fr)

	waitState(t, f, 0, StateRecording)
	if st := f.Stats()[0]; st.FailedAttempts != 4 {
		t.Fatalf("%d failed attempts, want 4", st.FailedAttempts)
	}
	if got := log.kinds(); !slices.Equal(got, []string{event.DestinationFailed, event.DestinationRecording}) {
		t.Fatalf("events %q, want one failed for the four refusals, then recording", got)
	}
	s.cut(4)
	fftest.WaitFor(t, 10*time.Second, "recording again", func() bool { return len(log.all()) == 4 })
	waitState(t, f, 0, StateRecording)
	want := []string{event.DestinationFailed, event.DestinationRecording, event.DestinationFailed, event.DestinationRecording}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	for i, e := range log.all() {
		if e.Channel != "test" || e.Destination != strings.Replace(url, "secret", "xxxxx", 1) || e.Time.IsZero() ||
			(e.Kind == event.DestinationFailed) != (e.Cause != "") {
			t.Errorf("event %d: %+v", i, e)
		}
	}
	if c := log.all()[0].Cause; !strings.Contains(c, "503") {
		t.Errorf("cause %q, want the server's 503", c)
	}
	f.Close()
	if n := len(log.all()); n != 4 {
		t.Errorf("%d events after Close, want no more than 4: a stop is the channel's to tell", n)
	}
}

// TestDestinationEventsStall: a server that stops reading is a destination.failed with the
// stall's cause, and recording again when it reads.
func TestDestinationEventsStall(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	resume := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.stallAfter = func(int) int { return 20 }
		s.resume = resume
	})
	log := pushEvents()
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024, OnEvent: log.sink}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feedFast(t, f, fr)
	waitState(t, f, 0, StateStalled)
	close(resume)
	waitState(t, f, 0, StateRecording)
	want := []string{event.DestinationRecording, event.DestinationFailed, event.DestinationRecording}
	if got := log.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if c := log.all()[1].Cause; !strings.Contains(c, "the server is not reading what is sent") {
		t.Errorf("cause %q", c)
	}
}

// TestDestinationEventsHeldBriefly: a name the server holds for two quick tries, as Darwin
// Streaming Server does for 100 ms after a TEARDOWN, is no failure to tell; held longer, it is.
func TestDestinationEventsHeldBriefly(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	for _, tc := range []struct {
		refusals int
		want     []string
	}{
		{2, []string{event.DestinationRecording}},
		{3, []string{event.DestinationFailed, event.DestinationRecording}},
	} {
		s := newFakeServer(t, func(s *fakeServer) {
			s.respond = func(n int, req *base.Request) *base.Response {
				if n < tc.refusals && req.Method == base.Announce {
					return &base.Response{StatusCode: base.StatusPreconditionFailed}
				}
				return nil
			}
		})
		log := pushEvents()
		f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
			heldRetry: 100 * time.Millisecond, OnEvent: log.sink}
		if err := f.Initialize(); err != nil {
			t.Fatal(err)
		}
		feedFast(t, f, fr)
		waitState(t, f, 0, StateRecording)
		f.Close()
		if got := log.kinds(); !slices.Equal(got, tc.want) || f.Stats()[0].FailedAttempts != uint64(tc.refusals) {
			t.Errorf("%d refusals (412): events %q, %d failed attempts; want %q", tc.refusals, got, f.Stats()[0].FailedAttempts, tc.want)
		}
	}
}
