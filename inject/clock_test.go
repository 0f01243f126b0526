package inject

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// TestSenderReportsAfter40Hours drives a channel whose time jumps past the MPEG-TS wrap (2^33
// ticks) to 40 hours: the RTP timestamps wrap as RTP does, and every sender report maps RTP time
// to the NTP time of capture, 40 hours on, within a millisecond (before, the NTP time went back
// 57 hours).
func TestSenderReportsAfter40Hours(t *testing.T) {
	// an IDR every 10 frames: the reports follow the IDRs' times, and one comes after the jump
	fr := demuxtest.Frames(t, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/sr.sdp")}}, QueueSize: 1024,
		senderReports: 100 * time.Millisecond}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	const later = int64(40 * 3600 * 90000) // 40 hours of channel time, past 2^33
	for i, x := range fr {
		if i >= len(fr)/2 {
			y := *x
			y.PTS, y.DTS = x.PTS+later, x.DTS+later
			x = &y
		}
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitState(t, f, 0, StateRecording)
		}
	}
	waitSettled(t, f, 0)
	fftest.WaitFor(t, 10*time.Second, "sender reports after the jump", func() bool {
		return len(s.senderReports(1)) >= 3 && len(s.senderReports(3)) >= 3
	})
	checkSenderReports(t, f, s, fr)
	// The last video report's RTP time after the first frame, unwrapped: about 40 hours.
	reports := s.senderReports(1)
	sr := reports[len(reports)-1]
	d32 := int64(sr.RTPTime - videoOf(s.received(0))[0].Timestamp)
	elapsed := d32 + (later-d32+1<<31)/(1<<32)*(1<<32)
	if elapsed < later || elapsed > later+15*90000 {
		t.Errorf("report at %d ticks after the first frame, want just after %d", elapsed, later)
	}
}
