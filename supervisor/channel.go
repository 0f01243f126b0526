package supervisor

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// channel is one channel and the one owner of its state, as MediaMTX has one per path: it holds
// the channel's profile, its injector with the destinations, and its ffmpeg loop (an encoder
// that lives as long as the channel, so that its counters go on across restarts and reloads).
// reload hands it a new profile without waiting, and its goroutine applies it; nothing else
// starts or stops the goroutines of the channel. A channel whose injector cannot start is still
// there, in state error, until a profile that works comes.
type channel struct {
	name string
	log  *slog.Logger
	enc  *encoder
	// stateFile keeps the RTP numbers of the channel's injector between processes; "" for none.
	stateFile string

	// reloads holds the profile reload handed in, not yet applied.
	reloads mailbox[profiles.Channel]

	mu sync.Mutex
	// fanout is the channel's injector, nil while it cannot start. Set once, by the goroutine.
	fanout *inject.Fanout

	cancel context.CancelFunc
	done   chan struct{}
}

// newChannel starts channel p. Its goroutines end when ctx ends or close is called.
func newChannel(ctx context.Context, p profiles.Channel, s *Supervisor) *channel {
	log := s.Logger.With("channel", p.Name)
	c := &channel{name: p.Name, log: log, done: make(chan struct{})}
	if s.StateDir != "" {
		c.stateFile = filepath.Join(s.StateDir, "rtp", p.Name+".json")
	}
	c.enc = &encoder{Profile: p, FFmpeg: s.FFmpeg, Logger: log, Checker: &s.checker}
	if s.OnStart != nil {
		c.enc.OnStart = func(pid int) { s.OnStart(p.Name, pid) }
	}
	c.enc.publish(func(st *Status) { st.Name, st.File, st.State = p.Name, p.File, StateStarting })
	// The injector starts here, so that the channel shows its destinations from the start.
	f := c.newFanout(p)
	ctx, c.cancel = context.WithCancel(ctx)
	go c.run(ctx, p, f)
	return c
}

// reload hands the channel a new version of its profile, applied from its goroutine: a new
// encoding restarts ffmpeg, new destinations change only the injector's. It never waits.
func (c *channel) reload(p profiles.Channel) {
	c.reloads.put(p)
}

// close stops the channel: its ffmpeg is reaped and its destinations torn down when it returns.
func (c *channel) close() {
	c.cancel()
	<-c.done
}

// run is the channel's goroutine. f is the channel's injector, nil if it could not start with p.
func (c *channel) run(ctx context.Context, p profiles.Channel, f *inject.Fanout) {
	defer close(c.done)
	reloads := c.reloads.ready()
	// A channel that cannot start must not take the others down: it waits for a profile that
	// can, in state error.
	for f == nil {
		select {
		case <-ctx.Done():
			c.enc.publish(func(st *Status) { st.State = StateStopped })
			return
		case <-reloads:
		}
		if next, ok := c.reloads.take(); ok {
			p = next
			c.enc.publish(func(st *Status) { st.File = p.File })
			f = c.newFanout(p)
		}
	}
	defer f.Close() // after ffmpeg: the last frames go out before TEARDOWN

	c.enc.Profile, c.enc.Sink = p, f
	ffmpegDone := make(chan struct{})
	go func() {
		defer close(ffmpegDone)
		c.enc.Run(ctx) //nolint:errcheck // it returns nil, and logs what it meets
	}()
	defer func() { <-ffmpegDone }()

	hold := &holder{ctx: ctx, c: c, f: f, ffmpeg: c.enc.FFmpeg}
	defer hold.wait()
	tick := time.NewTicker(holdTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			hold.check(now, time.Duration(p.Hold))
			continue
		case <-reloads:
		}
		next, ok := c.reloads.take()
		if !ok {
			continue
		}
		changes := strings.Join(profiles.Changed(p, next), ", ")
		if !profiles.SameEncoding(p, next) {
			c.enc.Reload(next)
			c.log.Info("channel restarted", "file", next.File, "changes", changes)
		}
		if !profiles.SameDestinations(p, next) {
			if err := f.SetTargets(targets(next)); err != nil {
				// the injector keeps the destinations it has, and so does the profile held
				c.log.Error("destinations not changed", "file", next.File, "error", err)
				next.Destinations = p.Destinations
			} else if profiles.SameEncoding(p, next) {
				c.log.Info("channel retargeted", "file", next.File, "changes", changes)
			}
		}
		p = next
	}
}

// newFanout starts the channel's injector with profile p, or says why it cannot and returns nil.
func (c *channel) newFanout(p profiles.Channel) *inject.Fanout {
	f := &inject.Fanout{Channel: p.Name, Targets: targets(p), Logger: c.log, StateFile: c.stateFile}
	if err := f.Initialize(); err != nil {
		c.log.Error("channel not started", "file", p.File, "error", err)
		c.enc.publish(func(st *Status) { st.State = StateError; st.setCause(err.Error(), CauseProfile) })
		return nil
	}
	c.mu.Lock()
	c.fanout = f
	c.mu.Unlock()
	return f
}

// status returns the channel's status with its destinations' figures.
func (c *channel) status() Status {
	st := c.enc.Status()
	if f := c.injector(); f != nil {
		st.Destinations = f.Stats()
	}
	return st
}

func (c *channel) injector() *inject.Fanout {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fanout
}
