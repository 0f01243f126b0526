package supervisor

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/demux"
)

// stallWatch kills an ffmpeg that stops delivering, and says why. It reads ffmpeg's output for
// the demuxer, noting when bytes come.
//
// While the demuxer probes for the tracks no frame can come, and the probe has bounds of its own
// whose error names the track that does not come: then only bytes must come. Once the tracks are
// known (probed), frames that count must: video frames, or any frame without video.
type stallWatch struct {
	r       io.Reader
	timeout time.Duration
	kill    func()
	start   int64 // UnixNano
	// when bytes, frames that count and audio frames last came, and when the probe ended (0
	// while it goes on), as UnixNano
	lastBytes, lastFrame, lastAudio, probed atomic.Int64
	// err is why it killed ffmpeg, nil while it has not
	err atomic.Pointer[error]

	mu      sync.Mutex
	timer   *time.Timer
	stopped bool
}

// newStallWatch watches r, ffmpeg's output, and calls kill when nothing comes for timeout.
func newStallWatch(r io.Reader, timeout time.Duration, kill func()) *stallWatch {
	w := &stallWatch{r: r, timeout: timeout, kill: kill, start: time.Now().UnixNano()}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = time.AfterFunc(timeout, w.check)
	return w
}

func (w *stallWatch) Read(b []byte) (int, error) {
	n, err := w.r.Read(b)
	if n > 0 {
		w.lastBytes.Store(time.Now().UnixNano())
	}
	return n, err
}

// probeDone says that the demuxer knows the tracks: frames must come from now on.
func (w *stallWatch) probeDone() {
	w.probed.Store(time.Now().UnixNano())
}

// frame notes a frame handed on at now; hasVideo tells whether the stream has video.
func (w *stallWatch) frame(f *demux.Frame, hasVideo bool, now time.Time) {
	if f.Kind == demux.Video || !hasVideo {
		w.lastFrame.Store(now.UnixNano())
	} else {
		w.lastAudio.Store(now.UnixNano())
	}
}

// stop ends the watch; it never kills after stop returns.
func (w *stallWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// check runs when the timeout may have passed: it kills, or waits for the rest of it.
func (w *stallWatch) check() {
	now := time.Now()
	since := max(w.start, w.lastBytes.Load())
	if probed := w.probed.Load(); probed != 0 {
		since = max(probed, w.lastFrame.Load())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	if wait := w.timeout - now.Sub(time.Unix(0, since)); wait > 0 {
		w.timer.Reset(wait)
		return
	}
	err := stallCause(now, time.Unix(0, w.lastBytes.Load()), time.Unix(0, w.lastAudio.Load()), w.timeout)
	w.err.Store(&err)
	w.kill()
}

// stallCause says why no video frame came for timeout until now, from when bytes and audio
// frames last came: only what came in the second half of that time counts.
func stallCause(now, lastBytes, lastAudio time.Time, timeout time.Duration) error {
	recent := now.Add(-timeout / 2)
	switch {
	case lastAudio.After(recent):
		return fmt.Errorf("%w: audio only, no video frame for %v", errStalled, timeout)
	case lastBytes.After(recent):
		return fmt.Errorf("%w: MPEG-TS came but no frame for %v", errStalled, timeout)
	}
	return fmt.Errorf("%w: no output for %v", errStalled, timeout)
}
