package supervisor

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/profiles"
)

// Defaults of a profile's failover_after, return_after and slate_after, for a profile that
// leaves them zero (profiles.Load fills them in).
const (
	DefaultFailoverAfter = 3 * time.Second
	DefaultReturnAfter   = 10 * time.Second
	DefaultSlateAfter    = 10 * time.Second
)

// steadyGap is the longest break between an input's frames that still counts as steady: a
// longer one starts its count towards return_after again.
const steadyGap = 2 * time.Second

// switcher puts one of a channel's inputs on air: it hands the injector the frames of that
// input only, and switches to another at that one's next keyframe, on the same sessions (the
// injector's Discontinuity carries the channel's time on). Frames come from every running
// input's goroutine; the rules (decide) run on the channel's goroutine, which alone starts and
// stops inputs.
type switcher struct {
	log *slog.Logger
	f   *inject.Fanout
	// events hears of the switches of channel's inputs.
	events  event.Sink
	channel string

	mu sync.Mutex
	// feeds are the inputs in order (source, backups), slate the slate (nil with slate =
	// "off"); the channel's goroutine changes them, under mu.
	feeds []*feed
	slate *feed
	// onAir is the input whose frames go out, nil while none does (hold); pending the one
	// that goes on air at its next keyframe, for reason; last the input on air before.
	onAir, pending, last *feed
	reason               string
	// lastRun is last's run when it was last on air. onAirOnce is set once an input has been
	// on air (last may be gone since, removed by a reload).
	lastRun   uint64
	onAirOnce bool
	// forced is the input an operator switched to, nil in auto mode.
	forced     *feed
	onAirSince time.Time
	// lastOnAir is when the last frame went out (or the channel started).
	lastOnAir time.Time
	switches  map[string]uint64
	// frames and audioFrames count what went out; gone adds the counters of removed inputs.
	frames, audioFrames uint64
	gone                goneCounts
	// retired are the inputs a reload removed, whose ffmpeg may still be stopping.
	retired []*feed
	// holdingSince and held are the hold's (see holder).
	holdingSince time.Time
	held         time.Duration
	// timings are the profile's failover_after, return_after and slate_after.
	failoverAfter, returnAfter, slateAfter time.Duration
	// wantAudio: the profile's audio encoder is not "none". An input without sound then gets
	// the channel's audio config in its frames' params and silence on the audio track (see
	// frame); withAudio are those params, made for params withAudioOf.
	wantAudio   bool
	withAudio   *demux.Params
	withAudioOf *demux.Params
}

// goneCounts are the counters of inputs that a reload removed, so that the channel's go on.
type goneCounts struct{ starts, stalls, demuxErrors uint64 }

func newSwitcher(log *slog.Logger) *switcher {
	return &switcher{log: log, lastOnAir: time.Now(), switches: map[string]uint64{}}
}

// setTimings takes the profile's timings.
func (sw *switcher) setTimings(p profiles.Channel) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	sw.failoverAfter = cmp.Or(time.Duration(p.FailoverAfter), DefaultFailoverAfter)
	sw.returnAfter = cmp.Or(time.Duration(p.ReturnAfter), DefaultReturnAfter)
	sw.slateAfter = cmp.Or(time.Duration(p.SlateAfter), DefaultSlateAfter)
	sw.wantAudio = p.Audio.Encoder != "none"
}

// frame takes a frame of input fd: it goes out if fd is on air, and puts fd on air if fd is
// the pending input and the frame a place to start (a keyframe; any frame without video).
func (sw *switcher) frame(fd *feed, fr *demux.Frame) error {
	now := time.Now()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if fd.steadySince.IsZero() || now.Sub(fd.lastFrame) > steadyGap {
		fd.steadySince = now
	}
	fd.lastFrame = now
	if fr.Kind == demux.Video && fr.Key || fr.Params == nil || fr.Params.SPS == nil {
		if sw.onAir == nil && sw.pending == nil && sw.forced == nil {
			// holding: the first input that works goes on air at once, not at the next rule
			sw.setPending(sw.firstUp(now))
		}
		if fd == sw.pending {
			sw.putOnAir(fd, now)
		}
	}
	if fd != sw.onAir {
		return nil
	}
	sw.lastOnAir = now
	if fr.Kind == demux.Video {
		sw.frames++
	} else {
		sw.audioFrames++
	}
	if !sw.wantAudio || fr.Params == nil || fr.Params.Audio != nil {
		return sw.f.WriteFrame(fr)
	}
	return sw.writeWithoutSound(fr)
}

// writeWithoutSound writes a frame of an input without sound (an IP camera without a
// microphone) in a channel with audio: with the channel's audio config in its params, so that
// the destinations need no new ANNOUNCE without the audio track, and with silence on that track
// up to its time. A channel that has had no audio yet gets the frame as it is; mu is held.
func (sw *switcher) writeWithoutSound(fr *demux.Frame) error {
	cfg := sw.f.AudioConfig()
	if cfg == nil {
		return sw.f.WriteFrame(fr)
	}
	if sw.withAudioOf != fr.Params || *sw.withAudio.Audio != *cfg {
		sw.withAudioOf = fr.Params
		sw.withAudio = &demux.Params{SPS: fr.Params.SPS, PPS: fr.Params.PPS, Audio: cfg}
	}
	with := *fr
	with.Params = sw.withAudio
	if err := sw.f.WriteFrame(&with); err != nil {
		return err
	}
	return sw.f.FillSilence()
}

// putOnAir makes fd the input on air from its current frame; mu is held.
func (sw *switcher) putOnAir(fd *feed, now time.Time) {
	from := "hold"
	if sw.onAir != nil {
		from = sw.onAir.name
	}
	// an event names the input the channel held after, unless that is fd itself
	was := from
	if sw.onAir == nil && sw.last != nil && sw.last != fd {
		was = sw.last.name
	}
	newRun := fd != sw.last || fd.run != sw.lastRun
	if newRun {
		sw.f.Discontinuity()
	}
	// (else the input on air before comes back in the same run, as a camera's stalled read or
	// a SIGSTOPped ffmpeg does: its frames go on from where they were, and the injector holds
	// until they come at their own pace again, rather than playing what they buffered meanwhile
	// fast-forward)
	sw.onAir, sw.pending, sw.last, sw.lastRun, sw.onAirSince = fd, nil, fd, fd.run, now
	first := !sw.onAirOnce
	sw.onAirOnce = true
	if first {
		sw.log.Debug("input on air", "input", fd.name)
		return
	}
	sw.switches[sw.reason]++
	sw.log.Info("input on air", "input", fd.name, "was", from, "reason", sw.reason, "new_run", newRun)
	if len(sw.feeds) > 1 || sw.slate != nil {
		// (an input alone that comes back is told by channel.live)
		sw.events.Emit(event.Event{Kind: event.InputSwitched, Channel: sw.channel, From: was,
			To: fd.name, Reason: sw.reason, Time: now})
	}
}

// newRun tells that fd's next frame starts a new run of its ffmpeg: its steady count starts
// again, and if it is on air the injector carries the channel's time over the break.
func (sw *switcher) newRun(fd *feed) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	fd.steadySince = time.Time{}
	fd.run++
	if fd == sw.onAir {
		sw.f.Discontinuity()
	}
}

// decide applies the rules at time now: which input should be on air, and which inputs run.
// It returns the inputs to start and to stop, which the channel's goroutine does.
//
// An input is up while its last frame is less than failover_after old. In auto mode the input
// on air stays while it is up, unless an earlier one has been up without a break for
// return_after (it returns). When the input on air is not up, the channel holds, and the first
// input that is up goes on air; the backups are started one after the other, each given
// failover_after to deliver; with none up for slate_after, the slate. The source always runs:
// it is retried on its own backoff and returns. A forced input goes on air whenever it is up,
// and the slate covers it after slate_after.
func (sw *switcher) decide(now time.Time) (start, stop []*feed) {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	up := func(fd *feed) bool { return sw.up(fd, now) }
	if sw.onAir != nil && !up(sw.onAir) {
		sw.log.Warn("input on air gave no frame: holding the last picture", "input", sw.onAir.name,
			"for", now.Sub(sw.onAir.lastFrame).Round(time.Millisecond))
		// on hold since its last frame
		sw.onAir, sw.onAirSince = nil, sw.onAir.lastFrame
	}
	slateDue := sw.slate != nil && now.Sub(sw.lastOnAir) >= sw.slateAfter

	var target *feed
	switch {
	case sw.forced != nil:
		target = sw.forced
		if !up(target) && slateDue {
			target = sw.slate
		}
	case sw.onAir != nil && sw.onAir != sw.slate:
		target = sw.onAir
		for _, fd := range sw.feeds {
			if fd == sw.onAir {
				break
			}
			if up(fd) && now.Sub(fd.steadySince) >= sw.returnAfter {
				target = fd
				break
			}
		}
	default: // holding, or on the slate: the first input that works
		target = sw.firstUp(now)
		if target == nil && (slateDue || sw.onAir == sw.slate) {
			target = sw.slate
		}
	}
	sw.setPending(target)

	// what runs: the source always; the backups up to the one on air (those before it are
	// being retried), or while searching one more each failover_after; the slate while needed
	want := map[*feed]bool{}
	for _, fd := range []*feed{sw.feeds[0], sw.onAir, sw.pending, target, sw.forced} {
		if fd != nil {
			want[fd] = true
		}
	}
	switch {
	case sw.forced != nil:
	case sw.onAir != nil && sw.onAir != sw.slate:
		for _, fd := range sw.feeds {
			if fd == sw.onAir {
				break
			}
			if fd.running() || fd.done == nil { // being retried, or new from a reload
				want[fd] = true
			}
		}
	default:
		for _, fd := range sw.feeds {
			want[fd] = true
			if !fd.running() || up(fd) || now.Sub(fd.started) < sw.failoverAfter {
				break // the next one is tried once this one had its chance
			}
		}
	}
	for _, fd := range sw.all() {
		switch {
		case want[fd] && !fd.running():
			start = append(start, fd)
		case !want[fd] && fd.running():
			stop = append(stop, fd)
		}
	}
	return start, stop
}

// up reports whether input fd works at time now: it runs, and its last frame is less than
// failover_after old; mu is held.
func (sw *switcher) up(fd *feed, now time.Time) bool {
	return fd != nil && fd.running() && !fd.lastFrame.IsZero() && now.Sub(fd.lastFrame) < sw.failoverAfter
}

// firstUp returns the first input (the slate aside) that works at time now, nil if none does;
// mu is held.
func (sw *switcher) firstUp(now time.Time) *feed {
	for _, fd := range sw.feeds {
		if sw.up(fd, now) {
			return fd
		}
	}
	return nil
}

// setPending makes target the input to go on air at its next keyframe (none if it is on air
// already); mu is held.
func (sw *switcher) setPending(target *feed) {
	if target == sw.onAir {
		sw.pending = nil
		return
	}
	if target == sw.pending {
		return
	}
	sw.pending = target
	if target == nil {
		return
	}
	// (the first input on air is no switch, and has no reason)
	switch {
	case sw.forced == target:
		sw.reason = SwitchManual
	case sw.last != nil && sw.index(target) <= sw.index(sw.last):
		sw.reason = SwitchReturned
	default: // (also when the input on air before was removed by a reload)
		sw.reason = SwitchFailed
	}
}

// index is fd's place among the inputs, the slate last; mu is held.
func (sw *switcher) index(fd *feed) int {
	if i := slices.Index(sw.feeds, fd); i >= 0 {
		return i
	}
	return len(sw.feeds)
}

// all returns every input, the slate last; mu is held.
func (sw *switcher) all() []*feed {
	if sw.slate == nil {
		return sw.feeds
	}
	return append(slices.Clip(sw.feeds), sw.slate)
}

// force makes an operator's choice: an input's name, or "auto" to give control back. It
// answers a *BadSwitchError for an input the channel does not have.
func (sw *switcher) force(channel, target string) error {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	want := []string{"auto"}
	for _, fd := range sw.all() {
		want = append(want, fd.name)
		if fd.name == target {
			sw.forced = fd
			sw.log.Info("input switched by an operator", "input", target)
			return nil
		}
	}
	if target == "auto" {
		if sw.forced != nil {
			sw.log.Info("inputs back on auto", "was", sw.forced.name)
		}
		sw.forced = nil
		return nil
	}
	return &BadSwitchError{Channel: channel, Target: target, Want: want}
}

// remove takes fd out of the channel's inputs: if it was on air, the channel holds; mu is held.
func (sw *switcher) remove(fd *feed) {
	if sw.onAir == fd {
		sw.onAir = nil
	}
	if sw.pending == fd {
		sw.pending = nil
	}
	if sw.last == fd {
		sw.last = nil
	}
	if sw.forced == fd {
		sw.forced = nil
		sw.log.Info("the input an operator switched to is gone: inputs back on auto", "input", fd.name)
	}
	sw.retired = append(sw.retired, fd)
	st := fd.enc.Status()
	sw.gone.starts += st.Starts
	sw.gone.stalls += st.Stalls
	sw.gone.demuxErrors += st.DemuxErrors
}

// runFeeds starts and stops inputs as decide said; on the channel's goroutine.
func (sw *switcher) runFeeds(ctx context.Context, start, stop []*feed) {
	for _, fd := range stop {
		fd.stop()
		sw.log.Info("input on standby", "input", fd.name)
	}
	if len(start) == 0 {
		return
	}
	after := sw.stopping()
	for _, fd := range start {
		fd.start(ctx, sw, after)
	}
}

// stopping returns when the inputs a reload removed have stopped, forgetting those that have.
func (sw *switcher) stopping() []chan struct{} {
	sw.mu.Lock()
	defer sw.mu.Unlock()
	var after []chan struct{}
	kept := sw.retired[:0]
	for _, fd := range sw.retired {
		if fd.done == nil {
			continue
		}
		select {
		case <-fd.done:
		default:
			after = append(after, fd.done)
			kept = append(kept, fd)
		}
	}
	clear(sw.retired[len(kept):])
	sw.retired = kept
	return after
}
