package main

import (
	"fmt"
	"time"
)

const tsPacketSize = 188

// pesEnd is one video PES as the pass-through wrote it to liveinject.
type pesEnd struct {
	// PTS is the raw 33-bit timestamp of the PES header.
	PTS int64
	// Size is the PES's bytes, header included.
	Size int
	// Key is set when its first TS packet has the random_access_indicator (ffmpeg sets it on
	// keyframes).
	Key bool
	// Unbounded is set for a PES without PES_packet_length (ffmpeg leaves it out for video PES
	// of 64 KiB or more): its end shows only when the next PES on its PID starts.
	Unbounded bool
	// Written is when the write(2) that held its last TS packet returned, and Begun when it was
	// called: liveinject may read the bytes in between.
	Written, Begun time.Time
	// Next, for an unbounded PES, is when the write that held the next PES's first TS packet
	// returned: when a reader could know the PES had ended.
	Next time.Time
}

func (p pesEnd) String() string {
	var next int64
	if p.Unbounded {
		next = p.Next.UnixNano()
	}
	return fmt.Sprintf("%d %d %d %d %t %t %d", p.Written.UnixNano(), p.Begun.UnixNano(), p.PTS, p.Size, p.Key,
		p.Unbounded, next)
}

// parsePESEnd reads a line that String wrote.
func parsePESEnd(line string) (pesEnd, error) {
	var p pesEnd
	var written, begun, next int64
	if _, err := fmt.Sscanf(line, "%d %d %d %d %t %t %d", &written, &begun, &p.PTS, &p.Size, &p.Key, &p.Unbounded,
		&next); err != nil {
		return pesEnd{}, fmt.Errorf("%q: %w", line, err)
	}
	p.Written, p.Begun = time.Unix(0, written), time.Unix(0, begun)
	if p.Unbounded {
		p.Next = time.Unix(0, next)
	}
	return p, nil
}

// pesTracker follows the video PES of an MPEG-TS stream as it is written out and tells when
// each one's last TS packet was written. The video PID is the first one whose PES has a video
// stream_id (0xE0–0xEF).
type pesTracker struct {
	// onEnd is called with every video PES once its end is known.
	onEnd func(pesEnd)

	carry  []byte // the start of a TS packet that the next write completes
	pid    int    // the video PID, -1 until seen
	active bool   // a PES is being followed
	cur    pesEnd
	want   int // the PES's size from its header; 0 without a length
	// the write of the PES's latest TS packet: begun, returned
	lastBegun, lastAt time.Time
}

func newPESTracker(onEnd func(pesEnd)) *pesTracker {
	return &pesTracker{onEnd: onEnd, pid: -1}
}

// written takes the bytes of one write, called at begun and returned at at.
func (t *pesTracker) written(b []byte, begun, at time.Time) {
	if len(t.carry) > 0 {
		n := min(tsPacketSize-len(t.carry), len(b))
		t.carry = append(t.carry, b[:n]...)
		b = b[n:]
		if len(t.carry) < tsPacketSize {
			return
		}
		t.packet(t.carry, begun, at)
		t.carry = t.carry[:0]
	}
	for len(b) > 0 {
		if b[0] != 0x47 {
			b = b[1:] // out of step: ffmpeg's TS never is, but find the next sync byte anyway
			continue
		}
		if len(b) < tsPacketSize {
			t.carry = append(t.carry, b...)
			return
		}
		t.packet(b[:tsPacketSize], begun, at)
		b = b[tsPacketSize:]
	}
}

// packet takes one TS packet, whose write was called at begun and returned at at.
func (t *pesTracker) packet(p []byte, begun, at time.Time) {
	pid := int(p[1]&0x1f)<<8 | int(p[2])
	unitStart := p[1]&0x40 != 0
	afc := p[3] >> 4 & 3
	off := 4
	var random bool
	if afc&2 != 0 {
		n := int(p[4])
		random = n > 0 && p[5]&0x40 != 0
		off += 1 + n
	}
	if afc&1 == 0 || off > len(p) {
		return
	}
	payload := p[off:]
	if t.pid < 0 && unitStart && len(payload) >= 4 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1 &&
		payload[3]&0xf0 == 0xe0 {
		t.pid = pid
	}
	if pid != t.pid {
		return
	}
	if unitStart {
		if t.active && t.cur.Unbounded {
			t.cur.Written, t.cur.Begun, t.cur.Next = t.lastAt, t.lastBegun, at
			t.onEnd(t.cur)
		}
		// a PES with a length that did not reach it is damaged: not reported
		t.active = t.start(payload, random)
	} else if t.active {
		t.cur.Size += len(payload)
	}
	t.lastBegun, t.lastAt = begun, at
	if t.active && t.want > 0 && t.cur.Size >= t.want {
		t.cur.Written, t.cur.Begun = at, begun
		t.onEnd(t.cur)
		t.active = false
	}
}

// start reads the header of a PES that starts with payload; false when it has none that can be
// followed (ffmpeg writes the whole header in the PES's first TS packet).
func (t *pesTracker) start(payload []byte, random bool) bool {
	if len(payload) < 9 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1 || payload[7]&0x80 == 0 ||
		len(payload) < 14 {
		return false
	}
	pts := payload[9:14]
	t.cur = pesEnd{
		PTS: int64(pts[0]>>1&7)<<30 | int64(pts[1])<<22 | int64(pts[2]>>1)<<15 | int64(pts[3])<<7 |
			int64(pts[4]>>1),
		Size: len(payload),
		Key:  random,
	}
	t.want = 0
	if n := int(payload[4])<<8 | int(payload[5]); n != 0 {
		t.want = 6 + n
	}
	t.cur.Unbounded = t.want == 0
	return true
}
