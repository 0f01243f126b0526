package inject

import (
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/conn"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
)

// testVerifyTimings are the return check's delays in tests: a stream without packets for 2 s
// is lost, 1 s of foreign packets are not ours.
var testVerifyTimings = verifyTimings{
	noPackets: 2 * time.Second,
	notOurs:   time.Second,
	settle:    300 * time.Millisecond,
	timeout:   3 * time.Second,
	retryMin:  100 * time.Millisecond,
	retryMax:  500 * time.Millisecond,
	poll:      20 * time.Millisecond,
}

// liveFeed writes frames to f at the pace of their timestamps, round and round (a
// discontinuity at each round, as a restarted ffmpeg), until the returned stop is called.
func liveFeed(t *testing.T, f *Fanout, fr []*demux.Frame) (stop func()) {
	t.Helper()
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		timer := time.NewTimer(0)
		defer timer.Stop()
		start := time.Now()
		for i := 0; ; i++ {
			select {
			case <-quit:
				return
			case <-timer.C:
			}
			k := i % len(fr)
			if i > 0 && k == 0 {
				f.Discontinuity()
				start = time.Now()
			}
			if err := f.WriteFrame(fr[k]); err != nil {
				t.Error(err)
				return
			}
			next := time.Duration(0)
			if k+1 < len(fr) {
				next = time.Duration(fr[k+1].DTS-fr[0].DTS) * time.Second / 90000
			} else {
				next = time.Duration(fr[k].DTS-fr[0].DTS)*time.Second/90000 + 40*time.Millisecond
			}
			timer.Reset(time.Until(start.Add(next)))
		}
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			close(quit)
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

func startRelay(t *testing.T) *relay.Server {
	t.Helper()
	r := &relay.Server{Address: "127.0.0.1:0"}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// waitVerify waits until destination i of f shows the return check in state with cause.
func waitVerify(t *testing.T, f *Fanout, i int, timeout time.Duration, state, cause string) Verify {
	t.Helper()
	var v Verify
	fftest.WaitFor(t, timeout, "destination verify "+state+" "+cause, func() bool {
		v = f.Stats()[i].Verify
		return v.State == state && v.Cause == cause
	})
	return v
}

// liveFrames are 2 s of test pattern with an IDR every 10 frames and audio.
func liveFrames(t *testing.T) []*demux.Frame {
	return demuxtest.Frames(t, "2", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
}

// TestVerifyAtRelay pushes to the built-in relay, which serves the stream with an SSRC of its
// own: the check finds it by its timestamps, with the production timings, within 10 s of the
// first RECORD, and measures the relay's delay.
func TestVerifyAtRelay(t *testing.T) {
	fr := liveFrames(t)
	r := startRelay(t)
	ev := verifyEvents()
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: "rtsp://" + r.Addr() + "/lobby.sdp"}}, OnEvent: ev.sink}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v := f.Stats()[0].Verify; v.State != VerifyChecking {
		t.Errorf("before the first frame: %+v, want checking", v)
	}
	liveFeed(t, f, fr)
	waitState(t, f, 0, StateRecording)
	v := waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")
	st := f.Stats()[0]
	if took := v.Since.Sub(st.ConnectedSince); took > 10*time.Second {
		t.Errorf("verified %v after the first RECORD, want within 10 s", took)
	}
	if v.ServerDelay <= 0 || v.ServerDelay > time.Second {
		t.Errorf("server delay %v, want a relay's few milliseconds", v.ServerDelay)
	}
	if got := ev.withCauses(); !slices.Equal(got, []string{event.DestinationVerified}) {
		t.Errorf("events %q, want one verified", got)
	}
	e := ev.all()[0]
	if e.Channel != "lobby" || e.Destination != st.URL || e.ServerDelay <= 0 {
		t.Errorf("event %+v", e)
	}
	if p := r.Paths(); len(p) != 1 || p[0].Checks != 1 || p[0].Readers != 0 {
		t.Errorf("relay paths %+v, want the check playing, counted apart from the readers", p)
	}
}

// TestVerifyDescribe404 pushes to a server that takes ANNOUNCE, SETUP and RECORD but answers
// DESCRIBE with 404, as a server that does not serve what it takes: unverified, with the
// production timings within 15 s, and retried without hammering the server.
func TestVerifyDescribe404(t *testing.T) {
	fr := liveFrames(t)
	s := newFakeServer(t, func(s *fakeServer) {
		s.respondCheck = func(req *base.Request) *base.Response {
			if req.Method == base.Describe {
				return &base.Response{StatusCode: base.StatusNotFound}
			}
			return nil
		}
	})
	ev := verifyEvents()
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp")}}, OnEvent: ev.sink}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitState(t, f, 0, StateRecording)
	v := waitVerify(t, f, 0, 15*time.Second, VerifyUnverified, "DESCRIBE 404")
	if took := v.Since.Sub(f.Stats()[0].ConnectedSince); took > 15*time.Second {
		t.Errorf("unverified %v after the first RECORD, want within 15 s", took)
	}
	// the retries: 2 s, doubling
	describes := func() []fakeRequest {
		var out []fakeRequest
		for _, r := range s.checkRequests() {
			if r.req.Method == base.Describe {
				out = append(out, r)
			}
		}
		return out
	}
	fftest.WaitFor(t, 15*time.Second, "a second DESCRIBE", func() bool { return len(describes()) >= 2 })
	d := describes()
	if gap := d[1].at.Sub(d[0].at); gap < time.Second {
		t.Errorf("DESCRIBE again after %v, want a backoff of about 2 s", gap)
	}
	if got := ev.withCauses(); !slices.Equal(got, []string{event.DestinationUnverified + " DESCRIBE 404"}) {
		t.Errorf("events %q, want one unverified", got)
	}
	if st := f.Stats()[0]; st.State != StateRecording || st.Reconnects != 0 {
		t.Errorf("the push: %+v, want it recording on, untouched", st)
	}
}

// TestVerifyNotOurStream has the check play a relay path that another channel publishes: not
// our stream. Pointed back at its own path (a change of verify_url, which keeps the push's
// session), it is verified again.
func TestVerifyNotOurStream(t *testing.T) {
	fr := liveFrames(t)
	r := startRelay(t)
	other := &Fanout{Channel: "hall", Targets: []Target{{URL: "rtsp://" + r.Addr() + "/hall.sdp", NoVerify: true}}}
	if err := other.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	liveFeed(t, other, fr)

	ev := verifyEvents()
	target := Target{URL: "rtsp://" + r.Addr() + "/lobby.sdp", VerifyURL: "rtsp://" + r.Addr() + "/hall.sdp"}
	f := &Fanout{Channel: "lobby", Targets: []Target{target}, OnEvent: ev.sink, verifyTimings: testVerifyTimings}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitState(t, f, 0, StateRecording)
	waitVerify(t, f, 0, 15*time.Second, VerifyUnverified, causeNotOurs)
	since := f.Stats()[0].ConnectedSince

	target.VerifyURL = ""
	if err := f.SetTargets([]Target{target}); err != nil {
		t.Fatal(err)
	}
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")
	if st := f.Stats()[0]; st.ConnectedSince != since || st.Reconnects != 0 {
		t.Errorf("the push after verify_url changed: %+v, want the same session", st)
	}
	if got := ev.withCauses(); !slices.Equal(got, []string{event.DestinationUnverified + " " + causeNotOurs, event.DestinationVerified}) {
		t.Errorf("events %q", got)
	}
}

// pausableProxy passes TCP connections to a server, and can stop passing what the server
// sends, keeping the connections: a server that stops serving a stream it still takes (Darwin
// Streaming Server stopped with SIGSTOP).
type pausableProxy struct {
	l      net.Listener
	to     string
	wg     sync.WaitGroup
	mu     sync.Mutex
	paused bool
	resume chan struct{}
	conns  []net.Conn
}

func newPausableProxy(t *testing.T, to string) *pausableProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pausableProxy{l: l, to: to, resume: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *pausableProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.to)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, s)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			io.Copy(s, c) //nolint:errcheck
			s.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer c.Close()
			buf := make([]byte, 32<<10)
			for {
				n, err := s.Read(buf)
				p.mu.Lock()
				paused, resume := p.paused, p.resume
				p.mu.Unlock()
				if paused {
					<-resume
				}
				if n > 0 {
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// pause stops what the server sends from reaching the clients; unpause lets it through again.
func (p *pausableProxy) pause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.paused = true
}

func (p *pausableProxy) unpause() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.paused {
		p.paused = false
		close(p.resume)
		p.resume = make(chan struct{})
	}
}

func (p *pausableProxy) close() {
	p.l.Close()
	p.unpause()
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// TestVerifyServerStopsServing has the check play the relay through a proxy that stops passing
// what the relay sends, while the push goes on: unverified, "no packets", within the time set;
// verified again once the server serves again.
func TestVerifyServerStopsServing(t *testing.T) {
	fr := liveFrames(t)
	r := startRelay(t)
	p := newPausableProxy(t, r.Addr())
	ev := verifyEvents()
	var logs fftest.Buffer
	f := &Fanout{Channel: "lobby", OnEvent: ev.sink, verifyTimings: testVerifyTimings,
		Logger:  slog.New(slog.NewTextHandler(&logs, nil)),
		Targets: []Target{{URL: "rtsp://" + r.Addr() + "/lobby.sdp", VerifyURL: "rtsp://" + p.l.Addr().String() + "/lobby.sdp"}}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")

	p.pause()
	paused := time.Now()
	v := waitVerify(t, f, 0, 15*time.Second, VerifyUnverified, "no packets for 2 s")
	if took := v.Since.Sub(paused); took < testVerifyTimings.noPackets/2 || took > testVerifyTimings.noPackets+2*time.Second {
		t.Errorf("unverified %v after the server stopped serving, want after %v", took, testVerifyTimings.noPackets)
	}
	p.unpause()
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")

	// Again, at once: every change is an event, but the log has the repeated one once.
	p.pause()
	waitVerify(t, f, 0, 15*time.Second, VerifyUnverified, "no packets for 2 s")
	p.unpause()
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")
	lost := event.DestinationUnverified + " no packets for 2 s"
	if got := ev.withCauses(); !slices.Equal(got, []string{event.DestinationVerified, lost, event.DestinationVerified,
		lost, event.DestinationVerified}) {
		t.Errorf("events %q", got)
	}
	if u, v := strings.Count(logs.String(), `msg="unverified:`), strings.Count(logs.String(), `msg="verified:`); u != 1 || v != 2 {
		t.Errorf("%d lines unverified and %d verified, want 1 and 2:\n%s", u, v, logs.String())
	}
}

// TestVerifyOff: with verify = false the server is never asked to play.
func TestVerifyOff(t *testing.T) {
	fr := liveFrames(t)
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp"), NoVerify: true}},
		verifyTimings: testVerifyTimings}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitState(t, f, 0, StateRecording)
	// a check would have asked within its first poll, long before a second of packets
	fftest.WaitFor(t, 10*time.Second, "1 s of packets", func() bool { return len(s.received(0)) > 100 })
	if st := f.Stats()[0]; st.Verify.State != VerifyOff {
		t.Errorf("verify %+v, want off", st.Verify)
	}
	if r := s.checkRequests(); len(r) != 0 {
		t.Errorf("%d requests of a return check, want none", len(r))
	}
	if d := s.requestsOf(base.Describe); len(d) != 0 {
		t.Errorf("%d DESCRIBE, want none", len(d))
	}
}

// reflect has s serve its return checks what its first push session sent, as a reflecting
// server does, each packet changed by edit first: the SDP the push announced, the packets
// from the latest IDR the push sent on.
func reflect(s *fakeServer, edit func(p *rtp.Packet)) {
	s.respondCheck = func(req *base.Request) *base.Response {
		switch req.Method {
		case base.Describe:
			ann := s.requestsOf(base.Announce)
			if len(ann) == 0 {
				return &base.Response{StatusCode: base.StatusNotFound}
			}
			return &base.Response{StatusCode: base.StatusOK, Body: ann[0].Body, Header: base.Header{
				"Content-Type": base.HeaderValue{"application/sdp"},
				"Content-Base": base.HeaderValue{req.URL.String() + "/"},
			}}
		case base.Setup:
			return &base.Response{StatusCode: base.StatusOK, Header: base.Header{
				"Transport": req.Header["Transport"], "Session": base.HeaderValue{"87654321"}}}
		}
		return nil
	}
	s.afterPlay = func(c *conn.Conn) {
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		buf := make([]byte, 2048)
		next := -1
		for {
			select {
			case <-s.done:
				return
			case <-tick.C:
			}
			pkts := s.received(0)
			if next < 0 {
				// start at the latest IDR's first packet, with its SPS
				for i := len(pkts) - 1; i >= 0 && next < 0; i-- {
					if pkts[i].channel == 0 && startsWithSPS(pkts[i].pkt.Payload) {
						next = i
					}
				}
				if next < 0 {
					continue
				}
			}
			for ; next < len(pkts); next++ {
				p := pkts[next].pkt
				edit(&p)
				b, err := p.Marshal()
				if err != nil {
					panic(err)
				}
				fr := base.InterleavedFrame{Channel: pkts[next].channel, Payload: b}
				if len(buf) < 4+len(b) {
					buf = make([]byte, 4+len(b))
				}
				if c.WriteInterleavedFrame(&fr, buf) != nil {
					return
				}
			}
		}
	}
}

// TestVerifyReadsWhatTheServerSent checks the return check against servers that reflect the
// stream with one of its marks changed, each in turn: what gortsplib hands the check must be
// the SSRC and the RTP timestamps as the server sent them (a version that set either on the
// way would fail here), and either of them, going on, is enough.
func TestVerifyReadsWhatTheServerSent(t *testing.T) {
	fr := liveFrames(t)
	for _, tc := range []struct {
		name  string
		edit  func(p *rtp.Packet)
		cause string
	}{
		{"as sent", func(*rtp.Packet) {}, ""},
		// Darwin Streaming Server, the built-in relay
		{"SSRC of the server's", func(p *rtp.Packet) { p.SSRC ^= 0x5a5a5a5a }, ""},
		{"timestamps of the server's", func(p *rtp.Packet) { p.Timestamp += 1 << 30 }, ""},
		{"neither ours", func(p *rtp.Packet) { p.SSRC ^= 0x5a5a5a5a; p.Timestamp += 1 << 30 }, causeNotOurs},
		// a player would see nothing new: the server repeats one frame's time
		{"stuck", func(p *rtp.Packet) { p.Timestamp = 1 }, causeStandsStill},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) { reflect(s, tc.edit) })
			f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp")}}, verifyTimings: testVerifyTimings}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			liveFeed(t, f, fr)
			state := VerifyVerified
			if tc.cause != "" {
				state = VerifyUnverified
			}
			v := waitVerify(t, f, 0, 15*time.Second, state, tc.cause)
			if tc.cause == "" && strings.HasPrefix(tc.name, "timestamps") != (v.ServerDelay == 0) {
				t.Errorf("server delay %v: want one exactly when the timestamps are ours", v.ServerDelay)
			}
		})
	}
}

// TestVerifyVideoOnly: a server that serves the video of a channel with audio.
func TestVerifyVideoOnly(t *testing.T) {
	fr := liveFrames(t)
	s := newFakeServer(t, func(s *fakeServer) {
		reflect(s, func(*rtp.Packet) {})
		serve := s.respondCheck
		s.respondCheck = func(req *base.Request) *base.Response {
			res := serve(req)
			if req.Method == base.Describe && res.StatusCode == base.StatusOK {
				// the SDP without its audio media
				sdp := string(res.Body)
				if i := strings.Index(sdp, "m=audio"); i >= 0 {
					res.Body = []byte(sdp[:i])
				}
			}
			return res
		}
	})
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp")}}, verifyTimings: testVerifyTimings}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitVerify(t, f, 0, 15*time.Second, VerifyUnverified, causeVideoOnly)
}

// TestVerifyEvery: with verify_every the check plays the stream for a short while, keeps its
// finding, and plays it again a period later.
func TestVerifyEvery(t *testing.T) {
	fr := liveFrames(t)
	r := startRelay(t)
	f := &Fanout{Channel: "lobby", verifyTimings: testVerifyTimings,
		Targets: []Target{{URL: "rtsp://" + r.Addr() + "/lobby.sdp", VerifyEvery: time.Second}}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")
	// the player leaves once the stream is verified, and comes back
	fftest.WaitFor(t, 10*time.Second, "the check's player gone", func() bool { return r.Paths()[0].Checks == 0 })
	if v := f.Stats()[0].Verify; v.State != VerifyVerified {
		t.Errorf("between checks: %+v, want verified kept", v)
	}
	fftest.WaitFor(t, 10*time.Second, "the next check's player", func() bool { return r.Paths()[0].Checks == 1 })
}

// TestVerifyTurnedOff: verify = false on a reload stops the check, and keeps the push.
func TestVerifyTurnedOff(t *testing.T) {
	fr := liveFrames(t)
	r := startRelay(t)
	target := Target{URL: "rtsp://" + r.Addr() + "/lobby.sdp"}
	f := &Fanout{Channel: "lobby", verifyTimings: testVerifyTimings, Targets: []Target{target}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitVerify(t, f, 0, 15*time.Second, VerifyVerified, "")
	since := f.Stats()[0].ConnectedSince
	target.NoVerify = true
	if err := f.SetTargets([]Target{target}); err != nil {
		t.Fatal(err)
	}
	waitVerify(t, f, 0, time.Second, VerifyOff, "")
	fftest.WaitFor(t, 10*time.Second, "the check's player gone", func() bool { return r.Paths()[0].Checks == 0 })
	if st := f.Stats()[0]; st.ConnectedSince != since {
		t.Errorf("the push restarted: %+v", st)
	}
	target.VerifyURL = "http://elsewhere/"
	target.NoVerify = false
	if err := f.SetTargets([]Target{target}); err == nil || !strings.Contains(err.Error(), "verify URL") {
		t.Errorf("SetTargets with an http verify URL: %v, want an error", err)
	}
	if v := f.Stats()[0].Verify; v.State != VerifyOff {
		t.Errorf("after a refused change: %+v, want off still", v)
	}
}

// TestSentTimes checks the ring of send times across its wrap.
func TestSentTimes(t *testing.T) {
	var s sentTimes
	start := time.Now()
	for i := range sentRingSize + 10 {
		s.add(uint32(i*3600), start.Add(time.Duration(i)*40*time.Millisecond))
		s.add(uint32(i*3600), start.Add(time.Hour)) // a frame's second unit: no new entry
	}
	if _, ok := s.lookup(0); ok {
		t.Error("the oldest frame is still found past the ring's size")
	}
	at, ok := s.lookup(uint32((sentRingSize + 9) * 3600))
	if want := start.Add(time.Duration(sentRingSize+9) * 40 * time.Millisecond); !ok || !at.Equal(want) {
		t.Errorf("the newest frame: %v %v, want %v", at, ok, want)
	}
	if at, ok := s.lookup(uint32(10 * 3600)); !ok || !at.Equal(start.Add(400*time.Millisecond)) {
		t.Errorf("the oldest kept frame: %v %v", at, ok)
	}
}

// TestVerifyWaitsForRecording: a destination the server refuses is not played (the server is
// not asked for what it was not given), and says why it is not verified.
func TestVerifyWaitsForRecording(t *testing.T) {
	fr := liveFrames(t)
	s := newFakeServer(t, func(s *fakeServer) {
		s.respond = func(_ int, req *base.Request) *base.Response {
			if req.Method == base.Announce {
				return &base.Response{StatusCode: base.StatusForbidden}
			}
			return nil
		}
	})
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp")}}, verifyTimings: testVerifyTimings,
		RetryMin: 50 * time.Millisecond, RetryMax: 100 * time.Millisecond}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	liveFeed(t, f, fr)
	waitVerify(t, f, 0, 10*time.Second, VerifyChecking, causeNotRecording)
	fftest.WaitFor(t, 10*time.Second, "three refused pushes", func() bool { return len(s.requestsOf(base.Announce)) >= 3 })
	if r := s.checkRequests(); len(r) != 0 {
		t.Errorf("%d requests of the return check to a server that took nothing", len(r))
	}
}

// TestVerifyOneTrack: a channel of video alone is verified without audio; one of audio alone
// by its audio timestamps.
func TestVerifyOneTrack(t *testing.T) {
	for _, tc := range []struct {
		name  string
		extra []string
	}{
		{"video", []string{"-map", "0:v", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10"}},
		{"audio", []string{"-map", "1:a", "-c:a", "aac", "-ac", "2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fr := demuxtest.Frames(t, "2", tc.extra...)
			r := startRelay(t)
			f := &Fanout{Channel: "lobby", Targets: []Target{{URL: "rtsp://" + r.Addr() + "/lobby.sdp"}},
				verifyTimings: testVerifyTimings}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			liveFeed(t, f, fr)
			if v := waitVerify(t, f, 0, 15*time.Second, VerifyVerified, ""); v.ServerDelay <= 0 {
				t.Errorf("server delay %v, want one", v.ServerDelay)
			}
		})
	}
}

// TestJudgeKeepsDelay: while no frame of the channel comes back (a pause of the frames, a
// stalled push), a verified stream keeps the server delay last measured rather than showing 0
// (seen on Darwin Streaming Server stopped with SIGSTOP).
func TestJudgeKeepsDelay(t *testing.T) {
	start := time.Now()
	w := &playWatch{start: start, first: start, last: start, lastNew: start, firstOurs: start, lastOurs: start,
		key: 1, video: true, delays: []timedDelay{{start, 900 * time.Millisecond}, {start, 800 * time.Millisecond}}}
	tm := defaultVerifyTimings
	if cause, ok, delay := w.judge(start.Add(tm.settle), tm, false); !ok || delay != 800*time.Millisecond {
		t.Fatalf("judge: %q %v %v, want verified with the least delay, 800ms", cause, ok, delay)
	}
	// 6 s on, the frames sent later have not come back: the delays measured are past the window
	w.last, w.lastNew, w.lastOurs = start.Add(5*time.Second), start.Add(5*time.Second), start.Add(5*time.Second)
	if cause, ok, delay := w.judge(start.Add(6*time.Second), tm, false); !ok || delay != 800*time.Millisecond {
		t.Errorf("judge with no delay in the window: %q %v %v, want verified with 800ms kept", cause, ok, delay)
	}
	for d, want := range map[time.Duration]string{
		10*time.Second + 200*time.Millisecond: "10 s", 2 * time.Second: "2 s", 1500 * time.Millisecond: "1.5 s",
	} {
		if got := seconds(d); got != want {
			t.Errorf("seconds(%v) = %q, want %q", d, got, want)
		}
	}
}

// TestDelayLeavesOutTheJoin: the frames that come back in the first settle after the channel's
// first are no figure of the server's delay (a cached GOP sent at once, or Darwin Streaming
// Server's first frames, sent ahead of its buffer), and the check waits for a figure from those
// after them, up to a second settle.
func TestDelayLeavesOutTheJoin(t *testing.T) {
	var sent sentTimes
	sent.add(1000, time.Now().Add(-time.Second))
	tm := defaultVerifyTimings
	for _, tc := range []struct {
		settle time.Duration
		delays int
	}{{time.Hour, 0}, {0, 1}} {
		w := &playWatch{sent: &sent, video: true, key: 1, settle: tc.settle}
		w.lead(&rtp.Packet{Header: rtp.Header{Timestamp: 1000}})
		if len(w.delays) != tc.delays {
			t.Errorf("settle %v: %d delays, want %d", tc.settle, len(w.delays), tc.delays)
		}
	}
	start := time.Now()
	w := &playWatch{start: start, first: start, last: start, lastNew: start, firstOurs: start, lastOurs: start,
		key: 1, video: true}
	if _, ok, _ := w.judge(start.Add(tm.settle), tm, false); ok {
		t.Error("verified at the first settle with no figure of the delay, want to wait for one")
	}
	w.last, w.lastNew, w.lastOurs = start.Add(2*tm.settle), start.Add(2*tm.settle), start.Add(2*tm.settle)
	if cause, ok, delay := w.judge(start.Add(2*tm.settle), tm, false); !ok || delay != 0 {
		t.Errorf("judge after two settles without a figure: %q %v %v, want verified without one", cause, ok, delay)
	}
}
