package supervisor

import (
	"cmp"
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/profiles"
)

// Supervisor reconciles the channels (see channel) with the channel set: Update hands it a new
// set, and Run's goroutine starts added channels, reloads changed ones and closes removed ones.
// It never starts or stops a channel's goroutines itself.
type Supervisor struct {
	// FFmpeg is the ffmpeg binary for every channel.
	FFmpeg string
	// Channels is the set to start with.
	Channels []profiles.Channel
	Logger   *slog.Logger
	// StateDir, when set, is where each channel keeps its RTP sequence numbers and time for the
	// next process (inject.Fanout.StateFile): rtp/NAME.json.
	StateDir string
	// OnStart, if set, is called with the channel name and PID of every ffmpeg child started.
	OnStart func(channel string, pid int)
	// OnApplied, if set, is called from Run's goroutine once an Update has been handed to the
	// channels, with what changed: removed channels are stopped by then, and added, restarted and
	// retargeted ones are on their way.
	OnApplied func(profiles.Changes)
	// OnEvent, if set, hears of what happens to the channels and their destinations (see
	// package event). It must not block.
	OnEvent event.Sink

	checker Checker // shared, so that each ffmpeg is asked for its encoders once

	updates mailbox[[]profiles.Channel] // the latest Update not applied yet

	mu     sync.Mutex
	byName map[string]*channel // what Status and Destinations read; Run's goroutine writes it
}

// Update asks Run to turn the channel set into channels: added channels start, removed ones stop,
// changed ones restart or only get new destinations (see profiles.Diff), and the others are left
// alone. It does not wait; when updates come faster than they are applied, the latest wins.
func (s *Supervisor) Update(channels []profiles.Channel) {
	s.updates.put(channels)
}

// Run starts every channel and applies updates until ctx ends; then it stops every channel in
// parallel and returns once every ffmpeg child is reaped and every destination torn down.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	// profiles are what each channel was last handed
	current := make(map[string]profiles.Channel)
	// The channels it starts with go in together: once Started, Status has them all.
	byName := make(map[string]*channel, len(s.Channels))
	for _, ch := range s.Channels {
		byName[ch.Name] = newChannel(ctx, ch, s)
		current[ch.Name] = ch
	}
	s.mu.Lock()
	s.byName = byName
	s.mu.Unlock()
	updates := s.updates.ready()
	for {
		select {
		case <-ctx.Done():
			s.mu.Lock()
			all := slices.Collect(maps.Values(s.byName))
			s.mu.Unlock()
			closeChannels(all)
			return nil
		case <-updates:
			if channels, ok := s.updates.take(); ok {
				s.apply(ctx, current, channels)
			}
		}
	}
}

// apply reconciles the running channels with the set channels.
func (s *Supervisor) apply(ctx context.Context, current map[string]profiles.Channel, channels []profiles.Channel) {
	diff := profiles.Diff(slices.Collect(maps.Values(current)), channels)

	// Removed channels stop together, so that a reload of many takes one grace period, not one
	// each; they are gone before a channel of the same stream could be added.
	var removed []*channel
	s.mu.Lock()
	for _, ch := range diff.Removed {
		removed = append(removed, s.byName[ch.Name])
		delete(s.byName, ch.Name)
		delete(current, ch.Name)
	}
	s.mu.Unlock()
	closeChannels(removed)
	for _, ch := range diff.Removed {
		s.Logger.Info("channel removed", "channel", ch.Name)
	}

	s.mu.Lock()
	for _, ch := range slices.Concat(diff.Restart, diff.Retarget, diff.Rerecord) {
		s.byName[ch.Name].reload(ch)
		current[ch.Name] = ch
	}
	s.mu.Unlock()
	for _, ch := range diff.Added {
		s.add(ctx, current, ch)
		s.Logger.Info("channel added", "channel", ch.Name)
	}
	if s.OnApplied != nil {
		s.OnApplied(diff)
	}
}

// add starts a channel.
func (s *Supervisor) add(ctx context.Context, current map[string]profiles.Channel, ch profiles.Channel) {
	c := newChannel(ctx, ch, s)
	s.mu.Lock()
	s.byName[ch.Name] = c
	s.mu.Unlock()
	current[ch.Name] = ch
}

// closeChannels stops channels in parallel: their ffmpeg reaped, their destinations torn down.
func closeChannels(channels []*channel) {
	var wg sync.WaitGroup
	for _, c := range channels {
		wg.Go(c.close)
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
			NoVerify: !d.Verify, VerifyURL: d.VerifyURL, VerifyEvery: d.VerifyEvery.Std(),
			StreamKey:  d.StreamKey,
			SRTLatency: d.Latency.Std(), SRTPassphrase: d.Passphrase, SRTStreamID: d.StreamID,
		}
	}
	return out
}

// Restart restarts the ffmpeg of a channel's input on air (its source's while none is) at once
// (see encoder.Restart). It fails with an *UnknownChannelError for a channel it does not have,
// and with a *NotRunnableError for one in state error, which runs no ffmpeg.
func (s *Supervisor) Restart(name string) error {
	c, err := s.channel(name)
	if err != nil {
		return err
	}
	if st := c.source().enc.Status(); st.State == StateError {
		return &NotRunnableError{Channel: name, File: st.File, Cause: st.LastCause}
	}
	c.sw.mu.Lock()
	fd := c.sw.feeds[0]
	if c.sw.onAir != nil {
		fd = c.sw.onAir
	}
	c.sw.mu.Unlock()
	fd.enc.Restart()
	return nil
}

// Switch puts an input of a channel on air and keeps it there ("source", "backup N",
// "slate"), or gives the choice back to the channel's rules ("auto"): the switch happens at
// the input's next keyframe, once it runs. It fails with an *UnknownChannelError or a
// *BadSwitchError.
func (s *Supervisor) Switch(name, target string) error {
	c, err := s.channel(name)
	if err != nil {
		return err
	}
	return c.force(target)
}

func (s *Supervisor) channel(name string) (*channel, error) {
	s.mu.Lock()
	c, ok := s.byName[name]
	s.mu.Unlock()
	if !ok {
		return nil, &UnknownChannelError{Channel: name}
	}
	return c, nil
}

// RetryNow starts every input that waits in backoff at once (see encoder.RetryNow).
func (s *Supervisor) RetryNow() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.byName {
		c.sw.mu.Lock()
		for _, fd := range c.sw.all() {
			fd.enc.RetryNow()
		}
		c.sw.mu.Unlock()
	}
}

// Destinations returns the destination figures of a channel, or nil for an unknown one or one
// whose injector could not start.
func (s *Supervisor) Destinations(name string) []inject.Stats {
	s.mu.Lock()
	c, ok := s.byName[name]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	if f := c.injector(); f != nil {
		return f.Stats()
	}
	return nil
}

// Started reports whether Run has started the channels it starts with. Until then Status has
// none of them: a caller that judges the box by its channels (/healthz) must ask this first.
func (s *Supervisor) Started() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byName != nil
}

// Status returns the status of every channel, sorted by name.
func (s *Supervisor) Status() []Status {
	s.mu.Lock()
	channels := slices.Collect(maps.Values(s.byName))
	s.mu.Unlock()
	out := make([]Status, len(channels))
	for i, c := range channels {
		out[i] = c.status()
	}
	slices.SortFunc(out, func(a, b Status) int { return cmp.Compare(a.Name, b.Name) })
	return out
}
