package procs

import (
	"context"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNext(t *testing.T) {
	for _, c := range []struct {
		n, max int
		cores  float64
		want   int
	}{
		{1, 8, 0.02, 1}, // one channel
		{1, 8, 0.5, 1},  // half a core on one P: still one
		{1, 8, 0.6, 2},  // more: as many as keep each at most half busy
		{1, 8, 0.98, 2}, // one P saturated
		{2, 8, 1.7, 4},  // two saturated: a jump
		{1, 2, 0.98, 2}, // never more than max
		{4, 4, 3.9, 4},  // already at max
		{2, 8, 0.3, 2},  // between the thresholds: stays
		{2, 8, 0.24, 1}, // the other P alone would be under a quarter busy
		{4, 8, 0.74, 3}, // down one at a time
		{3, 8, 0.49, 2}, // 0.49 on two Ps is under a quarter each
		{1, 8, 0, 1},    // idle
	} {
		if got := Next(c.n, c.max, c.cores); got != c.want {
			t.Errorf("Next(%d, %d, %.2f) = %d, want %d", c.n, c.max, c.cores, got, c.want)
		}
	}
}

// TestRun drives a Controller with a made-up CPU clock: it starts at one P, follows the load up
// and down, and leaves Max set when it ends.
// fakeProcess is a process whose CPU is read a second after the reading before, in which it used
// load cores.
type fakeProcess struct {
	mu    sync.Mutex
	used  time.Duration
	clock time.Time
	load  float64
	// limit is the runtime's default GOMAXPROCS, for Controller.defaults
	limit int
}

func (p *fakeProcess) cpu() time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.clock = p.clock.Add(time.Second)
	p.used += time.Duration(p.load * float64(time.Second))
	return p.used
}

func (p *fakeProcess) now() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.clock
}

func (p *fakeProcess) set(load float64, limit int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.load, p.limit = load, limit
}

// start runs c until the returned function is called, which waits for Run to return.
func start(t *testing.T, c *Controller) (stop func()) {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func TestRun(t *testing.T) {
	p := &fakeProcess{}
	sets := make(chan int, 100)
	c := &Controller{
		Max:      4,
		Interval: time.Millisecond,
		cpu:      p.cpu,
		now:      p.now,
		set:      func(n int) int { sets <- n; return 4 },
	}
	var changes []int
	c.OnChange = func(n int, _ float64) { changes = append(changes, n) }
	stop := start(t, c)
	expect := func(want int) {
		t.Helper()
		select {
		case n := <-sets:
			if n != want {
				t.Fatalf("GOMAXPROCS set to %d, want %d", n, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("GOMAXPROCS not set to %d", want)
		}
	}
	expect(1)
	p.set(1.2, 0) // more than one P can carry: 1.2/0.5 + 1
	expect(3)
	p.set(0.1, 0)
	expect(2)
	expect(1)
	stop()
	expect(4)
	if len(changes) != 3 {
		t.Errorf("OnChange called for %v, want 3, 2, 1", changes)
	}
}

// TestRunFollowsTheRuntimesDefault runs without a Max: the most it sets is the runtime's default
// GOMAXPROCS (the CPUs the process may use), asked again every MaxEvery, so that a lowered CPU
// limit (systemd's CPUQuota=) is followed; when it stops, the runtime's default is back.
func TestRunFollowsTheRuntimesDefault(t *testing.T) {
	p := &fakeProcess{limit: 4}
	// what was set, in order: n for GOMAXPROCS(n), -n for the runtime's default of n
	sets := make(chan int, 10000)
	c := &Controller{
		Interval: time.Millisecond,
		MaxEvery: 5 * time.Second,
		cpu:      p.cpu,
		now:      p.now,
		set:      func(n int) int { sets <- n; return 0 },
		defaults: func() int {
			p.mu.Lock()
			defer p.mu.Unlock()
			sets <- -p.limit
			return p.limit
		},
	}
	stop := start(t, c)
	// until waits for want, past the runtime's default being asked again meanwhile; nothing
	// set may be more than most.
	until := func(want, most int) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case n := <-sets:
				if n > most {
					t.Fatalf("GOMAXPROCS set to %d, past %d", n, most)
				}
				if n == want {
					return
				}
			case <-deadline:
				t.Fatalf("GOMAXPROCS never set to %d", want)
			}
		}
	}
	until(-4, 1) // asked at the start
	until(1, 1)
	p.set(5, 4) // all it may have
	until(4, 4)
	p.set(5, 2) // CPUQuota=200%
	until(-2, 4)
	until(2, 2) // at once
	stop()
	var last int
	for len(sets) > 0 {
		if last = <-sets; last > 2 {
			t.Errorf("GOMAXPROCS set to %d past the limit of 2", last)
		}
	}
	if last != -2 {
		t.Errorf("the last setting was %d, want the runtime's default (-2)", last)
	}
}
