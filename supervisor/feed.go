package supervisor

import (
	"context"
	"reflect"
	"slices"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/profiles"
)

// feed is one input of a channel as it runs (its source, a backup, or its slate): its own
// ffmpeg loop, whose frames go to the channel's switcher. The channel's goroutine starts and
// stops it. One ffmpeg of a feed runs at a time: a feed started again waits for its last ffmpeg
// to be reaped, so that a capture device that opens once is never opened twice (and the
// profile refuses two inputs with one device).
type feed struct {
	name string // "source", "backup N", "slate"
	kind string // the source kind
	enc  *encoder
	// profile is the channel as this input runs it (see feedProfiles).
	profile profiles.Channel

	// cancel ends the running encoder, nil while the feed is on standby; done is closed when
	// the last one started has returned, nil before the first start.
	cancel  context.CancelFunc
	done    chan struct{}
	started time.Time
	// active says, to the switcher's frame path, what cancel says to the channel's goroutine.
	active atomic.Bool
	// source is profile's, for watchReady.
	source atomic.Pointer[profiles.Source]

	// Guarded by the switcher's mu: when its latest frame came, and since when its frames
	// have come without a break (zero when they do not).
	lastFrame, steadySince time.Time
	// run counts its ffmpeg runs (see switcher.newRun), also guarded by the switcher's mu.
	run uint64
}

// newFeed makes the feed of input name, running profile p, on standby.
func newFeed(c *channel, s *Supervisor, name string, p profiles.Channel) *feed {
	fd := &feed{name: name, kind: p.Source.Kind, profile: p}
	fd.source.Store(&p.Source)
	log := c.log.With("input", name)
	fd.enc = &encoder{Profile: p, FFmpeg: s.FFmpeg, Logger: log, Checker: &s.checker,
		Sink: feedSink{c.sw, fd}}
	if s.OnStart != nil {
		fd.enc.OnStart = func(pid int) { s.OnStart(p.Name, pid) }
	}
	fd.enc.publish(func(st *Status) { st.Name, st.File, st.State = p.Name, p.File, StateStarting })
	return fd
}

// running reports whether the feed's encoder runs (it may be in backoff).
func (fd *feed) running() bool { return fd.active.Load() }

// start runs the feed's encoder until stop or ctx ends; a running feed is left alone. Its
// ffmpeg starts once after have closed: the inputs a reload replaced, whose ffmpeg may hold the
// device this one opens.
func (fd *feed) start(ctx context.Context, sw *switcher, after []chan struct{}) {
	if fd.cancel != nil {
		return
	}
	prev := fd.done
	ctx, fd.cancel = context.WithCancel(ctx)
	done := make(chan struct{})
	fd.done, fd.started = done, time.Now()
	fd.active.Store(true)
	sw.newRun(fd)
	go func() {
		defer close(done)
		if prev != nil {
			<-prev // its last ffmpeg is reaped before the next opens the device
		}
		for _, done := range after {
			<-done
		}
		watched := make(chan struct{})
		go func() {
			defer close(watched)
			watchReady(ctx, fd.source.Load, fd.enc)
		}()
		fd.enc.Run(ctx) //nolint:errcheck // it returns nil, and logs what it meets
		<-watched
	}()
}

// stop ends the feed's encoder without waiting: it goes on standby.
func (fd *feed) stop() {
	if fd.cancel != nil {
		fd.active.Store(false)
		fd.cancel()
		fd.cancel = nil
	}
}

// wait waits for the feed's last encoder to return.
func (fd *feed) wait() {
	if fd.done != nil {
		<-fd.done
	}
}

// reload makes the feed run profile p from now on: a running ffmpeg whose command changes is
// started again at once. It tells whether it changed.
func (fd *feed) reload(p profiles.Channel) bool {
	same := sameRun(fd.profile, p)
	fd.profile = p
	fd.source.Store(&p.Source)
	if !same {
		fd.enc.Reload(p)
	}
	return !same
}

// sameInput reports whether two profiles of an input capture the same thing (its source, and
// the source's input_args): a feed runs one input, and a reload that gives its place another
// makes a new feed.
func sameInput(a, b profiles.Channel) bool {
	return profiles.SameSource(a.Source, b.Source) && slices.Equal(a.FFmpeg.InputArgs, b.FFmpeg.InputArgs)
}

// sameRun reports whether two profiles of an input run the same ffmpeg, the same way.
func sameRun(a, b profiles.Channel) bool {
	aa, aerr := Args(a)
	ba, berr := Args(b)
	return slices.Equal(aa, ba) && (aerr == nil) == (berr == nil) && reflect.DeepEqual(a.FFmpeg, b.FFmpeg)
}

// feedProfiles returns the channel as each of its inputs but the slate runs it: the source
// (ch without its backups), then each backup in its place; a backup of kind "ffmpeg" carries
// its input part itself.
func feedProfiles(ch profiles.Channel) []profiles.Channel {
	src := ch
	src.Backups = nil
	out := []profiles.Channel{src}
	for _, b := range ch.Backups {
		p := src
		p.Source = b
		p.FFmpeg.InputArgs = b.InputArgs
		out = append(out, p)
	}
	return out
}

// feedSink hands a feed's frames to the channel's switcher.
type feedSink struct {
	sw *switcher
	fd *feed
}

func (s feedSink) WriteFrame(fr *demux.Frame) error { return s.sw.frame(s.fd, fr) }

func (s feedSink) Discontinuity() { s.sw.newRun(s.fd) }
