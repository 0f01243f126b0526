package backoff

import (
	"slices"
	"testing"
	"time"
)

func TestBackoffDoublesToCapAndResets(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		got := b.Next()
		if got < w*8/10 || got > w*12/10 {
			t.Fatalf("attempt %d: delay %v, want %v ±20%%", i, got, w)
		}
	}
	b.Reset()
	if got := b.Next(); got > 120*time.Millisecond {
		t.Fatalf("after Reset: delay %v, want about 100ms", got)
	}
}

// TestCapIncludesJitter draws delays at the cap: none is over it, and they stay spread over the
// 20 % below it.
func TestCapIncludesJitter(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	lowest, highest := time.Hour, time.Duration(0)
	for range 2000 {
		d := b.Next()
		lowest, highest = min(lowest, d), max(highest, d)
	}
	if highest > time.Second || lowest < 80*time.Millisecond || highest < 990*time.Millisecond {
		t.Errorf("delays from %v to %v, want none over the 1 s cap, and reaching up to it", lowest, highest)
	}
	var atCap []time.Duration
	for range 1000 {
		atCap = append(atCap, b.Next())
	}
	if lo := slices.Min(atCap); lo < 800*time.Millisecond || lo > 850*time.Millisecond {
		t.Errorf("at the cap the shortest delay is %v, want about 800 ms", lo)
	}
}

// TestMinOverMax is a Min set above the default Max: Min is the cap, and no delay is negative.
func TestMinOverMax(t *testing.T) {
	b := Backoff{Min: time.Minute, Max: 30 * time.Second}
	for range 100 {
		if d := b.Next(); d < 48*time.Second || d > time.Minute {
			t.Fatalf("delay %v, want 48 s to 1 min", d)
		}
	}
}
