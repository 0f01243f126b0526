package inject

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/ticks"
)

// rtpBase returns the RTP time of a channel's track at channel time 0: derived from the
// channel's name, so that every process of liveinject uses the same one, and channel time
// (which counts from 1970) makes RTP time go on across restarts.
func rtpBase(channel string, k demux.Kind) uint32 {
	h := fnv.New32a()
	h.Write([]byte(channel))
	h.Write([]byte{0, byte(k)})
	return h.Sum32()
}

// savedState is what one process leaves the next of a channel's RTP stream: the sequence
// number of each track's next packet, the channel time of its last frame and where its audio
// ended (audio may end after the last frame's time: its frames are longer).
type savedState struct {
	next           [2]uint16 // by demux.Kind
	time, audioEnd int64
}

// stateFile is savedState on disk.
type stateFile struct {
	VideoSeq uint16 `json:"video_seq"`
	AudioSeq uint16 `json:"audio_seq"`
	// Time is the channel time of the last frame, in 90 kHz ticks since 1970; AudioEnd where
	// the audio ended, in the same ticks.
	Time     int64 `json:"time"`
	AudioEnd int64 `json:"audio_end"`
	// VideoRate and AudioRate are the packets a second each track sent before the save.
	VideoRate float64 `json:"video_rate"`
	AudioRate float64 `json:"audio_rate"`
	// Clean is set by a process that stopped and wrote its last packet's numbers; a state
	// saved while it ran is older than the last packets sent.
	Clean bool      `json:"clean"`
	Saved time.Time `json:"saved"`
}

// continuity keeps a channel's RTP sequence numbers and time in a file, for the next process.
//
// Players (ffmpeg among them) drop a packet whose sequence number is behind the last one they
// had, as a late duplicate, and take a jump forward of thousands for a new stream: a restart of
// liveinject that drew new numbers at random left its viewers without a picture for up to 32768
// packets, half the time. A clean stop keeps the exact next numbers; a crash leaves those of the
// last save, at most every ago, and the next process adds what could have been sent since: a
// jump forward that players take for a short loss.
type continuity struct {
	path  string
	every time.Duration
	log   *slog.Logger

	// last is the previous save's numbers and when they were taken, for the rates.
	last   savedState
	lastAt time.Time
	rates  [2]float64
	// failing is set while saves fail, so that a failing disk is logged once.
	failing bool
}

// load returns the state the last process left, ready to go on from at now: numbers past any
// packet it may have sent after its last save, and a time past its last frame.
func (c *continuity) load(now time.Time) (savedState, bool) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return savedState{}, false
	}
	var sf stateFile
	if err == nil {
		err = json.Unmarshal(b, &sf)
	}
	if err != nil {
		c.log.Warn("RTP state unreadable: starting new sequence numbers; viewers may lose the picture for a while",
			"file", c.path, "error", err)
		return savedState{}, false
	}
	s := savedState{next: [2]uint16{sf.VideoSeq, sf.AudioSeq}, time: sf.Time, audioEnd: sf.AudioEnd}
	if !sf.Clean {
		// Twice the packets of a save period, and some for a burst (a keyframe's), at the rate
		// of the last one.
		for k, rate := range []float64{sf.VideoRate, sf.AudioRate} {
			s.next[k] += uint16(min(math.Ceil(rate*2*c.every.Seconds())+64, 8192))
		}
		s.time += 2 * ticks.FromDuration(c.every)
		s.audioEnd += 2 * ticks.FromDuration(c.every)
	}
	c.log.Info("going on from the RTP state of the last run", "file", c.path, "clean", sf.Clean,
		"video_seq", s.next[demux.Video], "audio_seq", s.next[demux.Audio],
		"stopped", now.Sub(sf.Saved).Round(time.Millisecond))
	return s, true
}

// run saves the state snapshot gives every period until ctx ends.
func (c *continuity) run(ctx context.Context, snapshot func() savedState) {
	t := time.NewTicker(c.every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			c.save(snapshot(), now, false)
		}
	}
}

// close saves the state of a stopped channel: the exact next numbers, synced to disk.
func (c *continuity) close(s savedState) {
	c.save(s, time.Now(), true)
}

// save writes s as of now, through a temporary file renamed over the last: a crash leaves
// either. Only a clean stop's is synced: the one a running process saves outlives its crash in
// the page cache, and a crash of the box ends the viewers' sessions anyway.
func (c *continuity) save(s savedState, now time.Time, clean bool) {
	if !clean && s == c.last {
		return // nothing sent since
	}
	if secs := now.Sub(c.lastAt).Seconds(); !c.lastAt.IsZero() && secs > 0 {
		for k := range c.rates {
			c.rates[k] = float64(s.next[k]-c.last.next[k]) / secs
		}
	}
	c.last, c.lastAt = s, now
	sf := stateFile{VideoSeq: s.next[demux.Video], AudioSeq: s.next[demux.Audio], Time: s.time, AudioEnd: s.audioEnd,
		VideoRate: c.rates[demux.Video], AudioRate: c.rates[demux.Audio], Clean: clean, Saved: now.Round(0).UTC()}
	err := writeFileAtomic(c.path, sf, clean)
	switch {
	case err != nil && !c.failing:
		c.log.Warn("cannot keep the RTP state: a restart will start new sequence numbers", "file", c.path, "error", err)
		c.failing = true
	case err == nil && c.failing:
		c.log.Info("RTP state kept again", "file", c.path)
		c.failing = false
	}
}

// writeFileAtomic writes v as JSON to path through a temporary file in its directory, synced
// with the directory when sync is set.
func writeFileAtomic(path string, v any, sync bool) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after the rename, nothing
	_, err = tmp.Write(b)
	if err == nil && sync {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err == nil && sync {
		if d, derr := os.Open(dir); derr == nil {
			err = d.Sync()
			d.Close()
		}
	}
	if err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}
