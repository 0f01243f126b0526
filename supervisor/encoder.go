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

// encoder is a channel's ffmpeg loop: it runs the channel's ffmpeg child over and over and feeds
// its frames to a Sink. Reload hands it a new profile, which it starts ffmpeg with at once; its
// counters go on. Its channel (see channel) owns it.
type encoder struct {
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

	// Checker looks for problems before the first start. Default: a Checker of the encoder's own.
	Checker *Checker

	// OnStart, if set, is called with the PID of every ffmpeg child started (for tests and status).
	OnStart func(pid int)

	// firstFrame and lastFrame are when the current (or last) run's first and latest frames
	// came; owned by Run's goroutine.
	firstFrame, lastFrame time.Time

	// detect keeps what the running ffmpeg's alarm filters said.
	detect detector

	status      atomic.Pointer[Status]
	publishMu   sync.Mutex // serializes publish
	frames      atomic.Uint64
	audioFrames atomic.Uint64
	demuxErrors atomic.Uint64

	// reloads holds the profile Reload handed in and Run has not taken yet; its wake also
	// brings Restart and RetryNow, and cuts a backoff short.
	reloads mailbox[profiles.Channel]
	// reloadMu makes Reload, Restart and RetryNow one at a time with the start of a run, and
	// guards stopRun, which ends the current ffmpeg run.
	reloadMu sync.Mutex
	stopRun  context.CancelFunc
}

// Reload makes the encoder run ffmpeg with profile p: the running ffmpeg is stopped and the new
// one starts at once, as does an encoder waiting in backoff. It never waits. When reloads come
// faster than ffmpeg restarts, the latest wins.
func (e *encoder) Reload(p profiles.Channel) {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.reloads.put(p)
	e.restartLocked()
}

// Restart stops the running ffmpeg and starts it again at once, with the same profile; an encoder
// waiting in backoff starts at once. It never waits.
func (e *encoder) Restart() {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.restartLocked()
}

// restartLocked ends the running ffmpeg, if any, and tells Run; reloadMu is held.
func (e *encoder) restartLocked() {
	if e.stopRun != nil {
		e.stopRun()
	}
	e.reloads.wake()
}

// RetryNow starts an encoder that waits in backoff at once, as after SIGHUP: the operator may have
// fixed what failed. A running ffmpeg is left alone. It never waits.
func (e *encoder) RetryNow() {
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	if e.stopRun == nil {
		e.reloads.wake()
	}
}

// runContext returns the context of one ffmpeg run, which Reload cancels; a Reload that came
// before it cancels it at once.
func (e *encoder) runContext(ctx context.Context) (context.Context, context.CancelFunc) {
	runCtx, cancel := context.WithCancel(ctx)
	e.reloadMu.Lock()
	defer e.reloadMu.Unlock()
	e.stopRun = cancel
	if e.reloads.pending() {
		cancel()
	}
	return runCtx, func() {
		e.reloadMu.Lock()
		e.stopRun = nil
		e.reloadMu.Unlock()
		cancel()
	}
}

// Run keeps the channel's ffmpeg running until ctx ends, then stops it and returns nil. It never
// gives up on its own: a broken device or encoder is retried at the longest delay, and the cause
// is logged.
func (e *encoder) Run(ctx context.Context) error {
	if e.Logger == nil {
		e.Logger = slog.New(slog.DiscardHandler)
	}
	if e.MinBackoff <= 0 {
		e.MinBackoff = time.Second
	}
	if e.MaxBackoff <= 0 {
		e.MaxBackoff = time.Minute
	}
	e.publish(func(s *Status) { s.Name, s.File, s.State = e.Profile.Name, e.Profile.File, StateStarting })
	defer e.publish(func(s *Status) { s.State, s.PID = StateStopped, 0 })
	if e.Checker == nil {
		e.Checker = &Checker{}
	}
	kick := e.reloads.ready()

	var run runSpec
	// prepare takes the channel's profile: the ffmpeg command, and what is likely to fail.
	prepare := func() error {
		var err error
		if run.args, err = Args(e.Profile); err != nil {
			e.publish(func(s *Status) { s.State = StateError; s.setCause(err.Error(), CauseProfile) })
			e.Logger.Error("channel cannot run", "file", e.Profile.File, "error", err)
			return err
		}
		// What is found here is said once; ffmpeg starts anyway, since a camera may be plugged
		// in before the next try, and its own message then tells the cause at every failure.
		problems := e.Checker.Check(ctx, e.Profile, e.FFmpeg)
		if ctx.Err() != nil {
			problems = nil // stopping: the checks did not finish, and nothing will run
		}
		for _, p := range problems {
			e.Logger.Warn("ffmpeg will likely fail", "file", p.File, "problem", p.Msg)
		}
		run.redact = Redactor(e.Profile)
		run.grace = cmp.Or(time.Duration(e.Profile.FFmpeg.StopGrace), DefaultGrace)
		run.stallTimeout = cmp.Or(time.Duration(e.Profile.FFmpeg.StallTimeout), DefaultStallTimeout)
		run.alarms = e.Profile.Alarms
		return nil
	}
	ok := prepare() == nil

	b := backoff.Backoff{Min: e.MinBackoff, Max: e.MaxBackoff}
	for runs := 0; ; runs++ {
		select {
		case <-kick: // taken below, if it brought a profile
		default:
		}
		if next, ok := e.reloads.take(); ok {
			e.Profile = next
			e.publish(func(s *Status) { s.File = e.Profile.File })
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
			e.Sink.Discontinuity()
		}
		runCtx, stopRun := e.runContext(ctx)
		cause, err := e.runOnce(runCtx, run)
		reloaded := runCtx.Err() != nil
		stopRun()
		if ctx.Err() != nil {
			return nil
		}
		if reloaded {
			e.Logger.Info("ffmpeg stopped to start again at once")
			continue
		}
		if e.lastFrame.Sub(e.firstFrame) >= healthyRun {
			b.Reset()
		}
		delay := b.Next()
		e.publish(func(s *Status) {
			s.State, s.PID, s.RetryAt = StateBackoff, 0, time.Now().Add(delay)
			s.setCause(err.Error(), cause)
			if errors.Is(err, errStalled) {
				s.Stalls++
			}
		})
		e.Logger.Warn("ffmpeg ended, restarting", "cause", err, "restart_in", delay.Round(time.Millisecond))
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

// publish makes a change to the channel's status visible to Status callers. Changes come from
// Run's goroutine, from its ffmpeg's stderr reader and from the channel's goroutine; readers
// never wait for them.
func (e *encoder) publish(change func(*Status)) {
	e.publishMu.Lock()
	defer e.publishMu.Unlock()
	prev := e.status.Load()
	var s Status
	if prev != nil {
		s = *prev
	}
	oldState := s.State
	change(&s)
	if s.State != oldState {
		s.Since = time.Now()
	}
	e.status.Store(&s)
}

// Status returns the channel's latest status (without Destinations, which the supervisor adds).
func (e *encoder) Status() Status {
	var s Status
	if p := e.status.Load(); p != nil {
		s = *p
	} else {
		// before Run: the profile is not being changed yet
		s = Status{Name: e.Profile.Name, File: e.Profile.File, State: StateStarting}
	}
	s.Frames, s.AudioFrames, s.DemuxErrors = e.frames.Load(), e.audioFrames.Load(), e.demuxErrors.Load()
	s.Alarms = e.detect.raised(time.Now())
	return s
}

// runSpec is what an ffmpeg run is made of, taken from the channel's profile.
type runSpec struct {
	args                []string
	redact              func(string) string
	grace, stallTimeout time.Duration
	alarms              profiles.Alarms
}

// runOnce starts ffmpeg, pumps its output until it ends, stalls or ctx ends, and reaps it. It
// returns why it ended, in a few words (see classify) and in full.
func (e *encoder) runOnce(ctx context.Context, run runSpec) (cause string, err error) {
	bin, err := exec.LookPath(e.FFmpeg)
	if err != nil {
		err = &FFmpegNotFoundError{Path: e.FFmpeg, Err: err}
		return classify(err, nil, nil), err
	}
	onProgress := func(pr Progress) { e.publish(func(s *Status) { s.Progress = pr }) }
	// A run's alarms are its own: its filters start afresh, and an input that does not run
	// shows nothing.
	e.detect.reset(run.alarms)
	defer e.detect.reset(profiles.Alarms{})
	p, err := startProcess(bin, run.args, run.redact, e.Logger, onProgress, &e.detect)
	if err != nil {
		return "exited", fmt.Errorf("starting ffmpeg: %w", err)
	}
	// after the stop below: the last lines are all read once ffmpeg is reaped
	defer func() {
		lines := p.Lines()
		if ctx.Err() != nil {
			cause = CauseStopped
		} else {
			cause = classify(err, p.Err(), lines)
		}
		e.publish(func(s *Status) { s.LastStderr, s.Progress = lines, Progress{} })
	}()
	defer p.stop(run.grace)
	e.publish(func(s *Status) { s.State, s.PID, s.RetryAt = StateStarting, p.Pid(), time.Time{}; s.Starts++ })
	e.Logger.Info("ffmpeg started", "pid", p.Pid())
	if e.OnStart != nil {
		e.OnStart(p.Pid())
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
			e.demuxErrors.Add(1)
			e.Logger.Debug("damaged MPEG-TS from ffmpeg", "error", err)
		},
	}
	e.firstFrame, e.lastFrame = time.Time{}, time.Time{}
	err = r.Initialize()
	if err == nil {
		watch.probeDone()
		err = r.Run(func(f *demux.Frame) error {
			e.lastFrame = time.Now()
			watch.frame(f, r.HasVideo(), e.lastFrame)
			if f.Kind == demux.Video {
				e.frames.Add(1)
			} else {
				e.audioFrames.Add(1)
			}
			if e.firstFrame.IsZero() {
				e.firstFrame = e.lastFrame
			}
			if e.status.Load().State != StateRunning {
				e.publish(func(s *Status) { s.State = StateRunning })
			}
			return e.Sink.WriteFrame(f)
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
		case <-p.Done():
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
