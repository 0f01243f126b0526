package supervisor

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// Supervisor keeps one owner per channel (see owner) and reconciles them with the channel set:
// Update hands it a new set, and Run's goroutine creates the owners of added channels, reloads
// those of changed ones and closes those of removed ones. It never starts or stops a channel's
// goroutines itself.
type Supervisor struct {
	// FFmpeg is the ffmpeg binary for every channel.
	FFmpeg string
	// Channels is the set to start with.
	Channels []profiles.Channel
	Logger   *slog.Logger
	// OnStart, if set, is called with the channel name and PID of every ffmpeg child started.
	OnStart func(channel string, pid int)
	// OnApplied, if set, is called from Run's goroutine once an Update has been handed to the
	// owners, with what changed: removed channels are stopped by then, and added, restarted and
	// retargeted ones are on their way.
	OnApplied func(profiles.Changes)

	checker Checker // shared, so that each ffmpeg is asked for its encoders once

	mu      sync.Mutex
	owners  map[string]*owner  // what Status and Destinations read; Run's goroutine writes it
	pending []profiles.Channel // the latest Update not applied yet
	updated bool
	kick    chan struct{}
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
	// profiles are what each owner was last handed
	current := make(map[string]profiles.Channel)
	// The channels it starts with get their owners together: once Started, Status has them all.
	owners := make(map[string]*owner, len(s.Channels))
	for _, ch := range s.Channels {
		owners[ch.Name] = newOwner(ctx, ch, s)
		current[ch.Name] = ch
	}
	s.mu.Lock()
	s.owners = owners
	kick := s.kickLocked()
	s.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			all := slices.Collect(maps.Values(s.owners))
			s.mu.Unlock()
			closeOwners(all)
			return nil
		case <-kick:
			s.mu.Lock()
			channels, ok := s.pending, s.updated
			s.pending, s.updated = nil, false
			s.mu.Unlock()
			if ok {
				s.apply(ctx, current, channels)
			}
		}
	}
}

// apply reconciles the owners with channels.
func (s *Supervisor) apply(ctx context.Context, current map[string]profiles.Channel, channels []profiles.Channel) {
	c := profiles.Diff(slices.Collect(maps.Values(current)), channels)

	// Removed channels stop together, so that a reload of many takes one grace period, not one
	// each; they are gone before a channel of the same stream could be added.
	var removed []*owner
	s.mu.Lock()
	for _, ch := range c.Removed {
		removed = append(removed, s.owners[ch.Name])
		delete(s.owners, ch.Name)
		delete(current, ch.Name)
	}
	s.mu.Unlock()
	closeOwners(removed)
	for _, ch := range c.Removed {
		s.Logger.Info("channel removed", "channel", ch.Name)
	}

	s.mu.Lock()
	for _, ch := range slices.Concat(c.Restart, c.Retarget) {
		s.owners[ch.Name].reload(ch)
		current[ch.Name] = ch
	}
	s.mu.Unlock()
	for _, ch := range c.Added {
		s.add(ctx, current, ch)
		s.Logger.Info("channel added", "channel", ch.Name)
	}
	if s.OnApplied != nil {
		s.OnApplied(c)
	}
}

// add starts the owner of a channel.
func (s *Supervisor) add(ctx context.Context, current map[string]profiles.Channel, ch profiles.Channel) {
	o := newOwner(ctx, ch, s)
	s.mu.Lock()
	s.owners[ch.Name] = o
	s.mu.Unlock()
	current[ch.Name] = ch
}

// closeOwners stops channels in parallel: their ffmpeg reaped, their destinations torn down.
func closeOwners(owners []*owner) {
	var wg sync.WaitGroup
	for _, o := range owners {
		wg.Go(o.close)
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

// Restart restarts a channel's ffmpeg at once (see Channel.Restart). It fails with an
// *UnknownChannelError for a channel it does not have, and with a *NotRunnableError for one in
// state error, which runs no ffmpeg.
func (s *Supervisor) Restart(channel string) error {
	s.mu.Lock()
	o, ok := s.owners[channel]
	s.mu.Unlock()
	if !ok {
		return &UnknownChannelError{Channel: channel}
	}
	if st := o.ch.Status(); st.State == StateError {
		return &NotRunnableError{Channel: channel, File: st.File, Cause: st.LastCause}
	}
	o.ch.Restart()
	return nil
}

// RetryNow starts every channel that waits in backoff at once (see Channel.RetryNow).
func (s *Supervisor) RetryNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range s.owners {
		o.ch.RetryNow()
	}
}

// Destinations returns the destination figures of a channel, or nil for an unknown one or one
// whose injector could not start.
func (s *Supervisor) Destinations(channel string) []inject.Stats {
	s.mu.Lock()
	o, ok := s.owners[channel]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if f := o.injector(); f != nil {
		return f.Stats()
	}
	return nil
}

// Started reports whether Run has started the channels it starts with. Until then Status has
// none of them: a caller that judges the box by its channels (/healthz) must ask this first.
func (s *Supervisor) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners != nil
}

// Status returns the status of every channel, sorted by name.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	owners := slices.Collect(maps.Values(s.owners))
	s.mu.Unlock()
	out := make([]Status, len(owners))
	for i, o := range owners {
		out[i] = o.status()
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
