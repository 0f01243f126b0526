package gcfloor

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/internal/fftest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercent(t *testing.T) {
	const MiB = 1 << 20
	for _, c := range []struct {
		live, floor uint64
		want        int
	}{
		{0, 16 * MiB, 300},        // before the first cycle: counted as the runtime's 4 MiB
		{1 * MiB, 16 * MiB, 300},  // likewise
		{4 * MiB, 16 * MiB, 300},  // goal 4 × 4 MiB
		{5 * MiB, 16 * MiB, 220},  // 16/5 − 1
		{8 * MiB, 16 * MiB, 100},  // half the floor: GOGC=100 reaches it
		{40 * MiB, 16 * MiB, 100}, // past it: the runtime's own
		{4 * MiB, 64 * MiB, 1500}, // a larger floor
	} {
		if got := Percent(c.live, c.floor); got != c.want {
			t.Errorf("Percent(%d MiB, %d MiB) = %d, want %d", c.live/MiB, c.floor/MiB, got, c.want)
		}
	}
}

// TestRun drives a Keeper with a made-up live heap: GOGC follows it, only changes of more than
// an eighth are made, and GOGC is 100 again when it ends.
func TestRun(t *testing.T) {
	const MiB = 1 << 20
	var live atomic.Uint64
	var reads atomic.Int64
	live.Store(4 * MiB)
	sets := make(chan int, 100)
	k := &Keeper{
		Floor:    16 * MiB,
		Interval: time.Millisecond,
		live: func() uint64 {
			reads.Add(1)
			return live.Load()
		},
		set: func(p int) int { sets <- p; return 0 },
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		k.Run(ctx)
	}()
	expect := func(want int) {
		t.Helper()
		select {
		case p := <-sets:
			if p != want {
				t.Fatalf("GOGC set to %d, want %d", p, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("GOGC not set to %d", want)
		}
	}
	expect(300)
	live.Store(4*MiB + 256<<10) // 16/4.25 − 1: 276, within an eighth of 300: left as it is
	r := reads.Load()
	fftest.WaitFor(t, 10*time.Second, "three more readings", func() bool { return reads.Load() >= r+3 })
	live.Store(6 * MiB) // 166
	expect(166)
	live.Store(20 * MiB)
	expect(100)
	cancel()
	<-done
	select {
	case p := <-sets:
		t.Fatalf("GOGC set to %d at the end, already 100", p)
	default:
	}
}
