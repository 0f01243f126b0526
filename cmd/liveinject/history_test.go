package main

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/supervisor"
)

// TestHistory feeds the sampler counters by hand: rates over each interval, the busiest
// destination's bytes, no rate across a counter that began again, at most Span of samples, and
// channels that are gone forgotten.
func TestHistory(t *testing.T) {
	var channels []supervisor.Status
	h := &history{Status: func() []supervisor.Status { return channels }, Interval: 2 * time.Second, Span: 10 * time.Second}
	status := func(name string, frames uint64, bytes ...uint64) supervisor.Status {
		s := supervisor.Status{Name: name, Frames: frames}
		for i, b := range bytes {
			s.Destinations = append(s.Destinations, inject.Stats{URL: string(rune('a' + i)), BytesSent: b})
		}
		return s
	}
	start := time.Unix(1_700_000_000, 0)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * h.Interval) }

	channels = []supervisor.Status{status("lobby", 0, 0, 0)}
	h.sample(at(0))
	if _, ok := h.Latest("lobby"); ok {
		t.Error("a rate after one sample")
	}
	// 50 frames and 500 000 bytes (2 Mbit/s) in 2 s to the busier destination
	channels = []supervisor.Status{status("lobby", 50, 500_000, 100_000), status("studio", 10)}
	h.sample(at(1))
	if p, ok := h.Latest("lobby"); !ok || p.FPS != 25 || p.Kbps != 2000 || p.T != at(1).Unix() {
		t.Errorf("lobby's sample %+v, %v; want 25 fps, 2000 kbit/s at %d", p, ok, at(1).Unix())
	}
	if _, ok := h.Latest("studio"); ok {
		t.Error("studio, new, has a rate")
	}
	// a destination whose counter began again (a reload) has no rate this time
	channels = []supervisor.Status{status("lobby", 100, 10, 350_000), status("studio", 70)}
	h.sample(at(2))
	if p, _ := h.Latest("lobby"); p.Kbps != 1000 {
		t.Errorf("lobby's kbit/s %v after destination a began again, want 1000 from b", p.Kbps)
	}
	if p, _ := h.Latest("studio"); p.FPS != 30 || p.Kbps != 0 {
		t.Errorf("studio's sample %+v, want 30 fps and no destination", p)
	}
	for i := 3; i < 12; i++ {
		channels = []supervisor.Status{status("lobby", uint64(100+50*(i-2)), 10, 350_000)}
		h.sample(at(i))
	}
	s := h.Samples()
	if n := len(s["lobby"]); n != 5 || s["lobby"][4].T != at(11).Unix() || s["lobby"][0].T != at(7).Unix() {
		t.Errorf("lobby keeps %d samples (%+v), want the 5 of the last 10 s", n, s["lobby"])
	}
	if _, ok := s["studio"]; ok {
		t.Error("studio is gone but its samples are kept")
	}
}
