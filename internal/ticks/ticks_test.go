package ticks

import (
	"testing"
	"time"
)

// TestConversions converts times past the MPEG-TS wrap (2^33 ticks, 26.5 h), the point where a
// single multiplication by 1e9 overflows (28.5 h), a year, and the channel time of today, which
// counts from 1970.
func TestConversions(t *testing.T) {
	for _, d := range []time.Duration{
		0, time.Second / Rate, 40 * time.Millisecond, time.Hour,
		time.Duration(1<<33) * time.Second / Rate, 28*time.Hour + 28*time.Minute, 40 * time.Hour,
		40*time.Hour + 123456789*time.Nanosecond, 365 * 24 * time.Hour,
		time.Duration(time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC).UnixNano()),
	} {
		ticks := FromDuration(d)
		if want := int64(d.Seconds() * Rate); ticks-want > 1 || want-ticks > 1 {
			t.Errorf("FromDuration(%v) = %d, want %d", d, ticks, want)
		}
		// conversions truncate: back is within one tick (11 112 ns) below d
		back := Duration(ticks)
		if diff := d - back; diff < 0 || diff > 11112 {
			t.Errorf("%v → %d ticks → %v: off by %v", d, ticks, back, diff)
		}
	}
	// 48 kHz audio time of a channel 40 hours in, and of channel time today
	if got, want := Scale(40*3600*Rate, 48000, Rate), int64(40*3600*48000); got != want {
		t.Errorf("audio ticks at 40 h: %d, want %d", got, want)
	}
	now := int64(1_796_000_000) // seconds since 1970, in 2026
	if got, want := Scale(now*Rate+45000, 48000, Rate), now*48000+24000; got != want {
		t.Errorf("audio ticks in 2026: %d, want %d", got, want)
	}
}
