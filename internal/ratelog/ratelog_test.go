package ratelog

import (
	"testing"
	"time"
)

// TestLimiter lets the first line through, holds back those within Every of the last one let
// through, and lets the next one through after that with the count of those held back.
func TestLimiter(t *testing.T) {
	l := Limiter{Every: 10 * time.Second}
	start := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		at       time.Duration // after start
		ok       bool
		heldBack uint64
	}{
		{0, true, 0},
		{time.Second, false, 0},
		{9 * time.Second, false, 0},
		{10 * time.Second, true, 2},
		{15 * time.Second, false, 0},
		{20 * time.Second, true, 1},
		{40 * time.Second, true, 0},
	} {
		if heldBack, ok := l.Allow(start.Add(tc.at)); ok != tc.ok || heldBack != tc.heldBack {
			t.Errorf("a line at +%v: let through %v, %d held back; want %v, %d", tc.at, ok, heldBack, tc.ok, tc.heldBack)
		}
	}
}
