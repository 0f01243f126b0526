package supervisor

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// owner is the one owner of a channel, as MediaMTX has one per path: it holds the channel's
// profile, its injector with the destinations, and its ffmpeg loop (a Channel that lives as long
// as the owner, so that its counters go on across restarts and reloads). reload hands it a new
// profile without waiting, and its goroutine applies it; nothing else starts or stops the
// goroutines of the channel. A channel whose injector cannot start still has an owner, in state
// error, until a profile that works comes.
type owner struct {
	name string
	log  *slog.Logger
	ch   *Channel

	mu sync.Mutex
	// next is the profile reload handed in, not yet applied; kick tells the goroutine.
	next *profiles.Channel
	kick chan struct{}
	// fanout is the channel's injector, nil while it cannot start. Set once, by the goroutine.
	fanout *inject.Fanout

	cancel context.CancelFunc
	done   chan struct{}
}

// newOwner starts the owner of channel p. Its goroutines end when ctx ends or close is called.
func newOwner(ctx context.Context, p profiles.Channel, s *Supervisor) *owner {
	log := s.Logger.With("channel", p.Name)
	o := &owner{name: p.Name, log: log, kick: make(chan struct{}, 1), done: make(chan struct{})}
	o.ch = &Channel{Profile: p, FFmpeg: s.FFmpeg, Logger: log, Checker: &s.checker}
	if s.OnStart != nil {
		o.ch.OnStart = func(pid int) { s.OnStart(p.Name, pid) }
	}
	o.ch.publish(func(st *Status) { st.Name, st.File, st.State = p.Name, p.File, StateStarting })
	// The injector starts here, so that the channel shows its destinations from the start.
	f := o.newFanout(p)
	ctx, o.cancel = context.WithCancel(ctx)
	go o.run(ctx, p, f)
	return o
}

// reload hands the owner a new version of its profile, applied from its goroutine: a new encoding
// restarts ffmpeg, new destinations change only the injector's. It never waits.
func (o *owner) reload(p profiles.Channel) {
	o.mu.Lock()
	o.next = &p
	o.mu.Unlock()
	select {
	case o.kick <- struct{}{}:
	default:
	}
}

// close stops the channel: its ffmpeg is reaped and its destinations torn down when it returns.
func (o *owner) close() {
	o.cancel()
	<-o.done
}

// run is the owner's goroutine. f is the channel's injector, nil if it could not start with p.
func (o *owner) run(ctx context.Context, p profiles.Channel, f *inject.Fanout) {
	defer close(o.done)
	// A channel that cannot start must not take the others down: it waits for a profile that
	// can, in state error.
	for f == nil {
		select {
		case <-ctx.Done():
			o.ch.publish(func(st *Status) { st.State = StateStopped })
			return
		case <-o.kick:
		}
		if next := o.take(); next != nil {
			p = *next
			o.ch.publish(func(st *Status) { st.File = p.File })
			f = o.newFanout(p)
		}
	}
	defer f.Close() // after ffmpeg: the last frames go out before TEARDOWN

	o.ch.Profile, o.ch.Sink = p, f
	ffmpegDone := make(chan struct{})
	go func() {
		defer close(ffmpegDone)
		o.ch.Run(ctx) //nolint:errcheck // it returns nil, and logs what it meets
	}()
	defer func() { <-ffmpegDone }()

	hold := &holder{ctx: ctx, o: o, f: f, ffmpeg: o.ch.FFmpeg}
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
		case <-o.kick:
		}
		next := o.take()
		if next == nil {
			continue
		}
		changes := strings.Join(profiles.Changed(p, *next), ", ")
		if !profiles.SameEncoding(p, *next) {
			o.ch.Reload(*next)
			o.log.Info("channel restarted", "file", next.File, "changes", changes)
		}
		if !profiles.SameDestinations(p, *next) {
			if err := f.SetTargets(targets(*next)); err != nil {
				// the injector keeps the destinations it has, and so does the profile held
				o.log.Error("destinations not changed", "file", next.File, "error", err)
				next.Destinations = p.Destinations
			} else if profiles.SameEncoding(p, *next) {
				o.log.Info("channel retargeted", "file", next.File, "changes", changes)
			}
		}
		p = *next
	}
}

// How the hold goes: its clock, and how often the held keyframe goes out.
const (
	holdTick  = 250 * time.Millisecond
	holdEvery = 500 * time.Millisecond
)

// holder sends the last keyframe again while a channel's frames have stopped (see
// inject.Fanout.Hold), from the owner's goroutine, and shows it in the channel's status.
type holder struct {
	ctx    context.Context
	o      *owner
	f      *inject.Fanout
	ffmpeg string // encodes the silence
	// since is when the hold began, zero when not holding; sent when the keyframe last went out.
	since, sent time.Time
	// silence is a silent AAC frame for the channel's audio config silenceFor, nil while it is
	// being made (made brings it) or when none can be.
	silence    []byte
	silenceFor *mpeg4audio.AudioSpecificConfig
	made       chan []byte
	wg         sync.WaitGroup
}

// check holds, or ends the hold, at time now; after is the profile's hold delay, 0 for none.
func (h *holder) check(now time.Time, after time.Duration) {
	last := h.f.LastLive()
	if after <= 0 || last.IsZero() || now.Sub(last) < after {
		if !h.since.IsZero() {
			held := now.Sub(h.since)
			h.o.ch.publish(func(st *Status) { st.HoldingSince, st.Held = time.Time{}, st.Held+held })
			h.o.log.Info("frames are back: hold ended", "held", held.Round(time.Millisecond))
			h.since = time.Time{}
		}
		return
	}
	if now.Sub(h.sent) < holdEvery-holdTick/2 { // ticks come a little early or late
		return
	}
	if err := h.f.Hold(now, h.silenceOf(h.f.AudioConfig())); err != nil {
		h.o.log.Debug("nothing to hold", "error", err)
		return
	}
	h.sent = now
	if h.since.IsZero() {
		h.since = last
		h.o.ch.publish(func(st *Status) { st.HoldingSince = last })
		h.o.log.Info("no frame: holding the last picture", "since", last)
	}
}

// silenceOf returns a silent AAC frame in config cfg, made once per config by ffmpeg in the
// background (the owner's goroutine does not wait for it); nil without audio, while it is being
// made, or when none can be (the audio then pauses during the hold).
func (h *holder) silenceOf(cfg *mpeg4audio.AudioSpecificConfig) []byte {
	if cfg == nil {
		return nil
	}
	if h.silenceFor == nil || *h.silenceFor != *cfg {
		h.wait() // an older config's, if still being made
		h.silenceFor, h.silence = cfg, nil
		h.made = make(chan []byte, 1)
		h.wg.Add(1)
		go func(made chan<- []byte) {
			defer h.wg.Done()
			frame, err := silentAAC(h.ctx, h.ffmpeg, cfg)
			if err != nil && h.ctx.Err() == nil {
				h.o.log.Warn("the hold has no silence to send: audio pauses during it", "error", err)
			}
			made <- frame
		}(h.made)
	}
	select {
	case frame := <-h.made:
		h.silence = frame
	default:
	}
	return h.silence
}

// wait waits for the silence being made, if any.
func (h *holder) wait() {
	h.wg.Wait()
}

// newFanout starts the channel's injector with profile p, or says why it cannot and returns nil.
func (o *owner) newFanout(p profiles.Channel) *inject.Fanout {
	f := &inject.Fanout{Channel: p.Name, Targets: targets(p), Logger: o.log}
	if err := f.Initialize(); err != nil {
		o.log.Error("channel not started", "file", p.File, "error", err)
		o.ch.publish(func(st *Status) { st.State = StateError; st.setCause(err.Error(), CauseProfile) })
		return nil
	}
	o.mu.Lock()
	o.fanout = f
	o.mu.Unlock()
	return f
}

// take returns the profile reload handed in, or nil.
func (o *owner) take() *profiles.Channel {
	o.mu.Lock()
	defer o.mu.Unlock()
	next := o.next
	o.next = nil
	return next
}

// status returns the channel's status with its destinations' figures.
func (o *owner) status() Status {
	st := o.ch.Status()
	if f := o.injector(); f != nil {
		st.Destinations = f.Stats()
	}
	return st
}

func (o *owner) injector() *inject.Fanout {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.fanout
}
