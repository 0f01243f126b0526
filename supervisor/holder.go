package supervisor

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/event"
)

// How the hold goes: its clock, and how often the held keyframe goes out.
const (
	holdTick  = 250 * time.Millisecond
	holdEvery = 500 * time.Millisecond
)

// holder sends the last keyframe again while a channel's frames have stopped (see
// inject.Fanout.Hold), from the channel's goroutine, and shows it in the channel's status.
type holder struct {
	ctx    context.Context
	sw     *switcher // shows the hold in the channel's status
	log    *slog.Logger
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
	// channel and events tell of the hold (see tell); down is what was told last.
	channel string
	events  event.Sink
	down    bool
}

// eventAfterOff is how long frames must stop before a channel with hold = "off" is said to
// hold: as long as the default hold.
const eventAfterOff = time.Second

// check holds, or ends the hold, at time now; after is the profile's hold delay, 0 for none.
func (h *holder) check(now time.Time, after time.Duration) {
	// made ahead: a switch of inputs fills its audio's hole with it too (Fanout.SetSilence)
	h.silenceOf(h.f.AudioConfig())
	last := h.f.LastLive()
	h.tell(now, last, after)
	if after <= 0 || last.IsZero() || now.Sub(last) < after {
		if !h.since.IsZero() {
			held := now.Sub(h.since)
			h.sw.mu.Lock()
			h.sw.holdingSince, h.sw.held = time.Time{}, h.sw.held+held
			h.sw.mu.Unlock()
			h.log.Info("frames are back: hold ended", "held", held.Round(time.Millisecond))
			h.since = time.Time{}
		}
		return
	}
	if now.Sub(h.sent) < holdEvery-holdTick/2 { // ticks come a little early or late
		return
	}
	if err := h.f.Hold(now, h.silenceOf(h.f.AudioConfig())); err != nil {
		h.log.Debug("nothing to hold", "error", err)
		return
	}
	h.sent = now
	if h.since.IsZero() {
		h.since = last
		h.sw.mu.Lock()
		h.sw.holdingSince = last
		h.sw.mu.Unlock()
		h.log.Info("no frame: holding the last picture", "since", last)
	}
}

// tell says once that the channel's frames have stopped for the hold's delay (eventAfterOff
// without a hold), and once that they come again.
func (h *holder) tell(now, last time.Time, after time.Duration) {
	if after <= 0 {
		after = eventAfterOff
	}
	down := !last.IsZero() && now.Sub(last) >= after
	if down == h.down {
		return
	}
	h.down = down
	kind := event.ChannelLive
	if down {
		kind = event.ChannelHolding
	}
	h.events.Emit(event.Event{Kind: kind, Channel: h.channel, Time: now})
}

// silenceOf returns a silent AAC frame in config cfg, made once per config by ffmpeg in the
// background (the channel's goroutine does not wait for it); nil without audio, while it is being
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
				h.log.Warn("the hold has no silence to send: audio pauses during it", "error", err)
			}
			made <- frame
		}(h.made)
	}
	select {
	case frame := <-h.made:
		h.silence = frame
		if frame != nil {
			h.f.SetSilence(cfg, frame)
		}
	default:
	}
	return h.silence
}

// wait waits for the silence being made, if any.
func (h *holder) wait() {
	h.wg.Wait()
}
