package main

import (
	"errors"
	"math"
	"slices"
	"time"
)

// sample is one frame's latency: from the pass-through's write of its last byte to the arrival
// of its first RTP packet at the receiver.
type sample struct {
	pes     pesEnd
	arrived time.Time
	latency time.Duration
}

// matched is the result of pairing the PES written with the RTP frames received.
type matched struct {
	// offset is the RTP timestamp less the PTS, modulo 2^32: liveinject's random base and the
	// stream's first timestamp.
	offset uint32
	// samples are the frames received whose timestamp, less offset, is the PTS of a PES written,
	// in order of arrival.
	samples []sample
	// unmatched counts the frames received that no PES written has the timestamp of (after an
	// ffmpeg restart, channel time takes another offset).
	unmatched int
	// early counts the samples that arrived before their last byte was written, which only a
	// wrong offset or a clock step gives.
	early int
}

// match pairs the video PES the pass-through wrote with the video RTP timestamps the receiver
// got, and the time each arrived.
//
// liveinject's RTP timestamp is a random base plus the frame's PTS less the stream's first
// timestamp, so every frame of one ffmpeg run has the same offset between the two. The frame
// that arrived first fixes it, once it is known which PES it is: it must have been written
// before it arrived. Each of those PES gives a candidate offset; with frames every 40 ms, a
// candidate a frame too late has nearly every frame arrive before it was written, and one a
// frame (or a GOP) too early gives every frame 40 ms (or 2 s) more. So the offset taken is the
// one with the fewest frames early, then the most frames matched, then the smallest median
// latency.
func match(sent []pesEnd, got map[uint32]time.Time) (matched, error) {
	if len(got) == 0 {
		return matched{}, errors.New("no video frame arrived")
	}
	var first uint32
	var firstAt time.Time
	for ts, at := range got {
		if firstAt.IsZero() || at.Before(firstAt) {
			first, firstAt = ts, at
		}
	}
	byPTS := make(map[uint32]int, len(sent))
	for i, p := range sent {
		byPTS[uint32(p.PTS)] = i
	}

	var best matched
	bestMedian := time.Duration(math.MaxInt64)
	found := false
	for _, p := range sent {
		if p.Written.After(firstAt) {
			continue
		}
		m := pair(sent, byPTS, got, first-uint32(p.PTS))
		median := time.Duration(math.MaxInt64)
		if len(m.samples) > 0 {
			median = percentile(latencies(m.samples), 0.5)
		}
		better := !found || m.early < best.early ||
			m.early == best.early && (len(m.samples) > len(best.samples) ||
				len(m.samples) == len(best.samples) && median < bestMedian)
		if better {
			best, bestMedian, found = m, median, true
		}
	}
	if !found {
		return matched{}, errors.New("the first frame arrived before any PES was written")
	}
	return best, nil
}

// pair pairs the frames with offset.
func pair(sent []pesEnd, byPTS map[uint32]int, got map[uint32]time.Time, offset uint32) matched {
	m := matched{offset: offset}
	for ts, at := range got {
		i, ok := byPTS[ts-offset]
		if !ok {
			m.unmatched++
			continue
		}
		s := sample{pes: sent[i], arrived: at, latency: at.Sub(sent[i].Written)}
		if s.latency < 0 {
			m.early++
		}
		m.samples = append(m.samples, s)
	}
	slices.SortFunc(m.samples, func(a, b sample) int { return a.arrived.Compare(b.arrived) })
	return m
}

func latencies(samples []sample) []time.Duration {
	out := make([]time.Duration, len(samples))
	for i, s := range samples {
		out[i] = s.latency
	}
	return out
}

// percentile returns the q-quantile of d by nearest rank (q = 1 is the largest); d is sorted
// in place. 0 for none.
func percentile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[max(i, 0)]
}
