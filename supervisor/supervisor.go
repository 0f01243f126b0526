package supervisor

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// Supervisor owns the set of channels: one goroutine each, with its ffmpeg child and its
// injector. Run's goroutine alone starts and stops them; Update hands it a new set.
type Supervisor struct {
	// FFmpeg is the ffmpeg binary for every channel.
	FFmpeg string
	// Channels is the set to start with.
	Channels []profiles.Channel
	Logger   *slog.Logger
	// OnStart, if set, is called with the channel name and PID of every ffmpeg child started.
	OnStart func(channel string, pid int)
	// OnApplied, if set, is called from Run's goroutine after each Update has been applied,
	// with what changed.
	OnApplied func(profiles.Changes)

	checker Checker // shared, so that each ffmpeg is asked for its encoders once

	mu      sync.Mutex
	views   map[string]view    // what Status and Destinations read
	pending []profiles.Channel // the latest Update not applied yet
	updated bool
	kick    chan struct{}
}

// view is a channel as Status sees it.
type view struct {
	ch     *Channel
	fanout *inject.Fanout
}

// running is a started channel, as Run's goroutine keeps it.
type running struct {
	profile profiles.Channel
	fanout  *inject.Fanout
	cancel  context.CancelFunc
	done    chan struct{} // closed when the channel's goroutine has stopped its ffmpeg
}

// Update asks Run to turn the channel set into channels: added channels start, removed ones stop,
// changed ones restart or only get new destinations (see profiles.Diff), and the others are left
// alone. It does not wait; when updates come faster than they are applied, the latest wins.
func (s *Supervisor) Update(channels []profiles.Channel) {
	s.mu.Lock()
	s.pending, s.updated = channels, true
	kick := s.kickLocked()
	s.mu.Unlock()
	select {
	case kick <- struct{}{}:
	default: // a kick is pending already
	}
}

func (s *Supervisor) kickLocked() chan struct{} {
	if s.kick == nil {
		s.kick = make(chan struct{}, 1)
	}
	return s.kick
}

// Run starts every channel and applies updates until ctx ends; then it stops every channel in
// parallel and returns once every ffmpeg child is reaped and every destination torn down.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.views = make(map[string]view)
	kick := s.kickLocked()
	s.mu.Unlock()

	set := make(map[string]*running)
	for _, ch := range s.Channels {
		s.add(ctx, set, ch)
	}
	for {
		select {
		case <-ctx.Done():
			var all []*running
			for _, r := range set {
				all = append(all, r)
			}
			s.stop(all)
			closeAll(all)
			return nil
		case <-kick:
			s.mu.Lock()
			channels, ok := s.pending, s.updated
			s.pending, s.updated = nil, false
			s.mu.Unlock()
			if ok {
				s.apply(ctx, set, channels)
			}
		}
	}
}

// apply turns the running set into channels.
func (s *Supervisor) apply(ctx context.Context, set map[string]*running, channels []profiles.Channel) {
	current := make([]profiles.Channel, 0, len(set))
	for _, r := range set {
		current = append(current, r.profile)
	}
	c := profiles.Diff(current, channels)

	// Removed and restarted channels stop together, so that a reload of many channels takes one
	// grace period, not one each.
	var stopping []*running
	for _, ch := range c.Removed {
		stopping = append(stopping, set[ch.Name])
		delete(set, ch.Name)
		s.mu.Lock()
		delete(s.views, ch.Name)
		s.mu.Unlock()
	}
	var restarting []*running
	for _, ch := range c.Restart {
		restarting = append(restarting, set[ch.Name])
	}
	s.stop(append(stopping, restarting...))
	for _, r := range stopping {
		s.Logger.Info("channel removed", "channel", r.profile.Name)
	}
	// Removed channels' destinations are torn down together too.
	closeAll(stopping)

	for _, ch := range c.Restart {
		// The injector stays: its sessions stay up and see a pause, as after an ffmpeg crash.
		r := set[ch.Name]
		s.retarget(r, ch)
		r.fanout.Discontinuity()
		s.startChannel(ctx, r, ch)
		s.Logger.Info("channel restarted", "channel", ch.Name)
	}
	for _, ch := range c.Retarget {
		r := set[ch.Name]
		s.retarget(r, ch)
		r.profile = ch
		s.Logger.Info("channel retargeted", "channel", ch.Name, "destinations", len(ch.Destinations))
	}
	for _, ch := range c.Added {
		s.add(ctx, set, ch)
		s.Logger.Info("channel added", "channel", ch.Name)
	}
	if s.OnApplied != nil {
		s.OnApplied(c)
	}
}

// add creates a channel's injector and starts the channel.
func (s *Supervisor) add(ctx context.Context, set map[string]*running, ch profiles.Channel) {
	log := s.Logger.With("channel", ch.Name)
	f := &inject.Fanout{Channel: ch.Name, Targets: targets(ch), Logger: log}
	if err := f.Initialize(); err != nil {
		// A channel that cannot start must not take the others down.
		log.Error("channel not started", "file", ch.File, "error", err)
		return
	}
	r := &running{fanout: f}
	set[ch.Name] = r
	s.startChannel(ctx, r, ch)
}

// startChannel starts the channel's goroutine with profile ch.
func (s *Supervisor) startChannel(ctx context.Context, r *running, ch profiles.Channel) {
	log := s.Logger.With("channel", ch.Name)
	c := &Channel{Profile: ch, FFmpeg: s.FFmpeg, Sink: r.fanout, Logger: log,
		Grace: time.Duration(ch.FFmpeg.StopGrace), StallTimeout: time.Duration(ch.FFmpeg.StallTimeout), Checker: &s.checker}
	if s.OnStart != nil {
		c.OnStart = func(pid int) { s.OnStart(ch.Name, pid) }
	}
	ctx, cancel := context.WithCancel(ctx)
	r.profile, r.cancel, r.done = ch, cancel, make(chan struct{})
	s.mu.Lock()
	s.views[ch.Name] = view{ch: c, fanout: r.fanout}
	s.mu.Unlock()
	go func() {
		defer close(r.done)
		if err := c.Run(ctx); err != nil {
			log.Error("channel stopped", "file", ch.File, "error", err)
		}
	}()
}

// retarget hands the injector the new destinations; on an invalid one it keeps the old ones.
func (s *Supervisor) retarget(r *running, ch profiles.Channel) {
	if err := r.fanout.SetTargets(targets(ch)); err != nil {
		s.Logger.Error("destinations not changed", "channel", ch.Name, "file", ch.File, "error", err)
	}
}

// stop stops channels' ffmpeg in parallel and waits; their injectors stay up.
func (s *Supervisor) stop(rs []*running) {
	for _, r := range rs {
		r.cancel()
	}
	for _, r := range rs {
		<-r.done
	}
}

// closeAll closes channels' injectors in parallel, sending their TEARDOWNs.
func closeAll(rs []*running) {
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Go(r.fanout.Close)
	}
	wg.Wait()
}

func targets(ch profiles.Channel) []inject.Target {
	out := make([]inject.Target, len(ch.Destinations))
	for i, d := range ch.Destinations {
		out[i] = inject.Target{
			URL: d.URL, Transport: d.Transport, User: d.User, Password: d.Password, SessionName: d.SessionName,
			Metadata: inject.Metadata{Info: d.SessionInfo, Author: d.SessionAuthor,
				Copyright: d.SessionCopyright, Comment: d.SessionComment},
			TLSCA: d.TLSCA, TLSInsecure: d.TLSInsecure,
		}
	}
	return out
}

// Destinations returns the destination figures of a channel, or nil for an unknown one.
func (s *Supervisor) Destinations(channel string) []inject.Stats {
	s.mu.Lock()
	v, ok := s.views[channel]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	return v.fanout.Stats()
}

// Status returns the status of every channel, sorted by name.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	views := make([]view, 0, len(s.views))
	for _, v := range s.views {
		views = append(views, v)
	}
	s.mu.Unlock()
	out := make([]Status, len(views))
	for i, v := range views {
		out[i] = v.ch.Status()
		out[i].Destinations = v.fanout.Stats()
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
