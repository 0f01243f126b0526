package supervisor

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// events collects what a test's supervisor and relay report, in order.
type events struct {
	mu  sync.Mutex
	log []string
	pid map[string][]int
	c   chan struct{}
}

func newEvents() *events {
	return &events{pid: map[string][]int{}, c: make(chan struct{}, 1000)}
}

func (e *events) add(format string, args ...any) {
	e.mu.Lock()
	e.log = append(e.log, fmt.Sprintf(format, args...))
	e.mu.Unlock()
	e.c <- struct{}{}
}

func (e *events) started(channel string, pid int) {
	e.mu.Lock()
	e.pid[channel] = append(e.pid[channel], pid)
	e.mu.Unlock()
	e.add("start %s", channel)
}

func (e *events) pids(channel string) []int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.pid[channel])
}

// waitFor waits until the event has been reported.
func (e *events) waitFor(t *testing.T, event string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		e.mu.Lock()
		seen := slices.Contains(e.log, event)
		e.mu.Unlock()
		if seen {
			return
		}
		select {
		case <-e.c:
		case <-deadline:
			t.Fatalf("no %q; events: %v", event, e.all())
		}
	}
}

func (e *events) count(event string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, x := range e.log {
		if x == event {
			n++
		}
	}
	return n
}

func (e *events) all() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.log)
}

// TestUpdate streams real ffmpeg channels into the in-process relay and changes the set while
// they run: a retargeted channel keeps its ffmpeg and its session, a restarted one keeps its
// session, a removed one tears down, an added one starts, and an untouched one sees nothing.
func TestUpdate(t *testing.T) {
	fftest.Require(t)
	ev := newEvents()
	rl := &relay.Server{
		Address:     "127.0.0.1:0",
		OnPublish:   func(path string) { ev.add("publish %s", path) },
		OnUnpublish: func(path string, teardown bool) { ev.add("unpublish %s %v", path, teardown) },
	}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()

	channel := func(name string, paths ...string) profiles.Channel {
		ch := testProfile()
		ch.Name = name
		ch.Video.Size = profiles.Size{Width: 320, Height: 240}
		ch.Video.Bitrate = 300_000
		ch.Video.GOP = profiles.Duration(500 * time.Millisecond)
		for _, p := range paths {
			ch.Destinations = append(ch.Destinations,
				profiles.Destination{URL: "rtsp://" + rl.Addr() + "/" + p, Transport: "tcp"})
		}
		return ch
	}
	a, b, c := channel("a", "a.sdp"), channel("b", "b.sdp"), channel("c", "c.sdp")
	var logs fftest.Buffer
	s := &Supervisor{
		FFmpeg:   "ffmpeg",
		Channels: []profiles.Channel{a, b, c},
		Logger:   slog.New(slog.NewTextHandler(&logs, nil)),
		OnStart:  ev.started,
	}
	update := updater(s, &logs)
	stop := runSupervisor(t, s)
	defer func() {
		stop()
		for _, ch := range []string{"a", "b", "c", "d"} {
			for _, pid := range ev.pids(ch) {
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
					t.Errorf("ffmpeg %d of channel %s outlived Run", pid, ch)
				}
			}
		}
	}()
	for _, p := range []string{"a.sdp", "b.sdp", "c.sdp"} {
		ev.waitFor(t, "publish "+p)
	}

	// a gets a second destination, b a new bitrate, c nothing
	a2 := channel("a", "a.sdp", "a2.sdp")
	b2 := channel("b", "b.sdp")
	b2.Video.Bitrate = 400_000
	got := update(t, a2, b2, c)
	// b's old ffmpeg is reaped once the update is applied: what b sends from now on is the new one's
	sentBefore := s.Destinations("b")[0].PacketsSent
	if len(got.Retarget) != 1 || len(got.Restart) != 1 || len(got.Unchanged) != 1 {
		t.Fatalf("changes %+v, want a retargeted, b restarted, c unchanged", got)
	}
	ev.waitFor(t, "publish a2.sdp")
	for _, want := range []string{
		`msg="channel restarted" channel=b file="" inputs=source changes="video.bitrate \"300k\" → \"400k\""`,
		`msg="channel retargeted" channel=a file="" changes="destination +rtsp://` + rl.Addr() + `/a2.sdp"`,
	} {
		fftest.WaitFor(t, 10*time.Second, want, func() bool { return strings.Contains(logs.String(), want) })
	}
	fftest.WaitFor(t, 30*time.Second, "b's new ffmpeg", func() bool { return len(ev.pids("b")) == 2 })
	if n := len(ev.pids("a")); n != 1 {
		t.Errorf("a's ffmpeg started %d times, want once: a retarget leaves it running", n)
	}
	if n := len(ev.pids("c")); n != 1 {
		t.Errorf("c's ffmpeg started %d times, want once", n)
	}
	// b's frames flow again over the same session
	fftest.WaitFor(t, 30*time.Second, "b streaming again", func() bool {
		d := s.Destinations("b")
		return len(d) == 1 && d[0].PacketsSent > sentBefore+100 && d[0].Reconnects == 0
	})

	// a goes, d comes
	d := channel("d", "d.sdp")
	got = update(t, b2, c, d)
	if len(got.Removed) != 1 || len(got.Added) != 1 {
		t.Fatalf("changes %+v, want a removed and d added", got)
	}
	ev.waitFor(t, "unpublish a.sdp true")
	ev.waitFor(t, "unpublish a2.sdp true")
	ev.waitFor(t, "publish d.sdp")
	if s.Destinations("a") != nil {
		t.Errorf("a still has destinations: %+v", s.Destinations("a"))
	}
	for _, pid := range ev.pids("a") {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			t.Errorf("a's ffmpeg %d still there after a was removed", pid)
		}
	}

	// Neither b's restart nor the other changes disturbed b's and c's sessions at the relay.
	for _, p := range []string{"b.sdp", "c.sdp"} {
		if n := ev.count("publish " + p); n != 1 {
			t.Errorf("%s published %d times, want once", p, n)
		}
		for _, e := range ev.all() {
			if strings.HasPrefix(e, "unpublish "+p) {
				t.Errorf("%s: %s", p, e)
			}
		}
	}
	if n := len(ev.pids("c")); n != 1 {
		t.Errorf("c's ffmpeg started %d times, want once", n)
	}

	fftest.WaitFor(t, 30*time.Second, "every channel running and sending", func() bool {
		st := s.Status()
		if len(st) != 3 {
			return false
		}
		for _, c := range st {
			if c.State != StateRunning || len(c.Destinations) != 1 || c.Destinations[0].PacketsSent == 0 {
				return false
			}
		}
		return true
	})
	st := s.Status()
	for i, want := range []struct {
		name   string
		starts uint64
		pid    int
	}{{"b", 2, ev.pids("b")[1]}, {"c", 1, ev.pids("c")[0]}, {"d", 1, ev.pids("d")[0]}} {
		// b's counters go on across its restart
		if st[i].Name != want.name || st[i].Starts != want.starts || st[i].PID != want.pid ||
			st[i].Frames == 0 || len(st[i].Destinations) != 1 || st[i].Destinations[0].PacketsSent == 0 {
			t.Errorf("status %d: %+v, want channel %s started %d times, pid %d, frames and packets sent",
				i, st[i], want.name, want.starts, want.pid)
		}
	}
}

// TestStarted runs a supervisor without channels whose context has ended: not Started before Run,
// Started after.
func TestStarted(t *testing.T) {
	s := &Supervisor{FFmpeg: "ffmpeg"}
	if s.Started() {
		t.Error("Started before Run")
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if !s.Started() {
		t.Error("not Started after Run")
	}
}
