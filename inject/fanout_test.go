package inject

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/auth"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitState waits until destination i of f is in state.
func waitState(t *testing.T, f *Fanout, i int, state string) {
	t.Helper()
	fftest.WaitFor(t, 15*time.Second, "destination "+strconv.Itoa(i)+" "+state, func() bool {
		return f.Stats()[i].State == state
	})
}

// waitSettled waits until every packet offered to destination i is on the wire or counted as
// dropped.
func waitSettled(t *testing.T, f *Fanout, i int) {
	t.Helper()
	fftest.WaitFor(t, 10*time.Second, "every packet sent or dropped", func() bool {
		st := f.Stats()[i]
		return st.PacketsSent+st.PacketsDropped == f.dests[i].offered.Load()
	})
}

// feedLive writes frames to f at a live source's pace, the clip again and again (each time as a
// new run), until the test has ended.
func feedLive(t *testing.T, f *Fanout, fr []*demux.Frame) {
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fed)
		timer := time.NewTimer(0)
		defer timer.Stop()
		start := time.Now()
		var offset time.Duration // of the current run
		for i := 0; ; i++ {
			x := fr[i%len(fr)]
			if i%len(fr) == 0 && i > 0 {
				f.Discontinuity()
				offset = time.Since(start)
			}
			if err := f.WriteFrame(x); err != nil {
				t.Error(err)
				return
			}
			next := fr[(i+1)%len(fr)]
			at := offset + time.Duration(next.DTS-fr[0].DTS)*time.Second/90000
			if (i+1)%len(fr) == 0 {
				at = offset + time.Duration(x.DTS-fr[0].DTS)*time.Second/90000 + 40*time.Millisecond
			}
			timer.Reset(time.Until(start.Add(at)))
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-fed })
}

// push writes frames to f in real time order, waiting for destination 0 to record after the
// first, so that the test does not depend on how fast a connection is set up.
func push(t *testing.T, f *Fanout, fr []*demux.Frame) {
	t.Helper()
	for i, x := range fr {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitState(t, f, 0, StateRecording)
		}
	}
}

func TestFanoutToFFmpegReceiver(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	url, wait := fftest.Receiver(t)

	f := &Fanout{Channel: "test", Targets: []Target{{URL: url}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	push(t, f, fr)
	waitSettled(t, f, 0)
	f.Close() // TEARDOWN: the receiver ends
	out := wait()

	streams, err := fftest.Probe(out, "-count_packets")
	if err != nil {
		t.Fatal(err)
	}
	fftest.CheckAV(t, streams, fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2, VideoPackets: 50})
	if st := f.Stats()[0]; st.PacketsDropped != 0 || st.State != StateStopped {
		t.Errorf("stats after close: %+v", st)
	}
}

// videoStartsWithParameterSets reports whether the first video packet carries an SPS, alone or
// in a STAP-A, so that a server's players can decode from it.
func videoStartsWithParameterSets(pkts []fakePacket) bool {
	for _, p := range pkts {
		if p.channel != 0 || len(p.pkt.Payload) < 4 {
			continue
		}
		switch p.pkt.Payload[0] & 0x1f {
		case 7:
			return true
		case 24: // STAP-A: 2-byte size, then the first NALU
			return p.pkt.Payload[3]&0x1f == 7
		}
		return false
	}
	return false
}

// TestAnnounceSDPAndSetupURLs pushes to a server that checks SETUP URLs as Darwin Streaming
// Server does: one not ending in the track number gets 400.
func TestAnnounceSDPAndSetupURLs(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	var refused atomic.Int32
	s := newFakeServer(t, func(s *fakeServer) {
		s.respond = func(_ int, req *base.Request) *base.Response {
			if p := req.URL.Path; req.Method == base.Setup && (p == "" || p[len(p)-1] < '0' || p[len(p)-1] > '9') {
				refused.Add(1)
				return &base.Response{StatusCode: base.StatusBadRequest}
			}
			return nil
		}
	})
	f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/live/lobby.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	push(t, f, fr)
	fftest.WaitFor(t, 10*time.Second, "packets", func() bool { return len(s.received(0)) > 0 })
	f.Close()
	fftest.WaitFor(t, 10*time.Second, "TEARDOWN", func() bool { return len(s.requestsOf(base.Teardown)) > 0 })

	ann := s.requestsOf(base.Announce)[0]
	sdp := string(ann.Body)
	for _, want := range []string{
		"s=lobby", "m=video 0 RTP/AVP 96", "a=rtpmap:96 H264/90000", "packetization-mode=1",
		"sprop-parameter-sets=", "m=audio 0 RTP/AVP 97", "a=rtpmap:97 mpeg4-generic/48000/2",
		"mode=AAC-hbr", "config=", "a=control:trackID=0", "a=control:trackID=1",
	} {
		if !strings.Contains(sdp, want) {
			t.Errorf("SDP lacks %q:\n%s", want, sdp)
		}
	}
	if cl := ann.Header["Content-Length"]; len(cl) != 1 || cl[0] != strconv.Itoa(len(ann.Body)) {
		t.Errorf("ANNOUNCE Content-Length %v, body %d bytes", cl, len(ann.Body))
	}
	var setups []string
	for _, r := range s.requestsOf(base.Setup) {
		setups = append(setups, r.URL.String())
	}
	want := []string{s.url("/live/lobby.sdp/trackID=0"), s.url("/live/lobby.sdp/trackID=1")}
	if !slices.Equal(setups, want) {
		t.Errorf("SETUP URLs %v, want %v", setups, want)
	}
	if !videoStartsWithParameterSets(s.received(0)) {
		t.Errorf("the stream does not start with SPS/PPS")
	}
	if st := f.Stats()[0]; refused.Load() != 0 || st.Reconnects != 0 {
		t.Errorf("%d SETUPs refused, stats %+v", refused.Load(), st)
	}
}

func TestReconnectResumesAtIDRWithSameSequence(t *testing.T) {
	// An IDR every 10 frames, so that a reconnect has one to start from soon.
	fr := demuxtest.Frames(t, "2", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
	s := newFakeServer(t, func(s *fakeServer) {
		s.dropAfter = func(n int) int {
			if n == 0 {
				return 30 // the server goes away mid-stream
			}
			return 0
		}
	})
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	half := len(fr) / 2
	push(t, f, fr[:half])
	fftest.WaitFor(t, 10*time.Second, "drop noticed", func() bool { return f.Stats()[0].State != StateRecording })
	if st := f.Stats()[0]; !strings.Contains(st.LastError, "connection lost") {
		t.Errorf("last error %q, want the connection lost", st.LastError)
	}
	for _, x := range fr[half:] {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	fftest.WaitFor(t, 15*time.Second, "second session", func() bool { return len(s.received(1)) > 0 })
	waitSettled(t, f, 0)
	f.Close()
	fftest.WaitFor(t, 10*time.Second, "TEARDOWN", func() bool { return slices.Contains(s.requests(), "1:TEARDOWN") })

	reqs := s.requests()
	if !slices.Contains(reqs, "1:ANNOUNCE") || !slices.Contains(reqs, "1:RECORD") {
		t.Fatalf("no second session: %v", reqs)
	}
	first, second := s.received(0), s.received(1)
	if !videoStartsWithParameterSets(second) {
		t.Errorf("second session does not start at an IDR with SPS/PPS")
	}
	// From its IDR on, the second session lacks no frame: what was queued after the IDR during
	// the reconnect is sent, not dropped.
	video := videoOf(second)
	checkContiguous(t, "second session", video)
	checkEndsWithLastFrame(t, "second session", video, firstOnChannel(first, 0).Timestamp, fr)
	last := lastOnChannel(first, 0)
	next := firstOnChannel(second, 0)
	if next.SequenceNumber-last.SequenceNumber >= 0x8000 {
		t.Errorf("video sequence went back: %d then %d", last.SequenceNumber, next.SequenceNumber)
	}
	if int32(next.Timestamp-last.Timestamp) <= 0 {
		t.Errorf("video RTP time went back: %d then %d", last.Timestamp, next.Timestamp)
	}
	if st := f.Stats()[0]; st.Reconnects != 1 || st.FailedAttempts != 0 {
		t.Errorf("%d reconnects, %d failed attempts; want the one reconnect only", st.Reconnects, st.FailedAttempts)
	}
}

// videoOf returns the video packets (interleaved channel 0) of what a fake server received.
func videoOf(pkts []fakePacket) []rtp.Packet {
	return onChannel(pkts, 0)
}

// checkContiguous asserts that no packet is missing between the first and the last.
func checkContiguous(t *testing.T, what string, pkts []rtp.Packet) {
	t.Helper()
	if len(pkts) == 0 {
		t.Errorf("%s: no packets", what)
		return
	}
	for i := 1; i < len(pkts); i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("%s: packet %d has seq %d after %d", what, i, pkts[i].SequenceNumber, pkts[i-1].SequenceNumber)
			return
		}
	}
}

// checkEndsWithLastFrame asserts that video ends with the last packet of the last video frame of
// fr, given the RTP time at which fr's first frame was sent.
func checkEndsWithLastFrame(t *testing.T, what string, video []rtp.Packet, firstTS uint32, fr []*demux.Frame) {
	t.Helper()
	var lastPTS int64
	for _, x := range fr {
		if x.Kind == demux.Video {
			lastPTS = x.PTS
		}
	}
	want := firstTS + uint32(lastPTS-fr[0].PTS)
	if len(video) == 0 {
		t.Errorf("%s: no video", what)
		return
	}
	if end := video[len(video)-1]; end.Timestamp != want || !end.Marker {
		t.Errorf("%s ends with video ts %d marker %v, want ts %d (the last frame) with marker",
			what, end.Timestamp, end.Marker, want)
	}
}

func lastOnChannel(pkts []fakePacket, ch int) rtp.Packet {
	for i := len(pkts) - 1; i >= 0; i-- {
		if pkts[i].channel == ch {
			return pkts[i].pkt
		}
	}
	return rtp.Packet{}
}

func firstOnChannel(pkts []fakePacket, ch int) rtp.Packet {
	for _, p := range pkts {
		if p.channel == ch {
			return p.pkt
		}
	}
	return rtp.Packet{}
}

// TestServerRefusalsAreRetried has a server refuse the first ANNOUNCE: each refusal shows its
// cause and state, and is retried, refused credentials slowly, the others with the backoff.
func TestServerRefusalsAreRetried(t *testing.T) {
	const retry, authRetry = 300 * time.Millisecond, time.Second
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		code  base.StatusCode
		want  string
		state string
	}{
		{base.StatusPreconditionFailed, "still held", StateBackoff},
		{base.StatusUnauthorized, "authentication failed", StateAuthFailed},
		{base.StatusForbidden, "does not exist under the movies folder", StateBackoff},
		{base.StatusNotFound, "does not let this user broadcast", StateBackoff},
	} {
		t.Run(strconv.Itoa(int(tc.code)), func(t *testing.T) {
			began := time.Now()
			s := newFakeServer(t, func(s *fakeServer) {
				s.respond = func(n int, req *base.Request) *base.Response {
					if n == 0 && req.Method == base.Announce {
						return &base.Response{StatusCode: tc.code}
					}
					return nil
				}
			})
			f := &Fanout{
				Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
				RetryMin: retry, RetryMax: retry, AuthRetry: authRetry, heldRetry: retry,
			}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			// Frames keep coming, as from a live source, until the retry records.
			for _, x := range fr {
				if err := f.WriteFrame(x); err != nil {
					t.Fatal(err)
				}
				if f.Stats()[0].FailedAttempts > 0 {
					break
				}
				fftest.WaitFor(t, 10*time.Second, "a reply", func() bool { return len(s.requests()) > 0 })
			}
			waitState(t, f, 0, tc.state)
			st := f.Stats()[0]
			if !strings.Contains(st.LastError, tc.want) {
				t.Errorf("last error %q lacks %q", st.LastError, tc.want)
			}
			// The retry is the backoff's (±20 % jitter) or, for refused credentials, later.
			wait := time.Until(st.RetryAt)
			if least := retry * 6 / 5; tc.state == StateAuthFailed && (wait <= least || wait > authRetry) {
				t.Errorf("retry in %v, want over %v (the backoff) and at most %v", wait, least, authRetry)
			} else if tc.state == StateBackoff && (wait <= 0 || wait > least) {
				t.Errorf("retry in %v, want at most %v", wait, least)
			}
			for _, x := range fr {
				if err := f.WriteFrame(x); err != nil {
					t.Fatal(err)
				}
			}
			waitState(t, f, 0, StateRecording)
			if st := f.Stats()[0]; !st.RetryAt.IsZero() || st.ConnectedSince.IsZero() || st.FailedAttempts != 1 || st.Reconnects != 0 {
				t.Errorf("recording: retry at %v, connected since %v, %d failed attempts, %d reconnects; want 1 and 0",
					st.RetryAt, st.ConnectedSince, st.FailedAttempts, st.Reconnects)
			}
			// the refusal stays, with its time: before the session that recorded
			if after := f.Stats()[0]; after.LastError != st.LastError || after.LastErrorAt.Before(began) ||
				!after.LastErrorAt.Before(after.ConnectedSince) {
				t.Errorf("recording: last error %q at %v, want %q between %v and %v", after.LastError,
					after.LastErrorAt, st.LastError, began, after.ConnectedSince)
			}
		})
	}
}

// TestSlowDestinationDoesNotHoldOthers streams to two good servers, one that stops reading in
// the middle of the stream and one that never answers: the good ones get every packet.
func TestSlowDestinationDoesNotHoldOthers(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	// A server that accepts the connection and then never answers nor reads.
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	a, b := newFakeServer(t, nil), newFakeServer(t, nil)
	stalled := newFakeServer(t, func(s *fakeServer) {
		s.stallAfter = func(int) int { return 20 }
	})
	f := &Fanout{Channel: "test", QueueSize: 1024, Targets: []Target{
		{URL: a.url("/test.sdp")},
		{URL: b.url("/test.sdp")},
		{URL: stalled.url("/test.sdp")},
		{URL: "rtsp://" + hole.Addr().String() + "/test.sdp"},
	}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pushLive(t, f, fr)
	for i, s := range []*fakeServer{a, b} {
		waitSettled(t, f, i)
		st := f.Stats()[i]
		if st.PacketsDropped != 0 || st.PacketsSent != f.dests[i].offered.Load() || st.Reconnects != 0 {
			t.Errorf("good server %d: %+v, want every one of %d packets sent", i, st, f.dests[i].offered.Load())
		}
		fftest.WaitFor(t, 10*time.Second, "every packet at the good server", func() bool {
			return uint64(len(s.received(0))) == st.PacketsSent
		})
		checkContiguous(t, "good server", videoOf(s.received(0)))
	}
	fftest.WaitFor(t, 10*time.Second, "the stalled server's 20 packets", func() bool { return len(stalled.received(0)) == 20 })
	if st := f.Stats()[3]; st.State != StateConnecting || st.PacketsSent != 0 || st.QueueDepth == 0 {
		t.Errorf("silent server: %+v, want connecting with frames queued", st)
	}
}

// pushLive writes frames at the pace of their timestamps, as from a live source, waiting for
// destination 0 to record after the first.
func pushLive(t *testing.T, f *Fanout, fr []*demux.Frame) {
	t.Helper()
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for i, x := range fr {
		<-timer.C
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitState(t, f, 0, StateRecording)
			start = time.Now()
		}
		if i+1 < len(fr) {
			timer.Reset(time.Until(start.Add(time.Duration(fr[i+1].DTS-fr[0].DTS) * time.Second / 90000)))
		}
	}
}

// TestCloseCutsStalledSession stops a destination whose server stopped reading and whose
// socket is full: Close does not wait for the client's write timeout.
func TestCloseCutsStalledSession(t *testing.T) {
	// 8 Mbit/s, constant, three times over: more than the kernel's socket buffers (some 4 MB
	// on loopback) and the client's write queue hold.
	fr := demuxtest.Frames(t, "4", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-b:v", "8M", "-minrate", "8M",
		"-maxrate", "8M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-ac", "2")
	stalled := newFakeServer(t, func(s *fakeServer) {
		s.stallAfter = func(int) int { return 20 }
	})
	f := &Fanout{Channel: "test", QueueSize: 1024, Targets: []Target{{URL: stalled.url("/test.sdp")}}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	push(t, f, fr)
	for range 2 {
		f.Discontinuity()
		for _, x := range fr {
			if err := f.WriteFrame(x); err != nil {
				t.Fatal(err)
			}
		}
	}
	fftest.WaitFor(t, 10*time.Second, "the client's write queue full", func() bool {
		return f.Stats()[0].PacketsDropped > 0
	})
	start := time.Now()
	f.Close()
	if took := time.Since(start); took > teardownGrace+time.Second {
		t.Errorf("Close took %v", took)
	}
	if st := f.Stats()[0]; st.State != StateStopped || st.Reconnects != 0 {
		t.Errorf("after Close: %+v", st)
	}
}

// TestSetTargets adds a destination to a streaming channel, then removes the first one: the one
// that stays keeps its session and every packet, the new one starts at an IDR and gets every
// packet from there, and the removed one gets its TEARDOWN.
func TestSetTargets(t *testing.T) {
	fr := demuxtest.Frames(t, "3", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
	a, b := newFakeServer(t, nil), newFakeServer(t, nil)
	ta, tb := Target{URL: a.url("/test.sdp")}, Target{URL: b.url("/test.sdp")}
	f := &Fanout{Channel: "test", Targets: []Target{ta}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	third := len(fr) / 3
	push(t, f, fr[:third])
	waitSettled(t, f, 0)

	if err := f.SetTargets([]Target{{URL: "ftp://x/y"}}); err == nil {
		t.Error("SetTargets took an ftp:// URL")
	}
	if err := f.SetTargets([]Target{tb, ta}); err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); len(st) != 2 || st[1].State != StateRecording || st[1].Reconnects != 0 {
		t.Fatalf("after adding: %+v, want the first destination still recording, second in the list", st)
	}
	for _, x := range fr[third : 2*third] {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	waitState(t, f, 0, StateRecording)
	waitSettled(t, f, 0)
	waitSettled(t, f, 1)

	if err := f.SetTargets([]Target{tb}); err != nil {
		t.Fatal(err)
	}
	// the removed destination ends on its own, TEARDOWN sent
	fftest.WaitFor(t, 10*time.Second, "TEARDOWN at the removed destination", func() bool {
		return slices.Contains(a.requests(), "0:TEARDOWN")
	})
	for _, x := range fr[2*third:] {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	waitSettled(t, f, 0)
	if st := f.Stats(); len(st) != 1 || st[0].Reconnects != 0 || st[0].PacketsDropped == 0 {
		t.Errorf("after removing: %+v, want the added destination alone, never reconnected, with the "+
			"frames before its first IDR dropped", st)
	}
	f.Close()
	fftest.WaitFor(t, 10*time.Second, "TEARDOWN at the remaining destination", func() bool {
		return slices.Contains(b.requests(), "0:TEARDOWN")
	})

	for name, s := range map[string]*fakeServer{"kept": a, "added": b} {
		if reqs := s.requests(); slices.Contains(reqs, "1:ANNOUNCE") {
			t.Errorf("%s destination connected twice: %v", name, reqs)
		}
	}
	va := videoOf(a.received(0))
	checkContiguous(t, "kept destination", va)
	checkEndsWithLastFrame(t, "kept destination", va, va[0].Timestamp, fr[:2*third])

	recv := b.received(0)
	if !videoStartsWithParameterSets(recv) {
		t.Error("the added destination does not start at an IDR with SPS/PPS")
	}
	vb := videoOf(recv)
	checkContiguous(t, "added destination", vb)
	checkEndsWithLastFrame(t, "added destination", vb, va[0].Timestamp, fr)
}

// TestDigestAuthAndSessionName pushes to a server that wants Digest authentication, as DSS
// does for broadcaster users, with the credentials given apart from the URL; the session name
// given is announced, and the password appears in no figure.
func TestDigestAuthAndSessionName(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	const realm, nonce = "Streaming Server", "5f1b4c2e"
	s := newFakeServer(t, func(s *fakeServer) {
		s.respond = func(_ int, req *base.Request) *base.Response {
			if auth.Verify(req, "broadcaster", "s3cret", nil, realm, nonce) != nil {
				return &base.Response{
					StatusCode: base.StatusUnauthorized,
					Header: base.Header{"WWW-Authenticate": auth.GenerateWWWAuthenticate(
						[]auth.VerifyMethod{auth.VerifyMethodDigestMD5}, realm, nonce)},
				}
			}
			return nil
		}
	})
	good := Target{URL: s.url("/good.sdp"), User: "broadcaster", Password: "s3cret", SessionName: "Lobby camera"}
	bad := Target{URL: s.url("/bad.sdp"), User: "broadcaster", Password: "wrong"}
	f := &Fanout{Channel: "test", Targets: []Target{good, bad}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr)
	fftest.WaitFor(t, 10*time.Second, "the bad password refused", func() bool {
		return strings.Contains(f.Stats()[1].LastError, "authentication failed")
	})

	var announced string
	for _, req := range s.requestsOf(base.Announce) {
		if strings.HasSuffix(req.URL.Path, "/good.sdp") && req.Header["Authorization"] != nil {
			announced = string(req.Body)
		}
	}
	if !strings.Contains(announced, "\ns=Lobby camera\r\n") {
		t.Errorf("the authorized ANNOUNCE lacks the session name:\n%s", announced)
	}
	for i, st := range f.Stats() {
		if strings.Contains(fmt.Sprintf("%+v", st), "s3cret") || strings.Contains(fmt.Sprintf("%+v", st), "wrong") {
			t.Errorf("destination %d figures show a password: %+v", i, st)
		}
	}
	if st := f.Stats()[0]; st.URL != "rtsp://broadcaster:xxxxx@"+strings.TrimPrefix(s.url("/good.sdp"), "rtsp://") {
		t.Errorf("URL in the figures %q, want the user with the password hidden", st.URL)
	}
}

// TestNewParametersReannounce feeds the frames of one encode, then, as after an ffmpeg restart
// with another size, those of a second: each destination ends its session with TEARDOWN and
// announces the new SPS/PPS in a new one, which starts at the new IDR.
func TestNewParametersReannounce(t *testing.T) {
	first := demuxtest.Frames(t, "1")
	second := demuxtest.Frames(t, "1", "-s", "320x180", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-c:a", "aac", "-ac", "2")
	if first[0].Params.Equal(second[0].Params) {
		t.Fatal("the two encodes have the same parameters")
	}
	servers := []*fakeServer{newFakeServer(t, nil), newFakeServer(t, nil)}
	f := &Fanout{Channel: "test", QueueSize: 1024,
		Targets: []Target{{URL: servers[0].url("/a.sdp")}, {URL: servers[1].url("/b.sdp")}}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, first)
	waitSettled(t, f, 0)
	waitSettled(t, f, 1)
	f.Discontinuity()
	for _, x := range second {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	for i, s := range servers {
		fftest.WaitFor(t, 10*time.Second, "the second session", func() bool {
			return len(s.received(1)) > 0 && slices.Contains(s.requests(), "0:TEARDOWN")
		})
		waitSettled(t, f, i)
		announces := s.requestsOf(base.Announce)
		if len(announces) != 2 {
			t.Fatalf("server %d: %d ANNOUNCEs, want 2: %v", i, len(announces), s.requests())
		}
		sprop := func(body []byte) string {
			for _, l := range strings.Split(string(body), "\r\n") {
				if _, v, ok := strings.Cut(l, "sprop-parameter-sets="); ok {
					return v
				}
			}
			return ""
		}
		if a, b := sprop(announces[0].Body), sprop(announces[1].Body); a == "" || a == b {
			t.Errorf("server %d: sprop-parameter-sets %q then %q, want new ones", i, a, b)
		}
		if !videoStartsWithParameterSets(s.received(1)) {
			t.Errorf("server %d: the new session does not start with SPS/PPS", i)
		}
		if st := f.Stats()[i]; st.PacketsDropped != 0 || st.State != StateRecording {
			t.Errorf("server %d: %+v, want recording, nothing dropped", i, st)
		}
	}
}

// TestSDPTooLarge refuses to announce an SDP over Darwin Streaming Server's 4 KB limit, and says
// so in the destination's state. Validated names and metadata cannot reach it; parameter sets
// can (an H.264 PPS with scaling lists is large).
func TestSDPTooLarge(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", QueueSize: 1024, Targets: []Target{{URL: s.url("/x.sdp")}}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	big := *fr[0]
	params := *big.Params
	params.PPS = append([]byte{0x68}, bytes.Repeat([]byte{0xaa}, 3000)...)
	big.Params = &params
	if err := f.WriteFrame(&big); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "the refusal", func() bool {
		return strings.Contains(f.Stats()[0].LastError, "over the 4096 bytes Darwin Streaming Server accepts")
	})
	if reqs := s.requestsOf(base.Announce); len(reqs) != 0 {
		t.Errorf("%d ANNOUNCEs sent, want none", len(reqs))
	}
}

// TestSilentServerBacksOff pushes to a server that takes the connection and never answers: each
// try ends at the client's read timeout, which is no healthy session, so the delays between tries
// double up to the cap instead of starting over.
func TestSilentServerBacksOff(t *testing.T) {
	fr := demuxtest.Frames(t, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "1", "-c:a", "aac", "-ac", "2")
	hole, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	var accepted atomic.Int32
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conns = append(conns, c)
		}
	}()
	f := &Fanout{Channel: "test", Targets: []Target{{URL: "rtsp://" + hole.Addr().String() + "/x.sdp"}}, QueueSize: 1024,
		RetryMin: 50 * time.Millisecond, RetryMax: 400 * time.Millisecond, readTimeout: 100 * time.Millisecond,
		healthyAfter: 50 * time.Millisecond} // shorter than a try: trying must not count
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// every frame is an IDR: a try never waits for one; frames come at a live source's pace
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	var delays []time.Duration
	for i := 0; len(delays) < 6; i++ {
		<-tick.C
		if err := f.WriteFrame(fr[i%len(fr)]); err != nil {
			t.Fatal(err)
		}
		if st := f.Stats()[0]; st.State == StateBackoff && (len(delays) == 0 || st.FailedAttempts > uint64(len(delays))) {
			delays = append(delays, time.Until(st.RetryAt))
		}
	}
	// 50, 100, 200, 400, 400 ms, each ±20 %
	if last := delays[len(delays)-1]; last < 250*time.Millisecond || delays[0] > 100*time.Millisecond {
		t.Errorf("delays %v: want them growing from about 50 ms to about 400 ms", delays)
	}
}

// TestSetTargetsDoesNotWaitForTeardowns removes every destination of a channel whose servers
// stopped reading, their connections full: SetTargets returns at once rather than after each
// session's grace for its TEARDOWN (teardownGrace) in turn, and Close still waits for them all.
func TestSetTargetsDoesNotWaitForTeardowns(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	var targets []Target
	for range 3 {
		s := newFakeServer(t, func(s *fakeServer) {
			s.stallAfter = func(int) int { return 20 }
		})
		targets = append(targets, Target{URL: s.url("/test.sdp")})
	}
	f := &Fanout{Channel: "test", Targets: targets, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr[:1])
	for i := range targets {
		waitState(t, f, i, StateRecording)
	}
	// Pictures of 1 MB, until every connection is full: the client's write queue too.
	big := make([]byte, 1<<20)
	big[0] = 0x65 // an IDR slice
	for i := int64(1); slices.ContainsFunc(f.Stats(), func(st Stats) bool { return st.PacketsDropped == 0 }); i++ {
		if i > 100 {
			t.Fatalf("connections not full after 100 MB: %+v", f.Stats())
		}
		if err := f.WriteFrame(&demux.Frame{Kind: demux.Video, Key: true, PTS: fr[0].PTS + 3600*i,
			DTS: fr[0].DTS + 3600*i, Data: [][]byte{big}, Params: fr[0].Params}); err != nil {
			t.Fatal(err)
		}
	}
	removed := slices.Clone(f.dests)

	start := time.Now()
	if err := f.SetTargets(nil); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= teardownGrace {
		t.Errorf("SetTargets took %v, want less than one teardown grace (%v)", took, teardownGrace)
	}
	f.Close()
	for i, d := range removed {
		select {
		case <-d.done:
		default:
			t.Errorf("destination %d still runs after Close", i)
		}
	}
}
