package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/demux"
)

// Thumbnail defaults: a picture about as wide as a phone's card, made at most every few seconds
// per channel, and a decode that may not hang a request.
const (
	thumbnailWidth   = 320
	thumbnailMaxAge  = 5 * time.Second
	thumbnailTimeout = 5 * time.Second
	// thumbnailMaxBytes bounds what one decode may return: a 320 px JPEG is some 10-30 KB.
	thumbnailMaxBytes = 1 << 20
)

// errNoKeyframe is Get's error for a channel that has had no keyframe yet.
var errNoKeyframe = errors.New("no keyframe yet")

// thumbnailer makes a channel's thumbnail on demand: ffmpeg decodes the channel's latest keyframe
// to a small JPEG. Requests for a channel share one decode and its result for MaxAge, however
// many come; nothing is decoded while nobody asks. It keeps one JPEG per channel asked for.
type thumbnailer struct {
	FFmpeg string
	// Keyframe returns a channel's latest keyframe (see supervisor.Supervisor.Keyframe).
	Keyframe func(channel string) (au [][]byte, params *demux.Params, ok bool)
	// Width is the JPEG's width in pixels (the height keeps the aspect); MaxAge how long a
	// thumbnail is served before the next request makes a new one; Timeout bounds one decode.
	Width           int
	MaxAge, Timeout time.Duration

	// ctx ends the decodes under way when the server closes.
	ctx     context.Context
	cancel  context.CancelFunc
	seed    maphash.Seed
	decodes atomic.Uint64

	mu      sync.Mutex
	entries map[string]*thumbnail
}

// thumbnail is one channel's cached JPEG. Its sem is held by the request that checks or makes it,
// so that concurrent requests wait for one decode rather than start their own.
type thumbnail struct {
	sem  chan struct{}
	jpeg []byte
	err  error     // the last decode's failure, served until MaxAge has passed
	at   time.Time // when jpeg or err was made or last found current
	sum  uint64    // of the keyframe jpeg shows
}

func newThumbnailer(ffmpeg string, keyframe func(string) ([][]byte, *demux.Params, bool)) *thumbnailer {
	ctx, cancel := context.WithCancel(context.Background())
	return &thumbnailer{
		FFmpeg: ffmpeg, Keyframe: keyframe,
		Width: thumbnailWidth, MaxAge: thumbnailMaxAge, Timeout: thumbnailTimeout,
		ctx: ctx, cancel: cancel, seed: maphash.MakeSeed(), entries: map[string]*thumbnail{},
	}
}

// Close ends the decodes under way.
func (t *thumbnailer) Close() {
	t.cancel()
}

// Decodes returns how many times ffmpeg was run to make a thumbnail.
func (t *thumbnailer) Decodes() uint64 {
	return t.decodes.Load()
}

// Get returns the channel's thumbnail and when it was made. It fails with errNoKeyframe for a
// channel without a keyframe, and with ctx's error if ctx ends while another request decodes.
func (t *thumbnailer) Get(ctx context.Context, channel string) ([]byte, time.Time, error) {
	// Only channels with a keyframe get an entry: names asked for at random cost nothing.
	au, params, ok := t.Keyframe(channel)
	if !ok || params == nil || params.SPS == nil {
		return nil, time.Time{}, errNoKeyframe
	}
	t.mu.Lock()
	e := t.entries[channel]
	if e == nil {
		e = &thumbnail{sem: make(chan struct{}, 1)}
		t.entries[channel] = e
	}
	t.mu.Unlock()

	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, time.Time{}, ctx.Err()
	}
	defer func() { <-e.sem }()
	now := time.Now()
	if now.Sub(e.at) < t.MaxAge {
		return e.jpeg, e.at, e.err
	}
	// A channel that holds its picture, or whose GOP is longer than MaxAge, has the same
	// keyframe still: the JPEG made of it is current.
	sum := t.sum(au, params)
	if e.jpeg != nil && e.err == nil && sum == e.sum {
		e.at = now
		return e.jpeg, e.at, nil
	}
	e.jpeg, e.err = t.decode(au, params)
	e.at, e.sum = time.Now(), sum
	if e.err != nil {
		e.jpeg = nil
		e.err = fmt.Errorf("channel %q: thumbnail: %w", channel, e.err)
	}
	return e.jpeg, e.at, e.err
}

// Prune forgets the thumbnails of the channels keep does not want.
func (t *thumbnailer) Prune(keep func(channel string) bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name := range t.entries {
		if !keep(name) {
			delete(t.entries, name)
		}
	}
}

func (t *thumbnailer) sum(au [][]byte, params *demux.Params) uint64 {
	var h maphash.Hash
	h.SetSeed(t.seed)
	h.Write(params.SPS) //nolint:errcheck // maphash never fails
	h.Write(params.PPS) //nolint:errcheck
	for _, n := range au {
		h.Write(n) //nolint:errcheck
	}
	return h.Sum64()
}

// decode runs ffmpeg on the keyframe as an H.264 elementary stream and returns its JPEG.
func (t *thumbnailer) decode(au [][]byte, params *demux.Params) ([]byte, error) {
	t.decodes.Add(1)
	ctx, cancel := context.WithTimeout(t.ctx, t.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, t.FFmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "h264", "-i", "pipe:0",
		"-frames:v", "1", "-vf", "scale="+strconv.Itoa(t.Width)+":-2", "-q:v", "5",
		"-f", "mjpeg", "pipe:1")
	cmd.Stdin = bytes.NewReader(annexB(au, params))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	out, readErr := io.ReadAll(io.LimitReader(stdout, thumbnailMaxBytes+1))
	if len(out) > thumbnailMaxBytes {
		cmd.Process.Kill() //nolint:errcheck // Wait reaps it
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		return nil, fmt.Errorf("ffmpeg did not decode the keyframe within %v", t.Timeout)
	case len(out) > thumbnailMaxBytes:
		return nil, fmt.Errorf("ffmpeg's JPEG is larger than %d bytes", thumbnailMaxBytes)
	case err != nil:
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, said(stderr.Bytes()))
	case readErr != nil:
		return nil, readErr
	case len(out) == 0:
		return nil, fmt.Errorf("ffmpeg made no picture: %s", said(stderr.Bytes()))
	}
	return out, nil
}

// annexB writes SPS, PPS and the keyframe's other NAL units as an H.264 elementary stream.
func annexB(au [][]byte, params *demux.Params) []byte {
	startCode := []byte{0, 0, 0, 1}
	var b bytes.Buffer
	for _, n := range [][]byte{params.SPS, params.PPS} {
		b.Write(startCode)
		b.Write(n)
	}
	for _, n := range au {
		// the parameter sets in force are written already, first
		if len(n) == 0 || n[0]&0x1f == 7 || n[0]&0x1f == 8 {
			continue
		}
		b.Write(startCode)
		b.Write(n)
	}
	return b.Bytes()
}

// said returns what ffmpeg wrote on stderr as one line, its first 400 bytes: the lines of its
// decoder threads come in no fixed order, so no single one is sure to be the cause.
func said(b []byte) string {
	lines := strings.FieldsFunc(string(b), func(r rune) bool { return r == '\n' || r == '\r' })
	out := strings.Join(lines, "; ")
	if len(out) > 400 {
		out = out[:400] + "…"
	}
	return out
}
