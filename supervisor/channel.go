package supervisor

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/backoff"
	"github.com/liveinject/liveinject/internal/rawio"
	"github.com/liveinject/liveinject/profiles"
)

// Sink receives a channel's frames: the injector.
type Sink interface {
	// WriteFrame must not block on the network.
	WriteFrame(*demux.Frame) error
	// Discontinuity announces that the next frame comes from a new ffmpeg run.
	Discontinuity()
}

// Defaults of a profile's [ffmpeg] stop_grace and stall_timeout, for a profile that leaves them
// zero (profiles.Load fills them in).
const (
	DefaultGrace        = 3 * time.Second
	DefaultStallTimeout = 10 * time.Second
	// healthyRun is how long ffmpeg must deliver frames before a failure retries at the
	// shortest delay again.
	healthyRun = 30 * time.Second
)

// errStalled is the cause of a restart when ffmpeg stops delivering video.
var errStalled = errors.New("stalled")

// Channel runs one channel's ffmpeg child over and over and feeds its frames to a Sink. Reload
// hands it a new profile, which it starts ffmpeg with at once; its counters go on.
type Channel struct {
	// Profile says what to run, and how: its [ffmpeg] stop_grace is how long ffmpeg gets to exit
	// after SIGINT before SIGKILL, and its stall_timeout how long ffmpeg may deliver no frame
	// before it is killed and started again. Each run takes them from the profile it starts with.
	Profile profiles.Channel
	// FFmpeg is the binary to run.
	FFmpeg string
	Sink   Sink
	Logger *slog.Logger
	// MinBackoff and MaxBackoff bound the delay between restarts. Defaults 1 s and 60 s.
	MinBackoff, MaxBackoff time.Duration

	// Checker looks for problems before the first start. Default: a Checker of the channel's own.
	Checker *Checker

	// OnStart, if set, is called with the PID of every ffmpeg child started (for tests and status).
	OnStart func(pid int)

	// firstFrame and lastFrame are when the current (or last) run's first and latest frames
	// came; owned by the channel's goroutine.
	firstFrame, lastFrame time.Time

	status      atomic.Pointer[Status]
	publishMu   sync.Mutex // serializes publish
	frames      atomic.Uint64
	audioFrames atomic.Uint64
	demuxErrors atomic.Uint64

	// reloadMu guards next, the profile Reload handed in and Run has not taken yet, and
	// stopRun, which ends the current ffmpeg run.
	reloadMu sync.Mutex
	next     *profiles.Channel
	stopRun  context.CancelFunc
	reloaded chan struct{} // a Reload happened; cuts a backoff short
}

// Reload makes the channel run ffmpeg with profile p: the running ffmpeg is stopped and the new
// one starts at once, as does a channel waiting in backoff. It never waits. When reloads come
// faster than ffmpeg restarts, the latest wins.
func (c *Channel) Reload(p profiles.Channel) {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.next = &p
	c.restartLocked()
}

// Restart stops the running ffmpeg and starts it again at once, with the same profile; a channel
// waiting in backoff starts at once. It never waits.
func (c *Channel) Restart() {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.restartLocked()
}

// restartLocked ends the running ffmpeg, if any, and tells Run; reloadMu is held.
func (c *Channel) restartLocked() {
	if c.stopRun != nil {
		c.stopRun()
	}
	c.kickLocked()
}

// RetryNow starts a channel that waits in backoff at once, as after SIGHUP: the operator may have
// fixed what failed. A running ffmpeg is left alone. It never waits.
func (c *Channel) RetryNow() {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	if c.stopRun == nil {
		c.kickLocked()
	}
}

// kickLocked tells Run, without waiting, that a reload, restart or retry came; reloadMu is held.
func (c *Channel) kickLocked() {
	select {
	case c.reloadKick() <- struct{}{}:
	default:
	}
}

// reloadKick returns the channel that Reload signals on; reloadMu is held.
func (c *Channel) reloadKick() chan struct{} {
	if c.reloaded == nil {
		c.reloaded = make(chan struct{}, 1)
	}
	return c.reloaded
}

// takeReload returns the profile Reload handed in, or nil.
func (c *Channel) takeReload() *profiles.Channel {
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	next := c.next
	c.next = nil
	return next
}

// runContext returns the context of one ffmpeg run, which Reload cancels; a Reload that came
// before it cancels it at once.
func (c *Channel) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
	c.reloadMu.Lock()
	defer c.reloadMu.Unlock()
	c.stopRun = cancel
	if c.next != nil {
		cancel()
	}
	return runCtx, func() {
		c.reloadMu.Lock()
		c.stopRun = nil
		c.reloadMu.Unlock()
		cancel()
	}
}

// Run keeps the channel's ffmpeg running until ctx ends, then stops it and returns nil. It never
// gives up on its own: a broken device or encoder is retried at the longest delay, and the cause
// is logged.
func (c *Channel) Run(ctx context.Context) error {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = time.Minute
	}
	c.publish(func(s *Status) { s.Name, s.File, s.State = c.Profile.Name, c.Profile.File, StateStarting })
	defer c.publish(func(s *Status) { s.State, s.PID = StateStopped, 0 })
	if c.Checker == nil {
		c.Checker = &Checker{}
	}
	c.reloadMu.Lock()
	kick := c.reloadKick()
	c.reloadMu.Unlock()

	var run runSpec
	// prepare takes the channel's profile: the ffmpeg command, and what is likely to fail.
	prepare := func() error {
		var err error
		if run.args, err = Args(c.Profile); err != nil {
			c.publish(func(s *Status) { s.State = StateError; s.setCause(err.Error(), CauseProfile) })
			c.Logger.Error("channel cannot run", "file", c.Profile.File, "error", err)
			return err
		}
		// What is found here is said once; ffmpeg starts anyway, since a camera may be plugged
		// in before the next try, and its own message then tells the cause at every failure.
		problems := c.Checker.Check(ctx, c.Profile, c.FFmpeg)
		if ctx.Err() != nil {
			problems = nil // stopping: the checks did not finish, and nothing will run
		}
		for _, p := range problems {
			c.Logger.Warn("ffmpeg will likely fail", "file", p.File, "problem", p.Msg)
		}
		run.redact = Redactor(c.Profile)
		run.grace = cmp.Or(time.Duration(c.Profile.FFmpeg.StopGrace), DefaultGrace)
		run.stallTimeout = cmp.Or(time.Duration(c.Profile.FFmpeg.StallTimeout), DefaultStallTimeout)
		return nil
	}
	ok := prepare() == nil

	b := backoff.Backoff{Min: c.MinBackoff, Max: c.MaxBackoff}
	for runs := 0; ; runs++ {
		select {
		case <-kick: // taken below, if it brought a profile
		default:
		}
		if next := c.takeReload(); next != nil {
			c.Profile = *next
			c.publish(func(s *Status) { s.File = c.Profile.File })
			ok = prepare() == nil
			b.Reset()
		}
		if !ok {
			// nothing to run until a profile that can
			select {
			case <-ctx.Done():
				return nil
			case <-kick:
				continue
			}
		}
		if runs > 0 {
			c.Sink.Discontinuity()
		}
		runCtx, stopRun := c.runContext(ctx)
		cause, err := c.runOnce(runCtx, run)
		reloaded := runCtx.Err() != nil
		stopRun()
		if ctx.Err() != nil {
			return nil
		}
		if reloaded {
			c.Logger.Info("ffmpeg stopped to start again at once")
			continue
		}
		if c.lastFrame.Sub(c.firstFrame) >= healthyRun {
			b.Reset()
		}
		delay := b.Next()
		c.publish(func(s *Status) {
			s.State, s.PID, s.RetryAt = StateBackoff, 0, time.Now().Add(delay)
			s.setCause(err.Error(), cause)
			if errors.Is(err, errStalled) {
				s.Stalls++
			}
		})
		c.Logger.Warn("ffmpeg ended, restarting", "cause", err, "restart_in", delay.Round(time.Millisecond))
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-kick:
			t.Stop() // a new profile starts at once
		case <-t.C:
		}
	}
}

// runSpec is what an ffmpeg run is made of, taken from the channel's profile.
type runSpec struct {
	args                []string
	redact              func(string) string
	grace, stallTimeout time.Duration
}

// runOnce starts ffmpeg, pumps its output until it ends, stalls or ctx ends, and reaps it. It
// returns why it ended, in a few words (see classify) and in full.
func (c *Channel) runOnce(ctx context.Context, run runSpec) (cause string, err error) {
	bin, err := exec.LookPath(c.FFmpeg)
	if err != nil {
		err = &FFmpegNotFoundError{Path: c.FFmpeg, Err: err}
		return classify(err, nil, nil), err
	}
	onProgress := func(pr Progress) { c.publish(func(s *Status) { s.Progress = pr }) }
	p, err := startProcess(bin, run.args, run.redact, c.Logger, onProgress)
	if err != nil {
		return "exited", fmt.Errorf("starting ffmpeg: %w", err)
	}
	// after the stop below: the last lines are all read once ffmpeg is reaped
	defer func() {
		lines := p.lastLines()
		if ctx.Err() != nil {
			cause = CauseStopped
		} else {
			cause = classify(err, p.err, lines)
		}
		c.publish(func(s *Status) { s.LastStderr, s.Progress = lines, Progress{} })
	}()
	defer p.stop(run.grace)
	c.publish(func(s *Status) { s.State, s.PID, s.RetryAt = StateStarting, p.pid(), time.Time{}; s.Starts++ })
	c.Logger.Info("ffmpeg started", "pid", p.pid())
	if c.OnStart != nil {
		c.OnStart(p.pid())
	}
	stop := context.AfterFunc(ctx, func() { p.stop(run.grace) })
	defer stop()

	// The watch kills an ffmpeg that has delivered no video frame (no frame at all, without
	// video) for the stall timeout, and no byte while the demuxer looks for the tracks (see
	// stallWatch). What still came in the second half of that time tells why: audio frames (the
	// video encoder or source is stuck), MPEG-TS without frames, or nothing (ffmpeg hangs, or is
	// stopped). The first half is left out: the bytes of the last frame before a stop are read,
	// while a frame without a PES length (a keyframe over 64 KiB) waits for the next one to start.
	watch := newStallWatch(rawio.NewReader(p.stdout), run.stallTimeout, p.kill)
	defer watch.stop()

	r := &demux.Reader{
		R: watch,
		OnDecodeError: func(err error) {
			c.demuxErrors.Add(1)
			c.Logger.Debug("damaged MPEG-TS from ffmpeg", "error", err)
		},
	}
	c.firstFrame, c.lastFrame = time.Time{}, time.Time{}
	err = r.Initialize()
	if err == nil {
		watch.probeDone()
		err = r.Run(func(f *demux.Frame) error {
			c.lastFrame = time.Now()
			watch.frame(f, r.HasVideo(), c.lastFrame)
			if f.Kind == demux.Video {
				c.frames.Add(1)
			} else {
				c.audioFrames.Add(1)
			}
			if c.firstFrame.IsZero() {
				c.firstFrame = c.lastFrame
			}
			if c.status.Load().State != StateRunning {
				c.publish(func(s *Status) { s.State = StateRunning })
			}
			return c.Sink.WriteFrame(f)
		})
	}

	switch {
	case ctx.Err() != nil:
		return "", ctx.Err()
	case watch.err.Load() != nil:
		return "", *watch.err.Load()
	case err == nil, errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// ffmpeg closed its output: it is exiting, or it is wedged with its output closed,
		// which is no better. It gets the grace to exit on its own, then is stopped.
		select {
		case <-p.done:
		case <-time.After(run.grace):
			p.stop(run.grace)
		}
		return "", p.exitError()
	default:
		// A demux failure leaves ffmpeg running: stop it, then say both. What it writes
		// meanwhile is read and dropped: on a full pipe it would block, never act on the SIGINT,
		// and be killed after the whole grace.
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			io.Copy(io.Discard, p.stdout) //nolint:errcheck // ends at ffmpeg's exit, or when stop closes it
		}()
		p.stop(run.grace)
		<-drained
		return "", fmt.Errorf("%w (%v)", err, p.exitError())
	}
}

// FFmpegNotFoundError is returned when the configured ffmpeg binary cannot be found.
type FFmpegNotFoundError struct {
	Path string
	Err  error
}

func (e *FFmpegNotFoundError) Error() string {
	return fmt.Sprintf("ffmpeg not found (%q): install it with `apt-get install ffmpeg` (or `make deps`), "+
		"or set ffmpeg = \"/path/to/ffmpeg\" in the main config", e.Path)
}

func (e *FFmpegNotFoundError) Unwrap() error { return e.Err }
