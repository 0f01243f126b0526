// Package procs sizes the Go runtime's GOMAXPROCS to the CPU the process uses.
//
// liveinject's process does little work per frame and is idle between frames, and what it costs
// is mostly waking up: with a second P, the runtime wakes another thread for every goroutine
// that becomes ready (a destination handed a frame, a client's writer handed a packet), only to
// find that the P which readied it runs it next. Pushing one 1080p30 channel, that made the
// process cost 1.33 CPU-s a minute with GOMAXPROCS=2 against 0.91 with GOMAXPROCS=1
// (BENCHMARKS.md, "Fast path"). A box with many channels, destinations or players needs more
// than one P, though; so the Controller starts with one and adds a P when the process keeps the
// ones it has busy, and takes one away when it no longer does.
package procs

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

// Controller adjusts GOMAXPROCS between 1 and Max from the process's CPU use.
type Controller struct {
	// Max is the most Ps it sets; default the runtime's GOMAXPROCS when Run starts (the CPUs
	// the process may use).
	Max int
	// Interval is how often it measures; default 2 s.
	Interval time.Duration
	// OnChange is called with each new GOMAXPROCS and the CPU use, in cores, that made it
	// (optional).
	OnChange func(procs int, cores float64)

	// cpu, now and set are getrusage, time.Now and runtime.GOMAXPROCS, replaced by tests.
	cpu func() time.Duration
	now func() time.Time
	set func(int) int
}

// Thresholds, in CPU use per P over an interval: above up, a P is added; a P is taken away when
// the others would still be below down with its share. The gap keeps a load near a threshold
// from flapping.
const (
	up   = 0.5
	down = 0.25
)

// Run sets GOMAXPROCS to 1, then adjusts it every Interval until ctx ends, when it sets Max
// again.
func (c *Controller) Run(ctx context.Context) {
	if c.cpu == nil {
		c.cpu = cpuTime
	}
	if c.now == nil {
		c.now = time.Now
	}
	if c.set == nil {
		c.set = runtime.GOMAXPROCS
	}
	if c.Max <= 0 {
		c.Max = c.set(0)
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	n := 1
	c.set(n)
	defer c.set(c.Max)
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	last, lastAt := c.cpu(), c.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			used, now := c.cpu(), c.now()
			elapsed := now.Sub(lastAt)
			if elapsed <= 0 {
				continue // no time to measure over
			}
			cores := (used - last).Seconds() / elapsed.Seconds()
			last, lastAt = used, now
			if next := Next(n, c.Max, cores); next != n {
				n = next
				c.set(n)
				if c.OnChange != nil {
					c.OnChange(n, cores)
				}
			}
		}
	}
}

// Next returns the GOMAXPROCS for a process that used cores of CPU with n Ps, at most max: as
// many as keep each P at most half busy, one fewer at a time when even that leaves each of the
// rest at most a quarter busy.
func Next(n, max int, cores float64) int {
	switch {
	case cores > up*float64(n):
		return min(max, int(cores/up)+1)
	case n > 1 && cores < down*float64(n-1):
		return n - 1
	}
	return n
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
