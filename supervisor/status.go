package supervisor

import (
	"strconv"
	"strings"
	"time"

	"github.com/liveinject/liveinject/inject"
)

// Channel states, as Status reports them.
const (
	StateStarting = "starting" // ffmpeg started, no frame yet
	StateRunning  = "running"  // frames flowing
	StateBackoff  = "backoff"  // ffmpeg ended or stalled; restarting at RetryAt
	StateStopped  = "stopped"  // the channel was stopped
	StateError    = "error"    // the channel's profile cannot run: see LastCause
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
	// Frames and AudioFrames count the video and audio frames handed to the injector over the
	// channel's life (ffmpeg restarts and reloads included); DemuxErrors the damage in ffmpeg's
	// MPEG-TS that the demuxer recovered from.
	Frames, AudioFrames, DemuxErrors uint64
	// LastCause says why ffmpeg last ended, or why the profile cannot run; Cause says it in a
	// few words (see the Cause constants, or "exited N"); LastCauseAt says when, zero before
	// the first (a cause stays after the channel has recovered: this tells an old one from a
	// current one); LastStderr are ffmpeg's last stderr lines then.
	LastCause   string
	Cause       string
	LastCauseAt time.Time
	LastStderr  []string
	// Progress is what the running ffmpeg last reported; zero when none runs.
	Progress Progress
	// RetryAt is when ffmpeg starts again, in StateBackoff.
	RetryAt time.Time
	// HoldingSince is when the last frame came, while the channel's destinations get its last
	// keyframe again instead (see profiles.Channel.Hold); zero when frames come. Held is how
	// long the holds that ended lasted, together.
	HoldingSince time.Time
	Held         time.Duration
	// Destinations are the injector's figures, one per destination.
	Destinations []inject.Stats
}

// setCause records why ffmpeg ended, or why the profile cannot run: full in LastCause, in a few
// words in Cause, now in LastCauseAt.
func (s *Status) setCause(full, cause string) {
	s.LastCause, s.Cause, s.LastCauseAt = full, cause, time.Now()
}

// publish makes a change to the channel's status visible to Status callers. Changes come from
// the channel's goroutine and from its ffmpeg's stderr reader; readers never wait for them.
func (c *Channel) publish(change func(*Status)) {
	c.publishMu.Lock()
	defer c.publishMu.Unlock()
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
	var s Status
	if p := c.status.Load(); p != nil {
		s = *p
	} else {
		// before Run: the profile is not being changed yet
		s = Status{Name: c.Profile.Name, File: c.Profile.File, State: StateStarting}
	}
	s.Frames, s.AudioFrames, s.DemuxErrors = c.frames.Load(), c.audioFrames.Load(), c.demuxErrors.Load()
	return s
}

// Progress is one block of ffmpeg's -progress output: the encoder's own figures.
type Progress struct {
	// Frame counts the frames encoded in this run; DropFrames and DupFrames those dropped and
	// duplicated to keep the frame rate.
	Frame, DropFrames, DupFrames uint64
	FPS                          float64
	// BitrateKbps is the output's average bit rate so far, in kbit/s.
	BitrateKbps float64
	// Speed is encoding speed relative to real time: below 1 the box cannot keep up.
	Speed float64
}

// parse takes one line of -progress output into p and reports whether it was one.
func (p *Progress) parse(line string) bool {
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return false
	}
	value = strings.TrimSpace(value)
	u := func() uint64 { n, _ := strconv.ParseUint(value, 10, 64); return n }
	f := func(suffix string) float64 {
		x, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(value, suffix)), 64)
		return x
	}
	switch key {
	case "frame":
		p.Frame = u()
	case "fps":
		p.FPS = f("")
	case "bitrate":
		p.BitrateKbps = f("kbits/s")
	case "drop_frames":
		p.DropFrames = u()
	case "dup_frames":
		p.DupFrames = u()
	case "speed":
		p.Speed = f("x")
	case "total_size", "out_time_us", "out_time_ms", "out_time", "progress":
	default:
		// per-stream figures such as stream_0_0_q
		if !strings.HasPrefix(key, "stream_") || strings.ContainsAny(key, " \t") {
			return false
		}
	}
	return true
}
