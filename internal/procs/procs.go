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
//
// Setting GOMAXPROCS turns off the runtime's own updates of it, which follow the CPUs the
// process may use (its affinity, and its cgroup's CPU limit: systemd's CPUQuota=). So without a
// Max the Controller asks the runtime for its default again every MaxEvery, and never sets more;
// when it stops, the runtime takes over again.
type Controller struct {
	// Max is the most Ps it sets; default the runtime's default GOMAXPROCS, followed as it
	// changes.
	Max int
	// MaxEvery is how often the runtime's default is asked again, when Max is not set;
	// default 30 s. Each time costs two stops of the world, of microseconds.
	MaxEvery time.Duration
	// Interval is how often it measures; default 2 s.
	Interval time.Duration
	// OnChange is called with each new GOMAXPROCS and the CPU use, in cores, that made it
	// (optional).
	OnChange func(procs int, cores float64)

	// cpu, now and set are getrusage, time.Now and runtime.GOMAXPROCS, and defaults gives the
	// runtime its default back and returns it; tests replace them.
	cpu      func() time.Duration
	now      func() time.Time
	set      func(int) int
	defaults func() int
}

// runtimeDefault lets the runtime set its default GOMAXPROCS, and its updates of it, again, and
// returns it.
func runtimeDefault() int {
	runtime.SetDefaultGOMAXPROCS()
	return runtime.GOMAXPROCS(0)
}

// Thresholds, in CPU use per P over an interval: above up, a P is added; a P is taken away when
// the others would still be below down with its share. The gap keeps a load near a threshold
// from flapping.
const (
	up   = 0.5
	down = 0.25
)

// Run sets GOMAXPROCS to 1, then adjusts it every Interval until ctx ends, when it sets Max
// again, or without a Max gives GOMAXPROCS back to the runtime.
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
	if c.defaults == nil {
		c.defaults = runtimeDefault
	}
	if c.Interval <= 0 {
		c.Interval = 2 * time.Second
	}
	if c.MaxEvery <= 0 {
		c.MaxEvery = 30 * time.Second
	}
	most := c.Max
	if most <= 0 {
		most = c.defaults()
		defer c.defaults()
	} else {
		defer c.set(most)
	}
	n := 1
	c.set(n)
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	last, lastAt := c.cpu(), c.now()
	mostAt := lastAt
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
			if c.Max <= 0 && now.Sub(mostAt) >= c.MaxEvery {
				// the runtime's default is what it sets: ours goes back at once
				most, mostAt = c.defaults(), now
				n = min(n, most)
				c.set(n)
			}
			if next := Next(n, most, cores); next != n {
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
