// Package gcfloor keeps the garbage collector from starting a cycle before the heap has reached
// a floor, by raising GOGC while the live heap is small.
//
// A channel's process keeps little (a few frames, its buffers: 3–5 MB) and allocates its stream
// about three times over (each frame's own copy, the packetizer's payloads, each destination's
// marshalled packets). With GOGC=100 its heap goal is the 4 MB minimum, so it collected about
// 1.5 times a second, and each cycle woke threads and returned pages to the kernel (madvise, TLB
// shootdowns) that the next frames faulted back in. With a floor of 16 MiB a 1080p30 push took
// 0.63 CPU-s a minute instead of 0.76 (medians of 3 interleaved runs; BENCHMARKS.md, "Fast
// path") for 8 MiB more RSS. A floor gives that to small processes only: GOGC is set so that
// the heap goal is the floor while the live heap is under half of it, and is GOGC=100 from a
// live heap of half the floor on, so a box's memory grows by the floor at most.
package gcfloor

import (
	"context"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// DefaultFloor is the heap goal below which the GC does not start a cycle.
const DefaultFloor = 16 << 20

// minHeap is the runtime's own smallest heap goal at GOGC=100, which it scales with GOGC: a live
// heap under it counts as this much, so that a nearly empty heap (none at all before the first
// cycle) does not get a goal past the floor.
const minHeap = 4 << 20

// Keeper sets GOGC from the live heap, every Interval.
type Keeper struct {
	// Floor is the heap goal kept while the live heap is small; default DefaultFloor.
	Floor uint64
	// Interval is how often the live heap is read; default 2 s.
	Interval time.Duration

	// live and set are the runtime's live heap and debug.SetGCPercent, replaced by tests.
	live func() uint64
	set  func(int) int
}

// Percent returns the GOGC whose heap goal for a live heap of live bytes is floor, at least 100.
func Percent(live, floor uint64) int {
	live = max(live, minHeap)
	return max(int(floor*100/live)-100, 100)
}

// Run sets GOGC every Interval until ctx ends, then sets it back to 100. It changes GOGC only
// when the new value differs from the one in force by more than an eighth.
func (k *Keeper) Run(ctx context.Context) {
	if k.Floor == 0 {
		k.Floor = DefaultFloor
	}
	if k.Interval <= 0 {
		k.Interval = 2 * time.Second
	}
	if k.live == nil {
		k.live = liveHeap
	}
	if k.set == nil {
		k.set = debug.SetGCPercent
	}
	current := 100
	adjust := func() {
		p := Percent(k.live(), k.Floor)
		if diff := p - current; diff > current/8 || -diff > current/8 {
			k.set(p)
			current = p
		}
	}
	defer func() {
		if current != 100 {
			k.set(100)
		}
	}()
	adjust()
	tick := time.NewTicker(k.Interval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			adjust()
		}
	}
}

// liveHeap returns the heap the last GC cycle found live.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
