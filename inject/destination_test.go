package inject

import (
	"context"
	"log"
	"log/slog"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/conn"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// TestNextKey checks where a session starts: after a try that failed, from where that try began
// while nothing is missing and the backlog is short; else at the newest IDR.
func TestNextKey(t *testing.T) {
	u := func(n uint64, key bool) *unit { return &unit{n: n, key: key, pkts: []*rtp.Packet{{}}} }
	for _, tc := range []struct {
		name      string
		queueSize int
		start     []*unit
		queued    []*unit
		want      []uint64
		dropped   uint64
	}{
		{"fresh: newest IDR", 100, nil,
			[]*unit{u(1, false), u(2, true), u(3, false), u(4, true), u(5, false)}, []uint64{4, 5}, 3},
		{"kept, no gap: everything", 100, []*unit{u(1, true)},
			[]*unit{u(2, false), u(3, true), u(4, false)}, []uint64{1, 2, 3, 4}, 0},
		{"kept, a gap: the IDR after it", 100, []*unit{u(1, true), u(2, false)},
			[]*unit{u(5, true), u(6, false)}, []uint64{5, 6}, 2},
		{"kept, a gap without an IDR: wait for one", 100, []*unit{u(1, true)},
			[]*unit{u(5, false), u(6, false), u(7, true)}, []uint64{7}, 3},
		{"kept, too long: newest IDR", 3, []*unit{u(1, true)},
			[]*unit{u(2, false), u(3, false), u(4, false), u(5, true), u(6, false)}, []uint64{5, 6}, 4},
		// never more than a queue's worth: a longer backlog would come out in one burst, late
		{"kept, too long without an IDR: wait for one", 3, []*unit{u(1, true)},
			[]*unit{u(2, false), u(3, false), u(4, false), u(5, false)}, nil, 5},
		{"fresh, more than a queue after the IDR: wait for the next", 3, nil,
			[]*unit{u(1, true), u(2, false), u(3, false), u(4, false)}, nil, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &destination{cfg: settings{queueSize: tc.queueSize}, queue: make(chan *unit, len(tc.queued))}
			for _, x := range tc.queued {
				d.queue <- x
			}
			// Cancelled: where nextKey would wait for an IDR still to come, it returns false.
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			got, ok := d.nextKey(ctx, tc.start)
			var ns []uint64
			for _, x := range got {
				ns = append(ns, x.n)
			}
			if ok != (tc.want != nil) || !slices.Equal(ns, tc.want) || d.dropped.Load() != tc.dropped {
				t.Errorf("got %v (%v), %d dropped; want %v, %d dropped", ns, ok, d.dropped.Load(), tc.want, tc.dropped)
			}
		})
	}
}

// TestFailureLoggedAgainAfterRecording has a server refuse a session, take the next, and refuse
// the one after it (announcing new codec parameters) for the same reason: the second refusal is
// logged as the first was, not taken for a repeat of it, since a session recorded in between.
func TestFailureLoggedAgainAfterRecording(t *testing.T) {
	gop := []string{"-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2"}
	first := demuxtest.Frames(t, "3", gop...)
	second := demuxtest.Frames(t, "3", append([]string{"-s", "320x180"}, gop...)...)
	s := newFakeServer(t, func(s *fakeServer) {
		s.respond = func(n int, req *base.Request) *base.Response {
			if (n == 0 || n == 2) && req.Method == base.Announce {
				return &base.Response{StatusCode: base.StatusForbidden}
			}
			return nil
		}
	})
	var logs fftest.Buffer
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
		RetryMin: 20 * time.Millisecond, RetryMax: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// Frames come one by one, faster than real time, until the session of connection conn
	// sends; a new encode's frames announce new parameters.
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for _, step := range []struct {
		fr   []*demux.Frame
		conn int
	}{{first, 1}, {second, 3}} {
		f.Discontinuity()
		for i := 0; len(s.received(step.conn)) == 0; i++ {
			if i == len(step.fr) {
				t.Fatalf("no session on connection %d; the server's requests: %v", step.conn, s.requests())
			}
			<-tick.C
			if err := f.WriteFrame(step.fr[i]); err != nil {
				t.Fatal(err)
			}
		}
	}
	if n := strings.Count(logs.String(), "destination failed"); n != 2 {
		t.Errorf("%d failures logged, want both refusals:\n%s", n, logs.String())
	}
}

// TestDescribe checks the words an operator reads for the answers of Darwin Streaming Server
// that need them.
func TestDescribe(t *testing.T) {
	status := func(code base.StatusCode, msg string) error {
		return liberrors.ErrClientBadStatusCode{Code: code, Message: msg}
	}
	for _, tc := range []struct {
		req  string
		err  error
		want []string
	}{
		{"ANNOUNCE", status(base.StatusUnauthorized, "Unauthorized"), []string{
			"authentication failed (401 Unauthorized)", "check user and password",
			"a corrected password_file is read at the next reload",
			// with authenticate_local_broadcast DSS answers 401 for a missing directory
			"authenticate_local_broadcast", "directory does not exist under the movies folder",
		}},
		{"ANNOUNCE", status(base.StatusServiceUnavailable, "Service Unavailable"), []string{
			"503 Service Unavailable", "the server takes no session now",
			"Darwin Streaming Server answers so while it shuts down or when it is over its limits",
			"maximum_connections", "tries again",
		}},
		{"SETUP", status(base.StatusServiceUnavailable, "Service Unavailable"), []string{"SETUP: 503"}},
	} {
		got := describe(tc.req, tc.err, net.IPv4(127, 0, 0, 1)).Error()
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s %v: %q lacks %q", tc.req, tc.err, got, w)
			}
		}
	}
}

// TestClientMessagesThroughLogger has the server send malformed RTCP, as interleaved data, over
// and over: what the client has to say about it goes through the destination's logger, once,
// and nothing through the standard logger, which the library would use by itself.
func TestClientMessagesThroughLogger(t *testing.T) {
	var std fftest.Buffer
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	const garbage = 50
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, func(s *fakeServer) {
		s.afterRecord = func(_ int, c *conn.Conn) {
			for range garbage {
				// channel 1: the RTCP of the first track; not RTCP at all
				if c.WriteInterleavedFrame(&base.InterleavedFrame{Channel: 1, Payload: []byte("garbage!")},
					make([]byte, 64)) != nil {
					return
				}
			}
		}
	})
	var logs fftest.Buffer
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr)
	fftest.WaitFor(t, 10*time.Second, "every malformed packet read", func() bool {
		d := f.dests[0]
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.client != nil && d.client.Stats().Session.RTCPPacketsInError == garbage
	})
	if out := std.String(); out != "" {
		t.Errorf("the standard logger got:\n%s", out)
	}
	if n := strings.Count(logs.String(), "cannot decode"); n != 1 {
		t.Errorf("%d lines of the destination's logger about it, want 1:\n%s", n, logs.String())
	}
}

// TestStalledServer streams to a server that stops reading: within seconds, not when the
// buffers on the way are full, the destination shows as stalled, with the bytes waiting and
// since when none left; when the server reads again, it records again.
func TestStalledServer(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	resume := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.stallAfter = func(int) int { return 20 }
		s.resume = resume
	})
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feedFast(t, f, fr)

	fftest.WaitFor(t, 10*time.Second, "the server's 20 packets", func() bool { return len(s.received(0)) >= 20 })
	stalled := time.Now()
	fftest.WaitFor(t, 5*time.Second, "the destination stalled", func() bool { return f.Stats()[0].State == StateStalled })
	st := f.Stats()[0]
	if st.BytesWaiting == 0 || st.StalledSince.IsZero() || st.StalledSince.After(time.Now().Add(-stallAfter)) ||
		st.StalledSince.Before(stalled.Add(-time.Second)) || st.ConnectedSince.IsZero() || st.Transport != "tcp" ||
		!strings.Contains(st.LastError, "the server is not reading what is sent") {
		t.Errorf("stalled: %+v; want bytes waiting, since when none left (the server stopped at %v), the "+
			"session and the cause", st, stalled)
	}

	close(resume)
	waitState(t, f, 0, StateRecording)
	if st := f.Stats()[0]; !st.StalledSince.IsZero() || st.Reconnects != 0 {
		t.Errorf("recording again: %+v, want the same session, not stalled", st)
	}
}

// TestReportOnAFullQueueKeepsTheSession has a server stop reading until the client's write queue
// is full, with sender reports due all along: a report that finds the queue full waits for the
// next period, as a frame does, and the session goes on when the server reads again. Before, the
// report ended the session as "connection lost", and every reconnect cost the viewers a new
// ANNOUNCE.
func TestReportOnAFullQueueKeepsTheSession(t *testing.T) {
	fr := demuxtest.Frames(t, "2", "-c:v", "libx264", "-tune", "zerolatency", "-b:v", "20M", "-minrate", "20M",
		"-maxrate", "20M", "-bufsize", "20M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-ac", "2")
	resume := make(chan struct{})
	s := newFakeServer(t, func(s *fakeServer) {
		s.stallAfter = func(int) int { return 20 }
		s.resume = resume
	})
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
		senderReports: 20 * time.Millisecond}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	feedFast(t, f, fr)

	fftest.WaitFor(t, 30*time.Second, "the client's queue full", func() bool { return f.Stats()[0].PacketsDropped > 0 })
	first := f.Stats()[0].PacketsDropped
	// thousands of packets more dropped: a second or more of reports due on a full queue
	fftest.WaitFor(t, 30*time.Second, "a second more of a full queue", func() bool {
		st := f.Stats()[0]
		if st.State != StateRecording && st.State != StateStalled {
			t.Fatalf("the session ended: %s (%s)", st.State, st.LastError)
		}
		return st.PacketsDropped > first+1500
	})
	close(resume)
	waitState(t, f, 0, StateRecording)
	if st := f.Stats()[0]; st.Reconnects != 0 || len(s.requestsOf(base.Announce)) != 1 {
		t.Errorf("%+v, %d ANNOUNCEs: want the first session throughout", st, len(s.requestsOf(base.Announce)))
	}
}

// feedFast writes frames to f at twice a live source's pace, the clip again and again (each time
// as a new run), until the test has ended; a write after the test's deferred Close only fills
// queues that nobody reads any more.
func feedFast(t *testing.T, f *Fanout, fr []*demux.Frame) {
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fed)
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			if i%len(fr) == 0 && i > 0 {
				f.Discontinuity()
			}
			if err := f.WriteFrame(fr[i%len(fr)]); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-fed })
}
