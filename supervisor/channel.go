package supervisor

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/record"
)

// channel is one channel and the one owner of its state, as MediaMTX has one per path: it holds
// the channel's profile, its injector with the destinations, and its inputs (see feed: the
// source, the backups and the slate, each an ffmpeg loop that lives as long as the input, so
// that its counters go on across restarts and reloads), and its switcher puts one of them on
// air. reload hands it a new profile without waiting, and its goroutine applies it; nothing
// else starts or stops the goroutines of the channel. A channel whose injector cannot start is
// still there, in state error, until a profile that works comes.
type channel struct {
	name string
	log  *slog.Logger
	sup  *Supervisor
	sw   *switcher
	// stateFile keeps the RTP numbers of the channel's injector between processes; "" for none.
	stateFile string

	// reloads holds the profile reload handed in, not yet applied; its wake also brings an
	// operator's switch.
	reloads mailbox[profiles.Channel]

	// alarms are the content alarms of onAirName that the events last told of; owned by the
	// goroutine.
	alarms    []string
	onAirName string

	mu sync.Mutex
	// fanout is the channel's injector, nil while it cannot start. Set once, by the goroutine.
	fanout *inject.Fanout
	// rec is the channel's recording, nil while its profile has none; the goroutine sets it,
	// the injector's tap and status read it.
	rec atomic.Pointer[record.Recorder]

	cancel context.CancelFunc
	done   chan struct{}
}

// newChannel starts channel p. Its goroutines end when ctx ends or close is called.
func newChannel(ctx context.Context, p profiles.Channel, s *Supervisor) *channel {
	log := s.Logger.With("channel", p.Name)
	c := &channel{name: p.Name, log: log, sup: s, sw: newSwitcher(log), done: make(chan struct{})}
	c.sw.events, c.sw.channel = s.OnEvent, p.Name
	if s.StateDir != "" {
		c.stateFile = filepath.Join(s.StateDir, "rtp", p.Name+".json")
	}
	c.setInputs(p)
	// The injector starts here, so that the channel shows its destinations from the start.
	f := c.newFanout(p)
	parent := ctx
	ctx, c.cancel = context.WithCancel(ctx)
	go c.run(ctx, parent, p, f)
	return c
}

// reload hands the channel a new version of its profile, applied from its goroutine: a new
// encoding restarts the inputs' ffmpeg, new destinations change only the injector's. It never
// waits.
func (c *channel) reload(p profiles.Channel) {
	c.reloads.put(p)
}

// force switches the channel to an input, or back to auto (see switcher.force); the channel's
// goroutine applies it at once.
func (c *channel) force(target string) error {
	if err := c.sw.force(c.name, target); err != nil {
		return err
	}
	c.reloads.wake()
	return nil
}

// close stops the channel: its ffmpeg children are reaped and its destinations torn down when
// it returns.
func (c *channel) close() {
	c.cancel()
	<-c.done
}

// run is the channel's goroutine. f is the channel's injector, nil if it could not start with p.
// parent is the Supervisor's context: it ends when liveinject stops, not when the channel is
// removed.
func (c *channel) run(ctx, parent context.Context, p profiles.Channel, f *inject.Fanout) {
	defer close(c.done)
	reloads := c.reloads.ready()
	// A channel that cannot start must not take the others down: it waits for a profile that
	// can, in state error.
	for f == nil {
		select {
		case <-ctx.Done():
			c.source().enc.publish(func(st *Status) { st.State = StateStopped })
			return
		case <-reloads:
		}
		if next, ok := c.reloads.take(); ok {
			p = next
			c.setInputs(p)
			c.source().enc.publish(func(st *Status) { st.File = p.File })
			f = c.newFanout(p)
		}
	}
	c.sup.OnEvent.Emit(event.Event{Kind: event.ChannelStarted, Channel: c.name})
	defer func() {
		// once its destinations are torn down
		cause := "removed"
		if parent.Err() != nil {
			cause = "liveinject stopped"
		}
		c.sup.OnEvent.Emit(event.Event{Kind: event.ChannelStopped, Channel: c.name, Cause: cause})
	}()
	defer f.Close() // after ffmpeg: the last frames go out before TEARDOWN
	c.setRecord(p)
	defer c.stopRecord() // after ffmpeg too: its last frames are in the last segment
	c.sw.f = f
	defer c.stopInputs()
	defer c.reportAlarms(time.Now(), true)

	hold := &holder{ctx: ctx, sw: c.sw, log: c.log, f: f, ffmpeg: c.sup.FFmpeg, channel: c.name, events: c.sup.OnEvent}
	defer hold.wait()
	c.decide(ctx, time.Now())
	tick := time.NewTicker(holdTick)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			c.decide(ctx, now)
			hold.check(now, time.Duration(p.Hold))
			c.reportAlarms(now, false)
			continue
		case <-reloads:
		}
		next, ok := c.reloads.take()
		if !ok {
			c.decide(ctx, time.Now()) // an operator's switch
			continue
		}
		changes := strings.Join(profiles.Changed(p, next), ", ")
		if restarted := c.setInputs(next); len(restarted) > 0 {
			c.log.Info("channel restarted", "file", next.File, "inputs", strings.Join(restarted, ", "), "changes", changes)
		} else if !profiles.SameInputs(p, next) {
			c.log.Info("channel inputs changed", "file", next.File, "changes", changes)
		}
		if !profiles.SameDestinations(p, next) {
			if err := f.SetTargets(targets(next)); err != nil {
				// the injector keeps the destinations it has, and so does the profile held
				c.log.Error("destinations not changed", "file", next.File, "error", err)
				next.Destinations = p.Destinations
			} else {
				c.log.Info("channel retargeted", "file", next.File, "changes", changes)
			}
		}
		if next.Record != p.Record {
			c.setRecord(next)
			if profiles.SameEncoding(p, next) && profiles.SameInputs(p, next) && profiles.SameDestinations(p, next) {
				c.log.Info("channel recording changed", "file", next.File, "changes", changes)
			}
		}
		p = next
		c.decide(ctx, time.Now())
		c.reportAlarms(time.Now(), false)
	}
}

// reportAlarms tells the supervisor's OnEvent, and the log, of the changes of the channel's
// alarms (those of the input on air) since the last call; stopping clears them all. The alarms
// come up at their filters' pace and are looked at on the channel's tick: an event comes at
// most holdTick after its alarm.
func (c *channel) reportAlarms(now time.Time, stopping bool) {
	on, alarms := "stopped", []string{}
	if !stopping {
		on, alarms = c.onAirAlarms(now)
	}
	for _, e := range alarmEvents(c.name, c.alarms, c.onAirName, alarms, on) {
		if e.Kind == event.AlarmRaised {
			c.log.Warn("content alarm raised", "alarm", e.Alarm, "input", on)
		} else {
			c.log.Info("content alarm cleared", "alarm", e.Alarm, "cause", e.Cause)
		}
		c.sup.OnEvent.Emit(e)
	}
	c.alarms, c.onAirName = alarms, on
}

// onAirAlarms returns the name of the input on air (as Status.OnAir) and its alarms: none for
// the slate and the hold, which are the channel's own.
func (c *channel) onAirAlarms(now time.Time) (string, []string) {
	sw := c.sw
	sw.mu.Lock()
	defer sw.mu.Unlock()
	switch {
	case sw.onAir == nil && sw.onAirOnce:
		return "hold", []string{}
	case sw.onAir == nil:
		return "none", []string{}
	case sw.onAir == sw.slate:
		return sw.onAir.name, []string{}
	}
	return sw.onAir.name, sw.onAir.enc.detect.raised(now)
}

// decide applies the switcher's rules and starts and stops the inputs they say.
func (c *channel) decide(ctx context.Context, now time.Time) {
	start, stop := c.sw.decide(now)
	c.sw.runFeeds(ctx, start, stop)
}

// setInputs makes the channel's inputs those of profile p: an input whose ffmpeg would run as
// before is left alone (on air or not), one with new settings starts again with its new
// command, one whose place another input takes (a new URL, device or file) and a new one start
// as a new feed once the rules want them, a removed one stops. It returns the names of the
// inputs restarted.
func (c *channel) setInputs(p profiles.Channel) (restarted []string) {
	c.sw.setTimings(p)
	profs := feedProfiles(p)
	sw := c.sw
	sw.mu.Lock()
	defer sw.mu.Unlock()
	feeds := make([]*feed, len(profs))
	for i, fp := range profs {
		name := profiles.InputName(i)
		if i < len(sw.feeds) && sameInput(sw.feeds[i].profile, fp) {
			if feeds[i] = sw.feeds[i]; feeds[i].reload(fp) && feeds[i].running() {
				restarted = append(restarted, name)
			}
			continue
		}
		// another input in this place: a new feed, which starts once the old one's ffmpeg
		// (which may hold the device it opens) has stopped
		if i < len(sw.feeds) {
			if sw.feeds[i].running() {
				restarted = append(restarted, name)
			}
			sw.remove(sw.feeds[i])
			sw.feeds[i].stop()
		}
		feeds[i] = newFeed(c, c.sup, name, fp)
	}
	for _, fd := range sw.feeds[min(len(sw.feeds), len(feeds)):] {
		sw.remove(fd)
		fd.stop()
	}
	sw.feeds = feeds

	switch {
	case p.Slate.Off && sw.slate != nil:
		sw.remove(sw.slate)
		sw.slate.stop()
		sw.slate = nil
	case p.Slate.Off:
	case sw.slate == nil:
		sw.slate = newFeed(c, c.sup, "slate", slateProfile(p))
	case sw.slate.reload(slateProfile(p)) && sw.slate.running():
		restarted = append(restarted, "slate")
	}
	return restarted
}

// stopInputs stops every input and waits for their ffmpeg to be reaped, those that a reload
// removed included.
func (c *channel) stopInputs() {
	c.sw.mu.Lock()
	all := slices.Concat(c.sw.all(), c.sw.retired)
	c.sw.mu.Unlock()
	for _, fd := range all {
		fd.stop()
	}
	for _, fd := range all {
		fd.wait()
	}
}

// source returns the channel's source input.
func (c *channel) source() *feed {
	c.sw.mu.Lock()
	defer c.sw.mu.Unlock()
	return c.sw.feeds[0]
}

// newFanout starts the channel's injector with profile p, or says why it cannot and returns nil.
func (c *channel) newFanout(p profiles.Channel) *inject.Fanout {
	f := &inject.Fanout{Channel: p.Name, Targets: targets(p), Logger: c.log, StateFile: c.stateFile, FFmpeg: c.sup.FFmpeg,
		OnEvent: c.sup.OnEvent, Tap: c.tap}
	if err := f.Initialize(); err != nil {
		c.log.Error("channel not started", "file", p.File, "error", err)
		c.source().enc.publish(func(st *Status) { st.State = StateError; st.setCause(err.Error(), CauseProfile) })
		return nil
	}
	c.mu.Lock()
	c.fanout = f
	c.mu.Unlock()
	return f
}

// status returns the channel's status: that of the input on air (the source's while none is),
// with the channel's counters, its inputs, and its destinations' figures.
func (c *channel) status() Status {
	sw := c.sw
	sw.mu.Lock()
	base := sw.feeds[0]
	if sw.onAir != nil {
		base = sw.onAir
	}
	st := base.enc.Status()
	st.Starts, st.Stalls, st.DemuxErrors = sw.gone.starts, sw.gone.stalls, sw.gone.demuxErrors
	st.Alarms = []string{}
	for _, fd := range sw.all() {
		in := fd.enc.Status()
		st.Starts += in.Starts
		st.Stalls += in.Stalls
		st.DemuxErrors += in.DemuxErrors
		is := InputStatus{Name: fd.name, Kind: fd.kind, State: in.State, Since: in.Since, PID: in.PID,
			Starts: in.Starts, Frames: in.Frames, LastCause: in.LastCause, Cause: in.Cause,
			LastCauseAt: in.LastCauseAt, RetryAt: in.RetryAt, Alarms: in.Alarms}
		if fd == sw.onAir && fd != sw.slate {
			st.Alarms = in.Alarms
		}
		if !fd.running() && is.State != StateError {
			is.State, is.PID, is.RetryAt = StateStandby, 0, time.Time{}
		}
		st.Inputs = append(st.Inputs, is)
	}
	st.Frames, st.AudioFrames = sw.frames, sw.audioFrames
	st.HoldingSince, st.Held = sw.holdingSince, sw.held
	switch {
	case sw.onAir != nil:
		st.OnAir = sw.onAir.name
	case sw.onAirOnce:
		st.OnAir = "hold"
	default:
		st.OnAir = "none"
	}
	st.OnAirSince, st.Mode = sw.onAirSince, "auto"
	if sw.forced != nil {
		st.Mode, st.Forced = "manual", sw.forced.name
	}
	st.Switches = maps.Clone(sw.switches)
	sw.mu.Unlock()
	if f := c.injector(); f != nil {
		st.Destinations = f.Stats()
	}
	if r := c.rec.Load(); r != nil {
		rs := r.Stats()
		st.Record = &rs
	}
	return st
}

func (c *channel) injector() *inject.Fanout {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fanout
}
