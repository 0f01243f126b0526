package main

import (
	"context"
	"sync"
	"time"

	"github.com/liveinject/liveinject/supervisor"
)

// What the dashboard's sparklines show: a sample every historyInterval for historySpan.
const (
	historyInterval = 2 * time.Second
	historySpan     = 10 * time.Minute
)

// sample is one point of a channel's history: the rates over the interval that ended at T.
type sample struct {
	T int64 `json:"t"` // Unix seconds
	// FPS is the video frames per second the demuxer handed on; Kbps the kbit/s that the
	// channel's busiest destination sent (RTP and RTCP).
	FPS  float64 `json:"fps"`
	Kbps float64 `json:"kbps"`
}

// history samples every channel's frame and byte counters at a fixed interval and keeps the rates
// of the last span: the dashboard's "now" figures and sparklines, and the bitrate metric. Run's
// goroutine owns the counters it last saw; readers get copies.
type history struct {
	Status   func() []supervisor.Status
	Interval time.Duration
	Span     time.Duration

	mu      sync.Mutex
	samples map[string][]sample // oldest first, at most Span/Interval each
	// last are the counters of the previous tick, for the rates; Run's goroutine only.
	last map[string]counters
}

type counters struct {
	at     time.Time
	frames uint64
	bytes  map[string]uint64 // by destination URL
}

// Run samples until ctx ends.
func (h *history) Run(ctx context.Context) {
	tick := time.NewTicker(h.Interval)
	defer tick.Stop()
	h.sample(time.Now())
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			h.sample(now)
		}
	}
}

// sample takes one tick: the rates since the previous one, for the channels there both times.
func (h *history) sample(now time.Time) {
	keep := int(h.Span / h.Interval)
	next := map[string]counters{}
	points := map[string]sample{}
	for _, s := range h.Status() {
		c := counters{at: now, frames: s.Frames, bytes: map[string]uint64{}}
		for _, d := range s.Destinations {
			c.bytes[d.URL] = d.BytesSent
		}
		next[s.Name] = c
		prev, ok := h.last[s.Name]
		dt := now.Sub(prev.at).Seconds()
		if !ok || dt <= 0 || s.Frames < prev.frames {
			continue
		}
		p := sample{T: now.Unix(), FPS: float64(s.Frames-prev.frames) / dt}
		for url, b := range c.bytes {
			// a destination new since the last tick, or one whose counters began again, has no rate
			if pb, ok := prev.bytes[url]; ok && b >= pb {
				p.Kbps = max(p.Kbps, float64(b-pb)*8/1000/dt)
			}
		}
		points[s.Name] = p
	}
	h.last = next

	h.mu.Lock()
	defer h.mu.Unlock()
	if h.samples == nil {
		h.samples = map[string][]sample{}
	}
	for name := range h.samples {
		if _, ok := next[name]; !ok {
			delete(h.samples, name) // the channel is gone
		}
	}
	for name, p := range points {
		s := append(h.samples[name], p)
		if len(s) > keep {
			s = append(s[:0], s[len(s)-keep:]...)
		}
		h.samples[name] = s
	}
}

// Samples returns a copy of every channel's samples, oldest first.
func (h *history) Samples() map[string][]sample {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make(map[string][]sample, len(h.samples))
	for name, s := range h.samples {
		out[name] = append([]sample(nil), s...)
	}
	return out
}

// Latest returns a channel's newest sample; ok is false before its second tick.
func (h *history) Latest(channel string) (sample, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.samples[channel]
	if len(s) == 0 {
		return sample{}, false
	}
	return s[len(s)-1], true
}
