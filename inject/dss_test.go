package inject

import (
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// TestDSSTakesAnnounce pushes to the scripted DSS: the ANNOUNCE carries the server's address in
// c= and the metadata, both SETUPs are taken, and the viewer gets both tracks with the
// destination's stable SSRCs, in RTP and in the sender reports.
func TestDSSTakesAnnounce(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, func(s *fakeServer) { s.dss = &fakeDSS{ssrcTimeout: 30 * time.Second} })
	meta := Metadata{Info: "Main entrance, north side", Author: "Facilities", Copyright: "© 2026 Example",
		Comment: "liveinject"}
	target := Target{URL: s.url("/lobby.sdp"), SessionName: "Lobby", Metadata: meta}
	f := &Fanout{Channel: "lobby", Targets: []Target{target}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr)
	waitSettled(t, f, 0)
	// Sent is written to the socket: the server may still be reading the last packets (and
	// passes each to the viewer before it keeps it).
	fftest.WaitFor(t, 15*time.Second, "every packet sent at the server", func() bool {
		return uint64(len(s.received(0))) == f.Stats()[0].PacketsSent
	})
	fftest.WaitFor(t, 15*time.Second, "a video sender report", func() bool { return len(s.senderReports(1)) > 0 })

	ann := s.requestsOf(base.Announce)[0]
	sdp := string(ann.Body)
	for _, want := range []string{
		"\r\ns=Lobby\r\ni=Main entrance, north side\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n",
		"a=x-qt-text-nam:Lobby\r\n", "a=x-qt-text-inf:Main entrance, north side\r\n",
		"a=x-qt-text-aut:Facilities\r\n", "a=x-qt-text-cpy:© 2026 Example\r\n", "a=x-qt-text-cmt:liveinject\r\n",
	} {
		if !strings.Contains(sdp, want) {
			t.Errorf("SDP lacks %q:\n%s", want, sdp)
		}
	}
	if strings.Index(sdp, "a=x-qt-text-") > strings.Index(sdp, "m=") {
		t.Errorf("QuickTime attributes not at session level:\n%s", sdp)
	}
	if cl := ann.Header["Content-Length"]; len(cl) != 1 || cl[0] != strconv.Itoa(len(ann.Body)) {
		t.Errorf("ANNOUNCE Content-Length %v, body %d bytes", cl, len(ann.Body))
	}
	if st := f.Stats()[0]; st.Reconnects != 0 || st.State != StateRecording {
		t.Fatalf("%+v, want recording at once", st)
	}

	seen, dropped := s.dss.viewer("/lobby.sdp")
	if dropped != 0 || len(seen) != len(s.received(0)) {
		t.Errorf("viewer got %d of %d packets, %d dropped", len(seen), len(s.received(0)), dropped)
	}
	want := [2]uint32{stableSSRC("lobby", s.url("/lobby.sdp"), demux.Video), stableSSRC("lobby", s.url("/lobby.sdp"), demux.Audio)}
	for _, p := range seen {
		if p.pkt.SSRC != want[p.track] {
			t.Fatalf("track %d SSRC %x, want %x", p.track, p.pkt.SSRC, want[p.track])
		}
	}
	if sr := s.senderReports(1)[0]; sr.SSRC != want[0] {
		t.Errorf("video sender report SSRC %x, want %x", sr.SSRC, want[0])
	}
}

// TestDSSRefusals has the scripted DSS refuse a push as the real one does; each refusal says
// what to change.
func TestDSSRefusals(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		name string
		dss  *fakeDSS
		path string
		want string
	}{
		{"c= not the server's own address", &fakeDSS{own: []net.IP{net.IPv4(127, 0, 0, 2)}}, "/test.sdp",
			"SETUP: 404 Not Found: the announced session was not taken; Darwin Streaming Server " +
				"reflects a session only when the SDP's c= address (127.0.0.1, where this box connected to) is " +
				"one of its own, which fails when a NAT is between this box and the server"},
		{"no .sdp", &fakeDSS{dirs: []string{"/live"}}, "/live/test",
			"SETUP: 415 Unsupported Media Type: on Darwin Streaming Server the path must end in .sdp"},
		{"no such directory", &fakeDSS{}, "/live/test.sdp",
			"ANNOUNCE: 403 Forbidden: the server does not let this push write there; on Darwin Streaming " +
				"Server the directory does not exist under the movies folder"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) { s.dss = tc.dss })
			f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url(tc.path)}}, QueueSize: 1024,
				RetryMin: time.Minute}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := f.WriteFrame(fr[0]); err != nil {
				t.Fatal(err)
			}
			waitState(t, f, 0, StateBackoff)
			if st := f.Stats()[0]; !strings.Contains(st.LastError, tc.want) {
				t.Errorf("last error\n%q\nlacks\n%q", st.LastError, tc.want)
			}
		})
	}

	// What gortsplib announces by itself (c=IN IP4 0.0.0.0) is refused: the reason for
	// announceBody, and a check that the scripted server refuses what the real one does.
	s := newFakeServer(t, func(s *fakeServer) { s.dss = &fakeDSS{} })
	c := &gortsplib.Client{}
	u, err := base.ParseURL(s.url("/plain.sdp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(u.Scheme, u.Host); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	desc := &description.Session{Medias: []*description.Media{{Type: description.MediaTypeVideo,
		Formats: []format.Format{&format.H264{PayloadTyp: 96, PacketizationMode: 1}}}}}
	if _, err := c.Announce(u, desc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(s.requestsOf(base.Announce)[0].Body), "c=IN IP4 0.0.0.0\r\n") {
		t.Errorf("gortsplib now announces another c=: %q", s.requestsOf(base.Announce)[0].Body)
	}
	if _, err := c.Setup(u, desc.Medias[0], 0, 0); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("SETUP after gortsplib's own ANNOUNCE: %v, want 404", err)
	}
}

// TestDSSHeldName has the connection of a recording session dropped: DSS then answers SETUP with
// 412 while it holds the name. The destination retries at the short held delay while that lasts
// (it records again as soon as the name is free), and at its backoff once heldFor has passed.
func TestDSSHeldName(t *testing.T) {
	// An IDR every other frame: a try starts from the next IDR after its delay.
	fr := demuxtest.Frames(t, "8", "-c:v", "libx264", "-tune", "zerolatency", "-g", "2", "-c:a", "aac", "-ac", "2")
	for _, tc := range []struct {
		name            string
		hold, heldFor   time.Duration
		quick, backedOf int // at least so many tries at most 300 ms apart, and at least 800 ms apart (the backoff)
	}{
		{"within heldFor", 3 * time.Second, time.Minute, 4, 0},
		{"past heldFor", 3 * time.Second, 500 * time.Millisecond, 2, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) {
				s.dss = &fakeDSS{hold: tc.hold, ssrcTimeout: 30 * time.Second}
				s.dropAfter = func(n int) int {
					if n == 0 {
						return 30
					}
					return 0
				}
			})
			f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
				RetryMin: time.Second, RetryMax: time.Second, heldRetry: 100 * time.Millisecond, heldFor: tc.heldFor}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pushLive(t, f, fr)
			waitState(t, f, 0, StateRecording)

			var tries []time.Time
			for _, r := range s.requestsWith(base.Setup) {
				if r.conn > 0 && strings.HasSuffix(r.req.URL.Path, "trackID=0") {
					tries = append(tries, r.at)
				}
			}
			quick, slow := 0, 0
			for i := 1; i < len(tries); i++ {
				switch d := tries[i].Sub(tries[i-1]); {
				case d <= 300*time.Millisecond:
					quick++
				case d >= 800*time.Millisecond:
					slow++
				}
			}
			// (a try at the backoff's pace, 1 s, would fit 3 times in the hold, never quick)
			if quick < tc.quick || slow < tc.backedOf {
				t.Errorf("%d tries: %d quick, %d at the backoff; want at least %d quick and %d at the backoff",
					len(tries), quick, slow, tc.quick, tc.backedOf)
			}
			// the last failure, as status shows it
			if st := f.Stats()[0]; !strings.Contains(st.LastError, "SETUP: the stream name is still held (412 "+
				"Precondition Failed) by the broadcast before; Darwin Streaming Server frees a name") {
				t.Errorf("last error %q", st.LastError)
			}
		})
	}
}

// TestDSSHeldNameSweep cuts the connection of a recording session, as a network cut or a
// kill -9 does, on the scripted DSS with its timeout thread: the tries while the name is held
// leave it sessions that would put off the look that frees the name by as long as they come
// less than a second apart, so after the first two they come further apart. (With tries every
// 0.8 to 1 s, a stream came back from a real DSS 25–38 s after a cut connection, instead of
// 22–23 s.)
func TestDSSHeldNameSweep(t *testing.T) {
	fr := demuxtest.Frames(t, "10", "-c:v", "libx264", "-tune", "zerolatency", "-g", "2", "-c:a", "aac", "-ac", "2")
	const hold, sweep = 4 * time.Second, time.Second
	s := newFakeServer(t, func(s *fakeServer) {
		s.dss = &fakeDSS{hold: hold, sweep: sweep, ssrcTimeout: 30 * time.Second}
	})
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// The thread looks at the sessions at the first SETUP, then every hold+sweep while the
	// broadcast goes on: a cut 2 s in comes 3 s before its next look, early enough for the
	// tries' sessions to count then, and before the name is due.
	cut := time.AfterFunc(2*time.Second, func() { s.cut(0) })
	defer cut.Stop()
	pushLive(t, f, fr)
	waitState(t, f, 0, StateRecording)

	vanished, freed := s.dss.held("/test.sdp")
	if vanished.IsZero() || freed.IsZero() {
		t.Fatalf("the broadcast vanished at %v, its name freed at %v", vanished, freed)
	}
	// Each try less than a second after the one before (from the cut on) puts the look off:
	// the first three come within about 0.8 s of the cut, the later ones further apart.
	if late := freed.Sub(vanished) - hold - sweep; late > 1100*time.Millisecond {
		var tries []string
		for _, r := range s.requestsWith(base.Setup) {
			if r.conn > 0 && strings.HasSuffix(r.req.URL.Path, "trackID=0") {
				tries = append(tries, r.at.Sub(vanished).Round(time.Millisecond).String())
			}
		}
		t.Errorf("the name was freed %v after the cut, %v past hold and sweep; tries after the cut: %v",
			freed.Sub(vanished).Round(time.Millisecond), late.Round(time.Millisecond), tries)
	}
}

// maxGap returns the longest time a viewer went without video, and the video packets it got.
func maxGap(seen []reflectedPacket) (time.Duration, []reflectedPacket) {
	var video []reflectedPacket
	var gap time.Duration
	for _, p := range seen {
		if p.track != 0 {
			continue
		}
		if len(video) > 0 {
			gap = max(gap, p.at.Sub(video[len(video)-1].at))
		}
		video = append(video, p)
	}
	return gap, video
}

// TestDSSViewerKeepsStream has a viewer on the scripted DSS, with its SSRC lock at DSS's 30 s,
// across a destination reconnect, a re-ANNOUNCE and a restart of liveinject: the stream comes
// back within 2 s each time, with the same SSRC, and nothing is dropped by the lock.
func TestDSSViewerKeepsStream(t *testing.T) {
	gop := []string{"-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2"}
	first := demuxtest.Frames(t, "2", gop...)
	second := demuxtest.Frames(t, "2", append([]string{"-s", "320x180"}, gop...)...)
	long := demuxtest.Frames(t, "4", gop...)
	for _, tc := range []struct {
		name string
		// run pushes the stream with f, and returns the Fanout that ends it
		run func(t *testing.T, s *fakeServer, f *Fanout) *Fanout
		// seq is how the video's sequence numbers go on into the second session: "contiguous"
		// or "forward" (frames were lost meanwhile)
		seq string
	}{
		{"reconnect", func(t *testing.T, s *fakeServer, f *Fanout) *Fanout {
			pushLive(t, f, long)
			return f
		}, "forward"},
		{"re-ANNOUNCE", func(t *testing.T, s *fakeServer, f *Fanout) *Fanout {
			pushLive(t, f, first)
			f.Discontinuity()
			pushLive(t, f, second)
			return f
		}, "contiguous"},
		{"restart", func(t *testing.T, s *fakeServer, f *Fanout) *Fanout {
			pushLive(t, f, first)
			f.Close()
			// gortsplib does not wait for TEARDOWN's answer; a new process takes longer to
			// start than the server to read it
			fftest.WaitFor(t, 5*time.Second, "TEARDOWN", func() bool { return len(s.requestsOf(base.Teardown)) > 0 })
			g := &Fanout{Channel: f.Channel, Targets: f.Targets, QueueSize: f.QueueSize, StateFile: f.StateFile}
			if err := g.Initialize(); err != nil {
				t.Fatal(err)
			}
			pushLive(t, g, first)
			return g
		}, "contiguous"},
	} {
		for _, transport := range []string{"tcp", "udp"} {
			t.Run(tc.name+"/"+transport, func(t *testing.T) {
				s := newFakeServer(t, func(s *fakeServer) {
					s.udp = transport == "udp"
					s.dss = &fakeDSS{hold: 500 * time.Millisecond, release: 100 * time.Millisecond, ssrcTimeout: 30 * time.Second}
					if tc.name == "reconnect" {
						s.dropAfter = func(n int) int {
							if n == 0 {
								return 150 // about a second in
							}
							return 0
						}
					}
				})
				f := &Fanout{Channel: "lobby", Targets: []Target{{URL: s.url("/lobby.sdp"), Transport: transport}},
					QueueSize: 1024, StateFile: filepath.Join(t.TempDir(), "lobby.json")}
				if err := f.Initialize(); err != nil {
					t.Fatal(err)
				}
				last := tc.run(t, s, f)
				waitSettled(t, last, 0)
				last.Close()

				records := s.requestsWith(base.Record)
				if len(records) != 2 {
					t.Fatalf("%d sessions recorded, want 2: %v", len(records), s.requests())
				}
				seen, dropped := s.dss.viewer("/lobby.sdp")
				gap, video := maxGap(seen)
				if dropped != 0 || gap >= 2*time.Second {
					t.Errorf("the viewer went %v without video; the SSRC lock dropped %d packets", gap, dropped)
				}
				ssrcs := map[uint32]bool{}
				for _, p := range video {
					ssrcs[p.pkt.SSRC] = true
				}
				if len(ssrcs) != 1 {
					t.Errorf("video SSRCs %v, want one", ssrcs)
				}
				before, after := videoOf(s.received(records[0].conn)), videoOf(s.received(records[1].conn))
				if len(before) == 0 || len(after) == 0 {
					t.Fatalf("video packets: %d in the first session, %d in the second", len(before), len(after))
				}
				switch last, next := before[len(before)-1], after[0]; tc.seq {
				case "contiguous":
					checkContiguous(t, "both sessions", append(before, after...))
				case "forward":
					if next.SequenceNumber-last.SequenceNumber >= 0x8000 {
						t.Errorf("video sequence went back: %d then %d", last.SequenceNumber, next.SequenceNumber)
					}
				}
				if d := int32(after[0].Timestamp - before[len(before)-1].Timestamp); d <= 0 || d > 5*90000 {
					t.Errorf("video RTP time went on by %d ticks into the second session", d)
				}
			})
		}
	}
}

// TestFakeDSSLocksSSRC checks the scripted server's SSRC lock, which TestDSSViewerKeepsStream
// relies on to fail when the SSRC changes.
func TestFakeDSSLocksSSRC(t *testing.T) {
	for _, tc := range []struct {
		timeout time.Duration
		want    []uint32 // the SSRCs the viewer gets
	}{
		{time.Hour, []uint32{1, 1}},
		{0, []uint32{1, 2, 1}},
	} {
		d := &fakeDSS{ssrcTimeout: tc.timeout}
		d.stream("/x.sdp").owner = 0
		for _, ssrc := range []uint32{1, 2, 1} {
			d.reflect(0, 0, rtpPacket(ssrc))
		}
		seen, dropped := d.viewer("/x.sdp")
		var got []uint32
		for _, p := range seen {
			got = append(got, p.pkt.SSRC)
		}
		if !slices.Equal(got, tc.want) || dropped != 3-len(tc.want) {
			t.Errorf("timeout %v: viewer got %v, %d dropped; want %v", tc.timeout, got, dropped, tc.want)
		}
	}
}

// TestFakeDSSSweep checks the scripted server's timeout thread, which TestDSSHeldNameSweep relies
// on, against what a real DSS showed with its defaults: a broadcast vanishes 5 s after the
// thread's first look, and refused tries come from 0.4 s after that, at a steady pace. Tries
// 1.2 s apart leave the name held 21.4 s; tries 0.5 s apart put every look off until the last
// of them, 36.9 s.
func TestFakeDSSSweep(t *testing.T) {
	for _, tc := range []struct {
		every time.Duration
		want  time.Duration // from the vanishing to the freeing
	}{
		{1200 * time.Millisecond, 21400 * time.Millisecond},
		{500 * time.Millisecond, 36900 * time.Millisecond},
	} {
		d := &fakeDSS{hold: 20 * time.Second, sweep: time.Second}
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		st := d.stream("/x.sdp")
		st.owner = 0
		d.open(&dssSession{conn: 0, stream: st}, t0)
		vanished := t0.Add(5 * time.Second)
		d.sessions[0].ended = vanished
		for n, at := 1, vanished.Add(400*time.Millisecond); st.owner == 0; n, at = n+1, at.Add(tc.every) {
			d.timeOut(at)
			if st.owner == 0 {
				d.open(&dssSession{conn: n, ended: at}, at)
			}
		}
		if got := st.freed.Sub(vanished); got != tc.want {
			t.Errorf("tries every %v: name freed %v after the broadcast vanished, want %v", tc.every, got, tc.want)
		}
	}
}

func rtpPacket(ssrc uint32) rtp.Packet {
	return rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: videoPayloadType, SSRC: ssrc}}
}
