package record

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/ticks"
)

// Config is how a channel records. A zero Segment, Keep or MinFree takes its default.
type Config struct {
	// Dir is the channel's folder: its segments and nothing else.
	Dir string
	// Segment is how long a segment runs before the next begins, at the next video keyframe.
	// Default 1m.
	Segment time.Duration
	// Keep is how long a segment is kept after it began. Default 7 days.
	Keep time.Duration
	// MaxSize bounds the channel's segments together, in bytes; 0: no bound.
	MaxSize int64
	// MinFree is the free space to leave on Dir's file system: MinFreeBytes bytes, or
	// MinFreePercent of its size when MinFreeBytes is 0. Default 5 %.
	MinFreeBytes   int64
	MinFreePercent float64
}

// Defaults of Config.
const (
	DefaultSegment        = time.Minute
	DefaultKeep           = 7 * 24 * time.Hour
	DefaultMinFreePercent = 5
)

func (c Config) withDefaults() Config {
	c.Segment = cmp.Or(c.Segment, DefaultSegment)
	c.Keep = cmp.Or(c.Keep, DefaultKeep)
	if c.MinFreeBytes == 0 && c.MinFreePercent == 0 {
		c.MinFreePercent = DefaultMinFreePercent
	}
	return c
}

// minFree returns the free space to leave on a file system of total bytes.
func (c Config) minFree(total int64) int64 {
	if c.MinFreeBytes > 0 {
		return c.MinFreeBytes
	}
	return int64(float64(total) * c.MinFreePercent / 100)
}

// Space returns the free and total bytes of the file system that holds dir.
type Space func(dir string) (free, total int64, err error)

// statfs is the Space of the real file systems: what an unprivileged program may use.
func statfs(dir string) (free, total int64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return int64(st.Bavail) * int64(st.Bsize), int64(st.Blocks) * int64(st.Bsize), nil
}

// Recorder keeps one channel's frames on disk (see the package comment). WriteFrame and Gap
// never block: the frames go to a bounded queue that the Recorder's goroutine, which owns the
// files, takes in batches (every DrainEvery), and each batch goes to the file in one write.
// Waking the goroutine and writing the file for every frame cost the channel's process half
// as much CPU again as the stream itself (a system call wakes the runtime's sysmon; see
// BENCHMARKS.md). When the disk cannot keep up the queue fills, frames are dropped and counted,
// and the recording goes on at the next keyframe in a new segment.
type Recorder struct {
	// Channel names the channel in logs.
	Channel string
	Config  Config
	Logger  *slog.Logger
	// QueueSize bounds the queue, in frames. Default 512 (several seconds of video and audio).
	QueueSize int
	// DrainEvery is how often the goroutine takes the queue and writes it: at most this much
	// of the recording is lost on a kill -9 beyond what the queue held. Default 250 ms.
	DrainEvery time.Duration
	// Space tells the free space of the folder's file system; default the real one.
	Space Space

	// Tests shorten these: retention's period (10 s), how often a full disk is looked at again
	// (3 s); failWrite, when set, fails a write to a segment with its error.
	retainEvery, retryEvery time.Duration
	failWrite               func() error

	// qmu guards queue and lost: the frames and gaps not taken yet, and whether a frame was
	// dropped since the last one queued.
	qmu       sync.Mutex
	queue     []item
	queueSize int
	lost      bool
	dropped   atomic.Uint64
	// written counts the bytes written to segments (Stats.BytesWritten), as they go.
	written atomic.Uint64
	configs chan Config
	done    chan struct{}
	closing chan struct{}
	once    sync.Once

	mu    sync.Mutex
	stats Stats
}

// item is a frame for the goroutine, or a gap before the next one.
type item struct {
	fr       *demux.Frame
	pts, dts int64
	at       time.Time
	gap      string
}

// Initialize starts the Recorder's goroutine.
func (r *Recorder) Initialize() error {
	if r.Logger == nil {
		r.Logger = slog.New(slog.DiscardHandler)
	}
	if r.Space == nil {
		r.Space = statfs
	}
	r.Config = r.Config.withDefaults()
	if r.Config.Dir == "" {
		return fmt.Errorf("channel %q: recording: no folder", r.Channel)
	}
	r.retainEvery = cmp.Or(r.retainEvery, 10*time.Second)
	r.retryEvery = cmp.Or(r.retryEvery, 3*time.Second)
	r.queueSize = cmp.Or(max(r.QueueSize, 0), 512)
	r.queue = make([]item, 0, r.queueSize)
	r.DrainEvery = cmp.Or(max(r.DrainEvery, 0), 250*time.Millisecond)
	r.configs = make(chan Config, 1)
	r.done, r.closing = make(chan struct{}), make(chan struct{})
	r.stats = Stats{State: StateWaiting, Dir: r.Config.Dir, Deleted: map[string]uint64{}}
	go r.run()
	return nil
}

// Close ends the segment being written (synced and renamed) and stops the goroutine.
func (r *Recorder) Close() {
	r.once.Do(func() { close(r.closing) })
	<-r.done
}

// WriteFrame queues a frame that went on air, at channel time pts and dts (90 kHz). The frame
// and what it points to must not change afterwards.
func (r *Recorder) WriteFrame(fr *demux.Frame, pts, dts int64) {
	it := item{fr: fr, pts: pts, dts: dts, at: time.Now()}
	r.qmu.Lock()
	defer r.qmu.Unlock()
	if r.lost {
		it.gap = "frames dropped: the disk did not keep up"
	}
	r.enqueue(it)
}

// enqueue queues it, or drops it and marks the loss when the queue is full; qmu is held.
func (r *Recorder) enqueue(it item) {
	if len(r.queue) >= r.queueSize {
		r.dropped.Add(1)
		r.lost = true
		return
	}
	r.queue = append(r.queue, it)
	r.lost = false
}

// take returns what was queued, handing the queue spare for the next frames.
func (r *Recorder) take(spare []item) []item {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	out := r.queue
	r.queue = spare[:0]
	return out
}

// Gap tells the Recorder that what comes next does not follow what came before (the channel
// held its picture: an outage): the segment ends, and the next begins at a keyframe.
func (r *Recorder) Gap(why string) {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	r.enqueue(item{gap: why})
}

// SetConfig changes the limits, the segment length or the folder, applied by the goroutine: a
// new folder ends the segment and goes on in the new one at the next keyframe.
func (r *Recorder) SetConfig(c Config) {
	c = c.withDefaults()
	select {
	case <-r.configs:
	default:
	}
	r.configs <- c
}

// Stats returns the recording's figures.
func (r *Recorder) Stats() Stats {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.stats
	st.Deleted = maps.Clone(st.Deleted)
	st.Dropped, st.BytesWritten = r.dropped.Load(), r.written.Load()
	return st
}

// recorderState is what the goroutine owns.
type recorderState struct {
	cfg Config
	seg *segment
	// stopped is set in StateError: frames are not written until retryAt, and then (for a full
	// disk) only once there is room.
	stopped  bool
	diskFull bool
	retryAt  time.Time
	// lastName and lastN are the name of the last segment's start second and its counter.
	lastName string
	lastN    int
	ready    bool // the folder was made and its leftovers closed
}

func (r *Recorder) run() {
	defer close(r.done)
	s := &recorderState{cfg: r.Config}
	r.prepare(s)
	r.retain(s, time.Now())
	tick := time.NewTicker(min(r.retainEvery, r.retryEvery, r.DrainEvery))
	defer tick.Stop()
	lastRetain := time.Now()
	spare := make([]item, 0, r.queueSize)
	drain := func() {
		batch := r.take(spare)
		for i := range batch {
			r.handle(s, batch[i])
			batch[i] = item{} // the frames are the GC's once written
		}
		spare = batch
		if s.seg != nil {
			if err := s.seg.flush(); err != nil {
				r.writeFailed(s, err)
			}
		}
	}
	for {
		select {
		case <-r.closing:
			drain() // what was queued before Close goes in the last segment
			r.endSegment(s, "")
			return
		case c := <-r.configs:
			if c.Dir != s.cfg.Dir {
				r.endSegment(s, "")
				s.cfg, s.ready = c, false
				r.update(func(st *Stats) { st.Dir = c.Dir })
				r.prepare(s)
			}
			s.cfg = c
			r.retain(s, time.Now())
			lastRetain = time.Now()
		case now := <-tick.C:
			drain()
			if s.stopped && !now.Before(s.retryAt) {
				r.tryResume(s, now)
			}
			if now.Sub(lastRetain) >= r.retainEvery {
				r.retain(s, now)
				lastRetain = now
			}
		}
	}
}

// prepare makes the folder and closes the leftovers of a crash in it.
func (r *Recorder) prepare(s *recorderState) {
	if err := os.MkdirAll(s.cfg.Dir, 0o755); err != nil {
		r.fail(s, "cannot make the folder", err, false)
		return
	}
	closed, err := closeLeftovers(s.cfg.Dir)
	for _, name := range closed {
		r.Logger.Info("recording: closed a segment left open", "file", filepath.Join(s.cfg.Dir, name))
	}
	if err != nil {
		r.fail(s, "cannot close a segment left open", err, false)
		return
	}
	s.ready = true
}

// handle writes one item: a gap ends the segment; a frame starts one at a keyframe, or goes in
// the open one, which it ends when it is a keyframe after the segment's length.
func (r *Recorder) handle(s *recorderState, it item) {
	if it.gap != "" {
		if s.seg != nil {
			r.Logger.Warn("recording gap: segment ended, the next begins at a keyframe", "cause", it.gap)
		}
		r.endSegment(s, StateWaiting)
		if it.fr == nil {
			return
		}
	}
	if s.stopped {
		return
	}
	fr := it.fr
	// Without video every audio frame is a place to start.
	key := fr.Kind == demux.Video && fr.Key || fr.Params.SPS == nil
	if s.seg != nil && !fr.Params.Equal(s.seg.params) {
		if !key {
			// new codec parameters from a frame that cannot start a segment: wait for one
			r.endSegment(s, StateWaiting)
			return
		}
		r.endSegment(s, StateWaiting)
	}
	if s.seg != nil && key && ticks.Duration(it.dts-s.seg.firstDTS) >= s.cfg.Segment {
		r.endSegment(s, StateRecording)
	}
	if s.seg == nil {
		if !key || fr.Kind == demux.Audio && fr.Params.SPS != nil {
			return
		}
		if !r.startSegment(s, fr.Params, it) {
			return
		}
	}
	if err := s.seg.write(fr, it.pts, it.dts); err != nil {
		r.writeFailed(s, err)
		return
	}
}

// startSegment opens a segment for frames with params p, starting with it.
func (r *Recorder) startSegment(s *recorderState, p *demux.Params, it item) bool {
	if !s.ready {
		return false
	}
	base := SegmentName(it.at, 1)
	n := 1
	if base == s.lastName {
		n = s.lastN + 1
	}
	var seg *segment
	for {
		path := filepath.Join(s.cfg.Dir, SegmentName(it.at, n))
		if _, err := os.Lstat(path); err == nil {
			n++
			continue
		}
		var err error
		seg, err = openSegment(path, p, it.dts, &r.written, r.failWrite)
		if errors.Is(err, os.ErrExist) {
			n++
			continue
		}
		if err != nil {
			r.writeFailed(s, err)
			return false
		}
		break
	}
	s.seg, s.lastName, s.lastN = seg, base, n
	r.update(func(st *Stats) {
		if st.State != StateRecording {
			r.Logger.Info("recording", "file", seg.path+".part")
		}
		st.State, st.Cause = StateRecording, ""
	})
	return true
}

// endSegment closes the open segment, if any, and sets state (unless "").
func (r *Recorder) endSegment(s *recorderState, state string) {
	if s.seg != nil {
		seg := s.seg
		s.seg = nil
		if err := seg.close(); err != nil {
			r.fail(s, "cannot close a segment", err, false)
		} else {
			r.retain(s, time.Now())
		}
	}
	if state != "" && !s.stopped {
		r.update(func(st *Stats) { st.State, st.Cause = state, "" })
	}
}

// writeFailed stops the recording after a failed write or create; a full disk is looked at
// again until there is room.
func (r *Recorder) writeFailed(s *recorderState, err error) {
	if s.seg != nil {
		seg := s.seg
		s.seg = nil
		seg.abandon()
	}
	if errors.Is(err, syscall.ENOSPC) {
		r.fail(s, r.diskFullCause(s), err, true)
		return
	}
	r.fail(s, "write failed", err, false)
}

func (r *Recorder) diskFullCause(s *recorderState) string {
	free, total, err := r.Space(s.cfg.Dir)
	if err != nil {
		return "disk full"
	}
	return fmt.Sprintf("disk full: %s free of %s", formatBytes(free), formatBytes(total))
}

// fail puts the recording in StateError with cause, counted and logged, and stops writing
// until it tries again.
func (r *Recorder) fail(s *recorderState, cause string, err error, diskFull bool) {
	s.stopped, s.diskFull, s.retryAt = true, diskFull, time.Now().Add(r.retryEvery)
	msg := cause
	if err != nil {
		msg = cause + ": " + err.Error()
	}
	r.update(func(st *Stats) {
		if st.State != StateError {
			r.Logger.Error("recording stopped; it goes on by itself once it can", "cause", msg, "dir", s.cfg.Dir)
		}
		st.State, st.Cause = StateError, cause
		st.Errors++
		st.LastError, st.LastErrorAt = msg, time.Now()
	})
}

// tryResume goes back to waiting for a keyframe once what stopped the recording is gone.
func (r *Recorder) tryResume(s *recorderState, now time.Time) {
	if !s.ready {
		r.prepare(s)
		if !s.ready {
			s.retryAt = now.Add(r.retryEvery)
			return
		}
	}
	if s.diskFull {
		r.retain(s, now)
		free, total, err := r.Space(s.cfg.Dir)
		if err != nil || free < s.cfg.minFree(total) {
			s.retryAt = now.Add(r.retryEvery)
			if err == nil {
				r.update(func(st *Stats) {
					st.Cause = fmt.Sprintf("disk full: %s free of %s", formatBytes(free), formatBytes(total))
				})
			}
			return
		}
	}
	s.stopped, s.diskFull = false, false
	r.Logger.Info("recording resumes at the next keyframe")
	r.update(func(st *Stats) { st.State, st.Cause = StateWaiting, "" })
}

func (r *Recorder) update(f func(*Stats)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	f(&r.stats)
}

// formatBytes writes n in binary units, e.g. "1.5 GiB".
func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
