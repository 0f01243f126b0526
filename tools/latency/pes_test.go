package main

import (
	"slices"
	"testing"
	"time"
)

// tsPackets cuts a PES into the TS packets of pid, as ffmpeg does: a first one with the unit
// start flag (and the random_access_indicator when key), stuffing in the adaptation field of
// the last one.
func tsPackets(pid int, cc *int, pes []byte, key bool) []byte {
	var out []byte
	for first := true; len(pes) > 0 || first; first = false {
		p := make([]byte, 4, tsPacketSize)
		p[0], p[1], p[2] = 0x47, byte(pid>>8&0x1f), byte(pid)
		if first {
			p[1] |= 0x40
		}
		p[3] = byte(*cc & 0xf)
		*cc++
		var af []byte
		if first && key {
			af = []byte{0x40}
		}
		room := tsPacketSize - 4
		if af != nil {
			room -= 1 + len(af)
		}
		if len(pes) < room {
			if af == nil {
				af = []byte{}
				room--
			}
			if len(af) == 0 && len(pes) < room {
				af = append(af, 0) // flags
			}
			for len(pes) < tsPacketSize-4-1-len(af) {
				af = append(af, 0xff)
			}
		}
		if af != nil {
			p[3] |= 0x30
			p = append(p, byte(len(af)))
			p = append(p, af...)
		} else {
			p[3] |= 0x10
		}
		n := tsPacketSize - len(p)
		p = append(p, pes[:n]...)
		pes = pes[n:]
		out = append(out, p...)
	}
	return out
}

// pes returns a PES of size bytes in all with stream id sid and pts, with PES_packet_length
// unless unbounded.
func pes(sid byte, pts int64, size int, unbounded bool) []byte {
	b := make([]byte, size)
	copy(b, []byte{0, 0, 1, sid, 0, 0, 0x80, 0x80, 5,
		byte(0x21 | pts>>29&0x0e), byte(pts >> 22), byte(pts>>14 | 1), byte(pts >> 7), byte(pts<<1 | 1)})
	if !unbounded {
		b[4], b[5] = byte((size-6)>>8), byte(size-6)
	}
	return b
}

func TestPESTracker(t *testing.T) {
	const video, audio = 0x100, 0x101
	bigPTS := int64(1)<<33 - 3600 // past 2^32: the 33rd bit must be read
	var vcc, acc int
	var stream []byte
	// a small frame with a length, audio between, a large keyframe without, then a small one
	stream = append(stream, tsPackets(video, &vcc, pes(0xe0, 3600, 5000, false), false)...)
	stream = append(stream, tsPackets(audio, &acc, pes(0xc0, 3600, 400, false), false)...)
	stream = append(stream, tsPackets(video, &vcc, pes(0xe0, bigPTS, 70000, true), true)...)
	afterBig := len(stream)
	stream = append(stream, tsPackets(video, &vcc, pes(0xe0, bigPTS+3600, 300, false), false)...)

	want := []pesEnd{
		{PTS: 3600, Size: 5000},
		{PTS: bigPTS, Size: 70000, Key: true, Unbounded: true},
		{PTS: (bigPTS + 3600) & (1<<33 - 1), Size: 300}, // 33 bits wrap
	}
	// the offset in stream of each PES's last byte
	lastByte := []int{
		len(tsPackets(video, new(int), pes(0xe0, 3600, 5000, false), false)) - 1,
		afterBig - 1,
		len(stream) - 1,
	}

	for _, tc := range []struct {
		name  string
		sizes func(int) int // size of the write at offset i
	}{
		{"one write", func(int) int { return len(stream) }},
		{"a write per packet", func(int) int { return tsPacketSize }},
		{"writes across packets", func(i int) int { return 1000 + i%7 }},
		{"tiny writes", func(int) int { return 61 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []pesEnd
			tr := newPESTracker(func(p pesEnd) { got = append(got, p) })
			// write k covers [starts[k], starts[k+1]); it began at second 2k and returned at 2k+1
			var starts []int
			for i := 0; i < len(stream); {
				n := min(tc.sizes(i), len(stream)-i)
				starts = append(starts, i)
				w := len(starts) - 1
				tr.written(stream[i:i+n], time.Unix(int64(2*w), 0), time.Unix(int64(2*w+1), 0))
				i += n
			}
			writeOf := func(off int) int {
				k, found := slices.BinarySearch(starts, off)
				if !found {
					k--
				}
				return k
			}
			if len(got) != len(want) {
				t.Fatalf("got %d PES, want %d: %v", len(got), len(want), got)
			}
			for i, g := range got {
				w := want[i]
				k := writeOf(lastByte[i])
				w.Begun, w.Written = time.Unix(int64(2*k), 0), time.Unix(int64(2*k+1), 0)
				if w.Unbounded {
					// the next PES's first TS packet whole
					w.Next = time.Unix(int64(2*writeOf(afterBig+tsPacketSize-1)+1), 0)
				}
				if g != w {
					t.Errorf("PES %d: got %v, want %v", i, g, w)
				}
			}
		})
	}
}

func TestPESEndLine(t *testing.T) {
	for _, p := range []pesEnd{
		{PTS: 1<<33 - 1, Size: 70000, Key: true, Unbounded: true, Written: time.Unix(5, 7), Begun: time.Unix(5, 3),
			Next: time.Unix(6, 1)},
		{PTS: 3600, Size: 188, Written: time.Unix(5, 7), Begun: time.Unix(5, 3)},
	} {
		got, err := parsePESEnd(p.String())
		if err != nil {
			t.Fatal(err)
		}
		if !got.Written.Equal(p.Written) || !got.Begun.Equal(p.Begun) || !got.Next.Equal(p.Next) ||
			got.PTS != p.PTS || got.Size != p.Size || got.Key != p.Key || got.Unbounded != p.Unbounded {
			t.Errorf("%q read back as %v", p.String(), got)
		}
	}
}

func TestIsMPEGTS(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bool
	}{
		{[]string{"-re", "-i", "x.ts", "-c:v", "copy", "-f", "mpegts", "-flush_packets", "1", "pipe:1"}, true},
		{[]string{"-hide_banner", "-nostdin", "-encoders"}, false},
		{[]string{"-f", "lavfi", "-i", "anullsrc", "-f", "adts", "pipe:1"}, false},
		{[]string{"mpegts"}, false},
	} {
		if got := isMPEGTS(tc.args); got != tc.want {
			t.Errorf("isMPEGTS(%q) = %t, want %t", tc.args, got, tc.want)
		}
	}
}
