package supervisor

import (
	"time"

	"github.com/liveinject/liveinject/inject"
)

// Channel states, as Status reports them.
const (
	StateStarting = "starting" // ffmpeg started, no frame yet
	StateRunning  = "running"  // frames flowing
	StateBackoff  = "backoff"  // ffmpeg ended or stalled; restarting at RetryAt
	StateStopped  = "stopped"  // the channel's profile cannot run, or the channel was stopped
)

// Status is a snapshot of one channel for status pages and metrics. The channel's goroutine
// publishes a new one at every change; readers get copies and never lock the channel.
type Status struct {
	Name  string
	File  string // the profile
	State string
	// Since is when State began.
	Since time.Time
	// PID is the running ffmpeg's, 0 when none runs.
	PID int
	// Starts counts ffmpeg starts; Stalls the restarts because frames stopped coming.
	Starts, Stalls uint64
	// Frames counts the frames handed to the injector.
	Frames uint64
	// LastCause says why ffmpeg last ended; LastStderr are its last stderr lines then.
	LastCause  string
	LastStderr []string
	// RetryAt is when ffmpeg starts again, in StateBackoff.
	RetryAt time.Time
	// Destinations are the injector's figures, one per destination.
	Destinations []inject.Stats
}

// publish makes a change to the channel's status visible to Status callers. It is called from
// the channel's goroutine only, which owns c.status.
func (c *Channel) publish(change func(*Status)) {
	prev := c.status.Load()
	var s Status
	if prev != nil {
		s = *prev
	}
	oldState := s.State
	change(&s)
	if s.State != oldState {
		s.Since = time.Now()
	}
	c.status.Store(&s)
}

// Status returns the channel's latest status (without Destinations, which the supervisor adds).
func (c *Channel) Status() Status {
	s := Status{Name: c.Profile.Name, File: c.Profile.File, State: StateStarting}
	if p := c.status.Load(); p != nil {
		s = *p
	}
	s.Frames = c.frames.Load()
	return s
}
