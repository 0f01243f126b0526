package main

import (
	"testing"
	"time"
)

func TestMatch(t *testing.T) {
	t0 := time.Unix(1_800_000_000, 0)
	const frame = 40 * time.Millisecond
	// PES every 40 ms, PTS 3600 apart, from just below the 33-bit wrap; each written at its
	// time, every 50th a large keyframe
	written := func(i int) time.Time { return t0.Add(time.Duration(i) * frame) }
	var sent []pesEnd
	for i := range 200 {
		p := pesEnd{PTS: (1<<33 - 50*3600 + int64(i)*3600) & (1<<33 - 1), Size: 3000, Written: written(i)}
		p.Begun = p.Written.Add(-time.Microsecond)
		if i%50 == 0 {
			p.Key, p.Unbounded, p.Size, p.Next = true, true, 90000, written(i+1)
		}
		sent = append(sent, p)
	}
	const base = uint32(0xfffff000) // liveinject's random base: RTP time wraps too
	rtpOf := func(i int) uint32 { return base + uint32(i)*3600 }

	for _, tc := range []struct {
		name string
		// got builds what the receiver got, and the latency of frame i at it
		got       func() map[uint32]time.Time
		from      int // the first frame received
		latency   func(i int) time.Duration
		unmatched int
	}{
		{
			name: "steady",
			from: 0,
			latency: func(i int) time.Duration {
				if i%50 == 0 {
					return frame + time.Millisecond // a large keyframe waits for the next PES
				}
				return time.Millisecond
			},
		},
		{
			// the session starts at the second keyframe with the frames queued during its
			// setup, in a burst 300 ms late
			name: "late start",
			from: 50,
			latency: func(i int) time.Duration {
				if i < 58 {
					return 300*time.Millisecond + time.Duration(58-i)*frame
				}
				return 2 * time.Millisecond
			},
		},
		{
			// frames of another ffmpeg run, whose timestamps took another offset
			name:      "restart",
			from:      100,
			latency:   func(int) time.Duration { return 3 * time.Millisecond },
			unmatched: 7,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[uint32]time.Time{}
			for i := tc.from; i < len(sent); i++ {
				got[rtpOf(i)] = written(i).Add(tc.latency(i))
			}
			for k := range tc.unmatched {
				got[rtpOf(1000+k)+1234] = written(len(sent)).Add(time.Duration(k) * frame)
			}
			m, err := match(sent, got)
			if err != nil {
				t.Fatal(err)
			}
			if want := base - uint32(sent[0].PTS); m.offset != want {
				t.Errorf("offset %#x, want %#x", m.offset, want)
			}
			if m.unmatched != tc.unmatched || m.early != 0 || len(m.samples) != len(sent)-tc.from {
				t.Errorf("%d matched, %d unmatched, %d early; want %d, %d, 0", len(m.samples), m.unmatched, m.early,
					len(sent)-tc.from, tc.unmatched)
			}
			for _, s := range m.samples {
				i := int(((s.pes.PTS - sent[0].PTS) & (1<<33 - 1)) / 3600)
				if want := tc.latency(i); s.latency != want {
					t.Errorf("frame %d: latency %v, want %v", i, s.latency, want)
				}
			}
		})
	}
}

func TestMatchNothing(t *testing.T) {
	if _, err := match([]pesEnd{{PTS: 1, Written: time.Unix(1, 0)}}, nil); err == nil {
		t.Error("no frames received: no error")
	}
	got := map[uint32]time.Time{5: time.Unix(1, 0)}
	if _, err := match([]pesEnd{{PTS: 1, Written: time.Unix(2, 0)}}, got); err == nil {
		t.Error("a frame that arrived before anything was written: no error")
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.9, 90}, {0.99, 99}, {1, 100}, {0, 1}} {
		if got := percentile(d, tc.q); got != tc.want {
			t.Errorf("percentile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of none = %v", got)
	}
}
