package inject

import (
	"testing"
	"time"
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
