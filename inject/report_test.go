package inject

import (
	"math"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/senderreport"
	"github.com/liveinject/liveinject/internal/ticks"
)

// checkSenderReports checks every sender report the server got on its first connection
// against the packets it got: each carries the SSRC of its medium's packets and counts them,
// and its NTP time is the wall-clock time of capture that its RTP time stands for, within a
// millisecond. fr are the frames written to f, the first one first. It returns how many reports
// of each medium it checked.
func checkSenderReports(t *testing.T, f *Fanout, s *fakeServer, fr []*demux.Frame) (video, audio int) {
	t.Helper()
	start := fr[0].DTS // channel time = a frame's time - start
	firstAudio := -1
	for i, x := range fr {
		if x.Kind == demux.Audio {
			firstAudio = i
			break
		}
	}
	received := s.received(0)
	for _, m := range []struct {
		name      string
		rtp, rtcp int
		rate      int64
		first     int // the index in fr of the medium's first frame
		n         *int
	}{
		{"video", 0, 1, 90000, 0, &video},
		{"audio", 2, 3, int64(fr[0].Params.Audio.SampleRate), firstAudio, &audio},
	} {
		pkts := onChannel(received, m.rtp)
		reports := s.senderReports(m.rtcp)
		if len(pkts) == 0 || m.first < 0 {
			continue
		}
		// the wall-clock time the medium's first packet was captured at
		captured := f.clock.anchorAt.Round(0).Add(ticks.Duration(fr[m.first].PTS - start))
		for i, sr := range reports {
			if sr.SSRC != pkts[0].SSRC {
				t.Errorf("%s report %d: SSRC %x, want the packets' %x", m.name, i, sr.SSRC, pkts[0].SSRC)
			}
			if sr.PacketCount == 0 || sr.PacketCount > uint32(len(pkts)) || sr.OctetCount == 0 {
				t.Errorf("%s report %d counts %d packets, %d octets (%d packets came)", m.name, i,
					sr.PacketCount, sr.OctetCount, len(pkts))
			}
			ntp := senderreport.Time(sr.NTPTime)
			// RTP time since the first packet, unwrapped by the wall-clock time the report gives
			d32 := int64(sr.RTPTime - pkts[0].Timestamp)
			est := ticks.Scale(int64(ntp.Sub(captured)), m.rate, int64(time.Second))
			elapsed := d32 + int64(math.Round(float64(est-d32)/(1<<32)))*(1<<32)
			want := captured.Add(time.Duration(ticks.Scale(elapsed, int64(time.Second), m.rate)))
			if d := ntp.Sub(want); d.Abs() > time.Millisecond {
				t.Errorf("%s report %d: NTP %v, RTP time %d ticks after the first packet, captured at %v: off by %v",
					m.name, i, ntp, elapsed, want, d)
			}
		}
		*m.n = len(reports)
	}
	return video, audio
}

// TestSenderReports checks the RTCP sender reports a destination sends, which players use to
// place the stream in wall-clock time and to sync its audio with its video, over TCP and UDP:
// they come every period, only liveinject's own (gortsplib's are turned off: their NTP fraction
// is in nanoseconds), each with its medium's SSRC and counts, mapping RTP time to the NTP time
// of capture within a millisecond.
func TestSenderReports(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	for _, transport := range []string{"tcp", "udp"} {
		t.Run(transport, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) { s.udp = true })
			f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/sr.sdp"), Transport: transport}},
				QueueSize: 1024, senderReports: 100 * time.Millisecond}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			started := time.Now()
			pushLive(t, f, fr)
			waitSettled(t, f, 0)
			fftest.WaitFor(t, 10*time.Second, "reports after the last packet", func() bool {
				return len(s.senderReports(1)) >= 20 && len(s.senderReports(3)) >= 20
			})
			video, audio := checkSenderReports(t, f, s, fr)
			// at 100 ms, no more than the time since the start allows: none come from elsewhere
			if most := int(time.Since(started)/(100*time.Millisecond)) + 1; video > most || audio > most {
				t.Errorf("%d video and %d audio reports in %v, want at most %d each", video, audio,
					time.Since(started), most)
			}
			if at := f.clock.anchorAt.Sub(started); at < 0 || at > 2*time.Second {
				t.Errorf("the first frame's capture is put %v after the start of the test", at)
			}
		})
	}
}

// TestPacketNTP checks the capture time of each packet of a unit: an audio unit's later packets
// start at later AAC frames, and their sender reports must say so.
func TestPacketNTP(t *testing.T) {
	at := time.Unix(1_800_000_000, 0)
	u := &unit{ntp: at, pkts: []*rtp.Packet{
		{Header: rtp.Header{Timestamp: 0xfffffc00}}, {Header: rtp.Header{Timestamp: 0xfffffc00}},
		{Header: rtp.Header{Timestamp: 2 * 1024}}, // 3 frames on, past the wrap
	}}
	for i, want := range []time.Time{at, at, at.Add(64 * time.Millisecond)} {
		if got := u.packetNTP(i, 48000); !got.Equal(want) {
			t.Errorf("packet %d at %v, want %v", i, got, want)
		}
	}
}

// TestReportTimeGoesOnAtASwitch: a run whose timestamps got ahead of the wall clock (half a
// second of frames written at once) is followed by another at once (another input on air): the
// sender reports' time of the new run's first frame is not before that of the last run's last
// frame, so that players and recorders that time the stream by the reports do not go back.
func TestReportTimeGoesOnAtASwitch(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	f, _ := startHoldFanout(t)
	ntpOfLast := func() time.Time {
		f.wmu.Lock()
		defer f.wmu.Unlock()
		return f.clock.ntp(f.last, time.Now())
	}
	for _, x := range fr[:len(fr)/2] { // a burst: half a second ahead of the clock
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	before := ntpOfLast()
	f.Discontinuity()
	if err := f.WriteFrame(fr[0]); err != nil {
		t.Fatal(err)
	}
	if after := ntpOfLast(); after.Before(before) {
		t.Errorf("the new run's first frame is reported %v before the last run's last", before.Sub(after))
	}
}
