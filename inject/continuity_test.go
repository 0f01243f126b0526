package inject

import (
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/senderreport"
	"github.com/liveinject/liveinject/internal/ticks"
)

// TestRestartOfLiveinjectContinues runs a channel in one Fanout, stops it, and runs it again in
// a new one with the same state file, as a restart of liveinject does (a package upgrade, a
// SIGTERM): the second session's sequence numbers go on from the first's on both tracks, and
// its RTP time goes on by the time that passed. On real DSS, RTP time drawn anew made recorders
// jump by hours and players that dropped "old" packets stop. After a crash (the state of the
// last periodic save, not the last packet's) the numbers jump forward by a little: players
// take that for a short loss, never for old packets.
func TestRestartOfLiveinjectContinues(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	for _, crash := range []bool{false, true} {
		name := map[bool]string{false: "clean", true: "crash"}[crash]
		t.Run(name, func(t *testing.T) {
			s := newFakeServer(t, nil)
			state := filepath.Join(t.TempDir(), "rtp", "test.json")
			run := func() *Fanout {
				f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024,
					StateFile: state, saveEvery: 20 * time.Millisecond}
				if err := f.Initialize(); err != nil {
					t.Fatal(err)
				}
				return f
			}
			a := run()
			push(t, a, fr)
			waitSettled(t, a, 0)
			var saved []byte
			if crash {
				// the state a crash right after a save would leave
				want := a.snapshot()
				fftest.WaitFor(t, 5*time.Second, "a save of the last numbers", func() bool {
					var sf stateFile
					saved, _ = os.ReadFile(state)
					return json.Unmarshal(saved, &sf) == nil && sf.VideoSeq == want.next[demux.Video] &&
						sf.AudioSeq == want.next[demux.Audio]
				})
			}
			a.Close()
			stopped := time.Now()
			if crash {
				if err := os.WriteFile(state, saved, 0o600); err != nil {
					t.Fatal(err)
				}
			}

			b := run()
			started := time.Now()
			push(t, b, fr)
			waitSettled(t, b, 0)
			b.Close()

			first, second := s.received(0), s.received(1)
			for _, m := range []struct {
				name string
				ch   int
				rate int64
			}{{"video", 0, ticks.Rate}, {"audio", 2, int64(fr[0].Params.Audio.SampleRate)}} {
				last, next := lastOnChannel(first, m.ch), firstOnChannel(second, m.ch)
				jump := next.SequenceNumber - last.SequenceNumber
				if crash {
					if jump == 0 || jump > 8192+64 {
						t.Errorf("%s: sequence %d after %d: want a short jump forward", m.name, next.SequenceNumber, last.SequenceNumber)
					}
				} else if jump != 1 {
					t.Errorf("%s: sequence %d after %d: want the next one", m.name, next.SequenceNumber, last.SequenceNumber)
				}
				// RTP time goes forward by the time between the two runs' frames, give or take
				// the first run's content (written faster than real time) and the test's pace.
				d := time.Duration(ticks.Scale(int64(int32(next.Timestamp-last.Timestamp)), int64(time.Second), m.rate))
				if gap := started.Sub(stopped); d <= 0 || d > gap+3*time.Second {
					t.Errorf("%s: RTP time went on by %v across a restart of %v", m.name, d, gap)
				}
			}
		})
	}
}

// TestStateFileMargin reads the state of a process that crashed: its numbers are moved past
// what it may have sent since its last save, at the rates of the save.
func TestStateFileMargin(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.json")
	sf := stateFile{VideoSeq: 65000, AudioSeq: 10, Time: 5 * ticks.Rate, VideoRate: 700, AudioRate: 47}
	b, _ := json.Marshal(sf)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	c := &continuity{path: path, every: time.Second, log: slog.New(slog.DiscardHandler)}
	s, ok := c.load(time.Now())
	if !ok {
		t.Fatal("state not loaded")
	}
	// 2 s at 700 and 47 a second, and 64
	if got, want := s.next, [2]uint16{uint16(65000 + 1400 + 64 - 65536), 10 + 94 + 64}; got != want {
		t.Errorf("next numbers %v, want %v", got, want)
	}
	if got, want := s.time, int64(7*ticks.Rate); got != want {
		t.Errorf("time %d, want %d", got, want)
	}
	// a clean stop's numbers are the next ones as they are
	sf.Clean = true
	b, _ = json.Marshal(sf)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.load(time.Now()); s.next != [2]uint16{65000, 10} || s.time != 5*ticks.Rate {
		t.Errorf("clean state read as %+v", s)
	}
	// damage starts afresh
	if err := os.WriteFile(path, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, ok := c.load(time.Now()); ok {
		t.Error("a damaged state file was taken")
	}
}

// TestSenderReportsAfterBacklog writes a run of the source faster than real time (a backlog
// written at once: a stalled ffmpeg that caught up, a machine that stalled), then a new run:
// from the new run on, the sender reports map its frames to the wall-clock time they came at,
// within a few milliseconds. Before, channel time carried the backlog's excess over the wall
// clock into every later report (136 s ahead on a real box, for the rest of its run).
func TestSenderReportsAfterBacklog(t *testing.T) {
	fr := demuxtest.Frames(t, "2", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/sr.sdp")}}, QueueSize: 1024,
		senderReports: 50 * time.Millisecond}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr) // 2 s of frames in a few milliseconds
	waitSettled(t, f, 0)

	f.Discontinuity()
	firstSeq := f.snapshot().next[demux.Video]
	came := time.Now()
	if err := f.WriteFrame(fr[0]); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, f, 0)
	var ts uint32
	fftest.WaitFor(t, 5*time.Second, "the new run's first packet", func() bool {
		for _, p := range videoOf(s.received(0)) {
			if p.SequenceNumber == firstSeq {
				ts = p.Timestamp
				return true
			}
		}
		return false
	})
	var checked int
	fftest.WaitFor(t, 10*time.Second, "three reports of the new run", func() bool {
		checked = 0
		for _, sr := range s.senderReports(1) {
			d := int64(int32(sr.RTPTime - ts))
			if d < 0 {
				continue // of the first run
			}
			captured := senderreport.Time(sr.NTPTime).Add(-ticks.Duration(d))
			if off := captured.Sub(came); off < -5*time.Millisecond || off > 20*time.Millisecond {
				t.Fatalf("a report puts the new run's first frame %v after it came", off)
			}
			checked++
		}
		return checked >= 3
	})
}

// TestLastLiveIsMonotonic: when the last frame came is a reading of the monotonic clock, which a
// step of the wall clock (the first NTP sync of a box without RTC) does not move; from the wall
// clock, such a step looked like minutes without frames and started a hold.
func TestLastLiveIsMonotonic(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	f := &Fanout{Channel: "test"}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	before := time.Now()
	if err := f.WriteFrame(fr[0]); err != nil {
		t.Fatal(err)
	}
	last := f.LastLive()
	// Time.String shows the monotonic reading as "m=±…" when there is one
	if !strings.Contains(last.String(), " m=") {
		t.Errorf("LastLive %v has no monotonic reading", last)
	}
	if d := last.Sub(before); d < 0 || d > time.Second {
		t.Errorf("LastLive is %v after the write began", d)
	}
}

// TestUDPSessionHooks pushes over UDP: gortsplib must still make its sockets through the
// ListenPacket hook and announce their ports in SETUP (udpSession writes from them), and every
// packet the server gets, RTP and sender reports alike, carries the destination's stable SSRC,
// counted in the destination's figures.
func TestUDPSessionHooks(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, func(s *fakeServer) { s.udp = true })
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/udp.sdp"), Transport: "udp"}}, QueueSize: 1024,
		senderReports: 50 * time.Millisecond}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr)
	waitSettled(t, f, 0)
	if st := f.Stats()[0]; st.Transport != "udp" || st.PacketsDropped != 0 {
		t.Fatalf("transport %q, %d dropped: want udp, none", st.Transport, st.PacketsDropped)
	}
	d := f.dests[0]
	want := map[int]uint32{0: stableSSRC("test", d.stream, demux.Video), 2: stableSSRC("test", d.stream, demux.Audio)}
	fftest.WaitFor(t, 5*time.Second, "every packet and a report of each track", func() bool {
		return len(s.received(0)) == int(f.Stats()[0].PacketsSent) &&
			len(s.senderReports(1)) > 0 && len(s.senderReports(3)) > 0
	})
	for _, p := range s.received(0) {
		if p.pkt.SSRC != want[p.channel] {
			t.Fatalf("a packet of channel %d has SSRC %08x, want %08x", p.channel, p.pkt.SSRC, want[p.channel])
		}
	}
	for ch, ssrc := range map[int]uint32{1: want[0], 3: want[2]} {
		for _, sr := range s.senderReports(ch) {
			if sr.SSRC != ssrc {
				t.Errorf("a sender report on channel %d has SSRC %08x, want %08x", ch, sr.SSRC, ssrc)
			}
		}
	}
}

// TestTargetCredentialsRefused: a user or password that would add a header line or a Digest
// parameter to the requests (a line break, a quote) is refused, whatever the profile let by.
func TestTargetCredentialsRefused(t *testing.T) {
	for _, tg := range []Target{
		{URL: "rtsp://u%0D%0AX-Injected%3A%201:pw@127.0.0.1:554/x.sdp"},
		{URL: "rtsp://127.0.0.1:554/x.sdp", User: `u", realm="evil`, Password: "pw"},
		{URL: "rtsp://127.0.0.1:554/x.sdp", User: "u", Password: "p\r\nX: 1"},
	} {
		_, err := newDestination("test", tg, settings{queueSize: 1}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), "cannot go into an RTSP request") {
			t.Errorf("%+v: %v, want refused", tg, err)
		}
		if err != nil && strings.Contains(err.Error(), "pw") {
			t.Errorf("the error shows the password: %v", err)
		}
	}
	if _, err := newDestination("test", Target{URL: "rtsp://u:p%40ss@127.0.0.1:554/x.sdp"}, settings{queueSize: 1},
		slog.New(slog.DiscardHandler)); err != nil {
		t.Errorf("plain credentials refused: %v", err)
	}
}
