package demux

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// demuxLog records what a tsDemuxer hands on.
type demuxLog struct {
	units []pesUnit // data cloned
	errs  []error
}

func (l *demuxLog) errText() string { return fmt.Sprint(l.errs) }

// newTestDemuxer returns a demuxer that follows the first H.264 and AAC streams of every PMT.
func newTestDemuxer() (*tsDemuxer, *demuxLog) {
	l := &demuxLog{}
	d := &tsDemuxer{}
	d.onPMT = func(s []esInfo) error {
		v, a := pickTracks(s)
		d.follow([2]int{v, a})
		return nil
	}
	d.onPES = func(u *pesUnit) error {
		c := *u
		c.data = bytes.Clone(u.data)
		l.units = append(l.units, c)
		return nil
	}
	d.decodeError = func(err error) { l.errs = append(l.errs, err) }
	d.initialize()
	return d, l
}

// feedAll feeds the packets of ts one by one; after, if set, is called after each.
func feedAll(t *testing.T, d *tsDemuxer, ts []byte, after func(i int)) {
	t.Helper()
	for i := 0; i+tsPacketSize <= len(ts); i += tsPacketSize {
		if err := d.feed(ts[i : i+tsPacketSize]); err != nil {
			t.Fatal(err)
		}
		if after != nil {
			after(i / tsPacketSize)
		}
	}
}

func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = seed + byte(i*7)
	}
	return b
}

// TestPESHandedOnWithItsLastByte lays out a PES with a length, one without and a last one
// without: the first goes out with its last packet, the second at the next unit start on its
// PID; the last, without a length, is dropped at the end of the stream (it may be cut short).
func TestPESHandedOnWithItsLastByte(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	bounded := pattern(800, 1)
	ts = append(ts, w.pes(testVideo, 0xe0, 1000, bounded, pesOptions{dts: -1})...)
	lastOfBounded := len(ts)/tsPacketSize - 1
	unbounded := pattern(900, 2)
	ts = append(ts, w.pes(testVideo, 0xe0, 4600, unbounded, pesOptions{dts: -1, unbounded: true})...)
	// audio in between does not end the video PES
	ts = append(ts, w.pes(testAudio, 0xc0, 4000, pattern(300, 3), pesOptions{dts: -1})...)
	nextStart := len(ts) / tsPacketSize
	ts = append(ts, w.pes(testVideo, 0xe0, 8200, pattern(100, 4), pesOptions{dts: -1, unbounded: true})...)

	d, l := newTestDemuxer()
	feedAll(t, d, ts, func(i int) {
		want := 0
		switch {
		case i >= nextStart:
			want = 2
		case i >= lastOfBounded:
			want = 1
		}
		n := 0
		for _, u := range l.units {
			if u.pid == testVideo {
				n++
			}
		}
		if n != want {
			t.Fatalf("after packet %d: %d video PES handed on, want %d", i, n, want)
		}
	})
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	var video [][]byte
	for _, u := range l.units {
		if u.pid == testVideo {
			video = append(video, u.data)
		}
	}
	// the last one, without a length, may be cut short by the end of the stream: dropped
	if len(video) != 2 || !bytes.Equal(video[0], bounded) || !bytes.Equal(video[1], unbounded) {
		t.Fatalf("video PES %d, want the first 2 written, byte for byte", len(video))
	}
	if len(l.errs) != 1 || !strings.Contains(l.errs[0].Error(), "without a length dropped at the end of the stream") {
		t.Errorf("errors %v, want the last PES reported dropped", l.errs)
	}
	if l.units[0].pts != 1000 || l.units[0].dts != 1000 {
		t.Errorf("first PES pts %d dts %d, want 1000", l.units[0].pts, l.units[0].dts)
	}
}

// TestContinuityCounterLoss drops a packet from a PES: that PES is dropped and reported, and
// the next one comes out whole.
func TestContinuityCounterLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		lose int // packet of the damaged PES to leave out
	}{
		{"middle packet", 2},
		{"last packet", 4},
		{"first packet", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTSWriter()
			ts := w.header()
			before := pattern(100, 3)
			ts = append(ts, w.pes(testVideo, 0xe0, 0, before, pesOptions{dts: -1})...)
			damaged := w.pes(testVideo, 0xe0, 1000, pattern(800, 1), pesOptions{dts: -1}) // 5 packets
			ts = append(ts, damaged[:tc.lose*tsPacketSize]...)
			ts = append(ts, damaged[(tc.lose+1)*tsPacketSize:]...)
			good := pattern(500, 2)
			ts = append(ts, w.pes(testVideo, 0xe0, 4600, good, pesOptions{dts: 1000})...)

			d, l := newTestDemuxer()
			feedAll(t, d, ts, nil)
			if err := d.flush(); err != nil {
				t.Fatal(err)
			}
			if len(l.units) != 2 || !bytes.Equal(l.units[0].data, before) || !bytes.Equal(l.units[1].data, good) ||
				l.units[1].pts != 4600 || l.units[1].dts != 1000 {
				t.Fatalf("%d PES handed on, want the one before and the one after, whole", len(l.units))
			}
			if !strings.Contains(l.errText(), "continuity counter") {
				t.Errorf("decode errors %v, want the lost packets reported", l.errs)
			}
		})
	}
}

// TestDuplicatePacketDropped repeats a packet, as ISO/IEC 13818-1 allows: the copy is dropped
// without complaint.
func TestDuplicatePacketDropped(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	payload := pattern(600, 5)
	p := w.pes(testVideo, 0xe0, 1000, payload, pesOptions{dts: -1})
	ts = append(ts, p[:2*tsPacketSize]...)
	ts = append(ts, p[tsPacketSize:]...) // packet 1 twice

	d, l := newTestDemuxer()
	feedAll(t, d, ts, nil)
	if len(l.units) != 1 || !bytes.Equal(l.units[0].data, payload) || len(l.errs) != 0 {
		t.Fatalf("%d PES, errors %v: want the PES once, whole, without errors", len(l.units), l.errs)
	}
}

// TestAdaptationFieldsAndStuffing puts a PCR in the first packet of a PES, packets with an
// adaptation field alone and null packets between its packets, and stuffing in its last: the
// payload comes out byte for byte.
func TestAdaptationFieldsAndStuffing(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	payload := pattern(1000, 6)
	pcr := []byte{0x10, 0, 0, 0x12, 0x34, 0x7e, 0} // PCR flag, 6 bytes of PCR
	p := w.pes(testVideo, 0xe0, 1000, payload, pesOptions{dts: -1, af: pcr})
	null := (&tsWriter{cc: map[uint16]byte{}}).packet(0x1fff, false, nil, bytes.Repeat([]byte{0xff}, 184))
	for i := 0; i < len(p); i += tsPacketSize {
		ts = append(ts, p[i:i+tsPacketSize]...)
		ts = append(ts, null...)
		ts = append(ts, w.packet(testVideo, false, pcr, nil)...) // adaptation field alone
	}

	d, l := newTestDemuxer()
	feedAll(t, d, ts, nil)
	if len(l.units) != 1 || !bytes.Equal(l.units[0].data, payload) || len(l.errs) != 0 {
		t.Fatalf("%d PES, errors %v: want the PES whole, without errors", len(l.units), l.errs)
	}
}

// TestPESOverManyPackets puts together the longest PES a length allows, 350 packets.
func TestPESOverManyPackets(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	payload := pattern(0xffff-13, 7)
	ts = append(ts, w.pes(testVideo, 0xe0, 1000, payload, pesOptions{dts: 1000 - 3600})...)

	d, l := newTestDemuxer()
	feedAll(t, d, ts, nil)
	if len(l.units) != 1 || !bytes.Equal(l.units[0].data, payload) || len(l.errs) != 0 {
		t.Fatalf("%d PES, errors %v: want the PES whole, without errors", len(l.units), l.errs)
	}
}

// TestLargeUnboundedPESThenTinyOne writes an IDR over 64 KiB (no length) followed by a P frame
// in a single packet (with its length), as a still scene gives: both come out, in order, whole;
// go-astits pull request 78 loses the first. The tiny one goes out with its packet; the large one
// after it ends with the stream and is dropped.
func TestLargeUnboundedPESThenTinyOne(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	large := pattern(200_000, 8)
	tiny := pattern(40, 9)
	ts = append(ts, w.pes(testVideo, 0xe0, 1000, large, pesOptions{dts: -1, unbounded: true})...)
	tinyPacket := len(ts) / tsPacketSize
	ts = append(ts, w.pes(testVideo, 0xe0, 4600, tiny, pesOptions{dts: -1})...)
	if len(ts)/tsPacketSize != tinyPacket+1 {
		t.Fatal("the tiny PES does not fit one packet")
	}
	ts = append(ts, w.pes(testVideo, 0xe0, 8200, large, pesOptions{dts: -1, unbounded: true})...)

	d, l := newTestDemuxer()
	feedAll(t, d, ts, func(i int) {
		if i == tinyPacket && len(l.units) != 2 {
			t.Fatalf("after the tiny PES's packet: %d PES handed on, want 2", len(l.units))
		}
	})
	if err := d.flush(); err != nil {
		t.Fatal(err)
	}
	// the second large one, without a length, ends with the stream: dropped, it may be cut short
	if len(l.units) != 2 || !bytes.Equal(l.units[0].data, large) || !bytes.Equal(l.units[1].data, tiny) {
		t.Fatalf("%d PES, want large, tiny, whole", len(l.units))
	}
	if l.units[0].pts != 1000 || l.units[1].pts != 4600 {
		t.Errorf("timestamps %d %d", l.units[0].pts, l.units[1].pts)
	}
}

// TestSectionOverTwoPackets reads a PMT that does not fit one packet.
func TestSectionOverTwoPackets(t *testing.T) {
	w := newTSWriter()
	var streams []esInfo
	for i := range 40 { // 40 streams of 5 bytes: 200 bytes of entries
		streams = append(streams, esInfo{pid: uint16(0x200 + i), streamType: 0x06})
	}
	streams = append(streams, testStreams...)
	ts := append(w.pat(0, testPMT), w.pmt(testPMT, 0, streams...)...)
	if len(ts) != 3*tsPacketSize {
		t.Fatalf("PAT and PMT in %d packets, want 3", len(ts)/tsPacketSize)
	}
	payload := pattern(300, 1)
	ts = append(ts, w.pes(testAudio, 0xc0, 1000, payload, pesOptions{dts: -1})...)

	d, l := newTestDemuxer()
	feedAll(t, d, ts, nil)
	if len(l.units) != 1 || !bytes.Equal(l.units[0].data, payload) || len(l.errs) != 0 {
		t.Fatalf("%d PES, errors %v: want the audio PES", len(l.units), l.errs)
	}
}

// TestDamagedSectionIgnored flips a bit in a PMT: its CRC fails, it is reported and not used.
func TestDamagedSectionIgnored(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	ts[tsPacketSize+10] ^= 0x04 // in the PMT
	ts = append(ts, w.pes(testAudio, 0xc0, 1000, pattern(300, 1), pesOptions{dts: -1})...)
	d, l := newTestDemuxer()
	feedAll(t, d, ts, nil)
	if len(l.units) != 0 || !strings.Contains(l.errText(), "CRC") {
		t.Fatalf("%d PES, errors %v: want none, and the CRC failure", len(l.units), l.errs)
	}
}

// TestNoAllocationPerPacket checks that, once its buffers have grown, the demuxer takes TS
// packets apart without allocating: PAT and PMT repeated, PES with and without a length over
// many packets, null packets.
func TestNoAllocationPerPacket(t *testing.T) {
	w := newTSWriter()
	part := func() []byte {
		ts := w.header()
		for i := range 10 {
			ts = append(ts, w.pes(testVideo, 0xe0, int64(i)*3600, pattern(20_000, byte(i)), pesOptions{dts: -1})...)
			ts = append(ts, w.pes(testVideo, 0xe0, int64(i)*3600+1800, pattern(90_000, byte(i)), pesOptions{dts: -1, unbounded: true})...)
			ts = append(ts, w.pes(testAudio, 0xc0, int64(i)*3600, pattern(400, byte(i)), pesOptions{dts: -1})...)
			ts = append(ts, (&tsWriter{cc: map[uint16]byte{}}).packet(0x1fff, false, nil, bytes.Repeat([]byte{0xff}, 184))...)
		}
		return ts
	}
	parts := [][]byte{part(), part(), part()}
	d, l := newTestDemuxer()
	units := 0
	d.onPES = func(*pesUnit) error { units++; return nil }
	feed := func() {
		ts := parts[0]
		parts = parts[1:]
		for i := 0; i+tsPacketSize <= len(ts); i += tsPacketSize {
			if err := d.feed(ts[i : i+tsPacketSize]); err != nil {
				t.Fatal(err)
			}
		}
	}
	feed() // the buffers grow
	packets := len(parts[0]) / tsPacketSize
	if allocs := testing.AllocsPerRun(1, feed); allocs != 0 {
		t.Errorf("%v allocations for %d packets", allocs, packets)
	}
	if units != 3*30-1 || len(l.errs) != 0 {
		t.Errorf("%d PES handed on, errors %v: want %d and none", units, l.errs, 3*30-1)
	}
}
