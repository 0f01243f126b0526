package inject

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestChannelClock converts channel times past the MPEG-TS wrap (2^33 ticks, 26.5 h) and the
// point where a single multiplication by 1e9 overflows (28.5 h), up to a year.
func TestChannelClock(t *testing.T) {
	for _, d := range []time.Duration{
		0, time.Second / 90000, 40 * time.Millisecond, time.Hour,
		time.Duration(1<<33) * time.Second / 90000, 28*time.Hour + 28*time.Minute, 40 * time.Hour,
		40*time.Hour + 123456789*time.Nanosecond, 365 * 24 * time.Hour,
	} {
		ticks := durationToTicks(d)
		if want := int64(d.Seconds() * 90000); ticks-want > 1 || want-ticks > 1 {
			t.Errorf("durationToTicks(%v) = %d, want %d", d, ticks, want)
		}
		// conversions truncate: back is within one tick (11 112 ns) below d
		back := ticksToDuration(ticks)
		if diff := d - back; diff < 0 || diff > 11112 {
			t.Errorf("%v → %d ticks → %v: off by %v", d, ticks, back, diff)
		}
	}
	// 48 kHz audio time of a channel 40 hours in
	if got, want := scaleTicks(40*3600*90000, 48000, 90000), int64(40*3600*48000); got != want {
		t.Errorf("audio ticks at 40 h: %d, want %d", got, want)
	}
}

// TestSenderReportsAfter40Hours drives a channel whose time jumps past the MPEG-TS wrap (2^33
// ticks) to 40 hours: the RTP timestamps wrap as RTP does, and the sender report maps RTP time to
// the NTP time of capture, 40 hours on (before, the NTP time went back 57 hours).
func TestSenderReportsAfter40Hours(t *testing.T) {
	// an IDR every 10 frames: the reports follow the IDRs' times, and one comes after the jump
	fr := frames(t, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "10", "-c:a", "aac", "-ac", "2")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/sr.sdp")}}, QueueSize: 1024}
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
	fftest.WaitFor(t, 15*time.Second, "a video sender report", func() bool { return len(s.senderReports(1)) > 0 })
	sr := s.senderReports(1)[0]
	video := videoOf(s.received(0))
	first := video[0]
	// The report's RTP time after the first frame, unwrapped: about 40 hours.
	d32 := int64(sr.RTPTime - first.Timestamp)
	elapsed := d32 + (later-d32+1<<31)/(1<<32)*(1<<32)
	// channel time of the first frame: its PTS after its DTS
	channel := elapsed + fr[0].PTS - fr[0].DTS
	ntp := time.Unix(int64(sr.NTPTime>>32)-2208988800, int64((sr.NTPTime&0xffffffff)*1e9>>32))
	want := f.ntpBase.Add(ticksToDuration(channel))
	// (gortsplib extrapolates the report from the packet it last took as a reference; with the
	// frames written in one burst that reference lags by up to a second)
	if d := ntp.Sub(want); d < -time.Second || d > time.Second {
		t.Errorf("report NTP %v, want %v (%d ticks of channel time): off by %v", ntp, want, channel, d)
	}
	if elapsed < later || elapsed > later+15*90000 {
		t.Errorf("report at %d ticks after the first frame, want just after %d", elapsed, later)
	}
}
