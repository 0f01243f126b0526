package supervisor

import (
	"context"
	"log/slog"
	"sync"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// Supervisor owns the set of channels: one goroutine each, with its ffmpeg child and its injector.
type Supervisor struct {
	// FFmpeg is the ffmpeg binary for every channel.
	FFmpeg   string
	Channels []profiles.Channel
	Logger   *slog.Logger
	// OnStart, if set, is called with the channel name and PID of every ffmpeg child started.
	OnStart func(channel string, pid int)

	mu      sync.Mutex
	fanouts map[string]*inject.Fanout
}

// Run starts every channel and returns when ctx ends and all of them are stopped: every ffmpeg
// child reaped and every destination torn down.
func (s *Supervisor) Run(ctx context.Context) error {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	s.mu.Lock()
	s.fanouts = make(map[string]*inject.Fanout)
	s.mu.Unlock()

	var wg sync.WaitGroup
	for _, ch := range s.Channels {
		log := s.Logger.With("channel", ch.Name)
		targets := make([]inject.Target, len(ch.Destinations))
		for i, d := range ch.Destinations {
			targets[i] = inject.Target{URL: d.URL, Transport: d.Transport}
		}
		f := &inject.Fanout{Channel: ch.Name, Targets: targets, Logger: log}
		if err := f.Initialize(); err != nil {
			// A channel that cannot start must not take the others down.
			log.Error("channel not started", "error", err)
			continue
		}
		s.mu.Lock()
		s.fanouts[ch.Name] = f
		s.mu.Unlock()

		c := &Channel{Profile: ch, FFmpeg: s.FFmpeg, Sink: f, Logger: log}
		if s.OnStart != nil {
			c.OnStart = func(pid int) { s.OnStart(ch.Name, pid) }
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Run(ctx); err != nil {
				log.Error("channel stopped", "error", err)
			}
			f.Close()
		}()
	}
	wg.Wait()
	return nil
}

// Destinations returns the destination figures of a channel, or nil for an unknown one.
func (s *Supervisor) Destinations(channel string) []inject.Stats {
	s.mu.Lock()
	f := s.fanouts[channel]
	s.mu.Unlock()
	if f == nil {
		return nil
	}
	return f.Stats()
}
