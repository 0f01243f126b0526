package demux

import "bytes"

// tsWriter builds MPEG-TS packet by packet for the unit tests, keeping each PID's continuity
// counter, so that a test can lay out exactly the packets it needs (and damage them).
type tsWriter struct {
	cc map[uint16]byte
}

func newTSWriter() *tsWriter { return &tsWriter{cc: map[uint16]byte{}} }

// packet returns one TS packet with payload (at most 184 bytes, less an adaptation field) and
// an adaptation field of af bytes after its length byte (nil: none), stuffed to 188 bytes.
func (w *tsWriter) packet(pid uint16, unitStart bool, af []byte, payload []byte) []byte {
	pkt := make([]byte, 4, tsPacketSize)
	pkt[0] = tsSyncByte
	pkt[1] = byte(pid >> 8 & 0x1f)
	if unitStart {
		pkt[1] |= 0x40
	}
	pkt[2] = byte(pid)
	control := byte(0)
	if payload != nil {
		control |= 1
		pkt[3] = w.cc[pid]
		w.cc[pid] = (w.cc[pid] + 1) & 0xf
	} else {
		pkt[3] = (w.cc[pid] + 0xf) & 0xf // an adaptation field alone repeats the last counter
	}
	stuffing := tsPacketSize - 4 - len(payload)
	if af != nil || stuffing > 0 {
		control |= 2
		n := max(stuffing-1, len(af))
		field := make([]byte, 1+n)
		field[0] = byte(n)
		copy(field[1:], af)
		if len(af) == 0 && n > 0 {
			field[1] = 0 // no flags
			for i := 2; i < len(field); i++ {
				field[i] = 0xff
			}
		} else {
			for i := 1 + len(af); i < len(field); i++ {
				field[i] = 0xff
			}
		}
		pkt = append(pkt, field...)
	}
	pkt[3] |= control << 4
	pkt = append(pkt, payload...)
	if len(pkt) != tsPacketSize {
		panic("tsWriter: payload and adaptation field do not fit a packet")
	}
	return pkt
}

// section returns a PSI section with a CRC: table tableID, extension ext, version v, body.
func section(tableID byte, ext uint16, v byte, body []byte) []byte {
	n := 5 + len(body) + 4
	sec := []byte{tableID, 0xb0 | byte(n>>8), byte(n), byte(ext >> 8), byte(ext), 0xc1 | v<<1, 0, 0}
	sec = append(sec, body...)
	crc := crc32MPEG2(sec)
	return append(sec, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
}

// psi returns the packets of a section on pid, from a pointer field of 0.
func (w *tsWriter) psi(pid uint16, sec []byte) []byte {
	data := append([]byte{0}, sec...)
	var out []byte
	for first := true; len(data) > 0; first = false {
		n := min(len(data), 184)
		chunk := data[:n]
		if n < 184 {
			chunk = append(bytes.Clone(chunk), bytes.Repeat([]byte{0xff}, 184-n)...)
		}
		out = append(out, w.packet(pid, first, nil, chunk)...)
		data = data[n:]
	}
	return out
}

// pat returns a PAT for program 1 with its map on pmtPID.
func (w *tsWriter) pat(version byte, pmtPID uint16) []byte {
	return w.psi(0, section(0x00, 1, version, []byte{0, 1, 0xe0 | byte(pmtPID>>8), byte(pmtPID)}))
}

// pmt returns a PMT on pid listing streams (stream type and PID).
func (w *tsWriter) pmt(pid uint16, version byte, streams ...esInfo) []byte {
	body := []byte{0xe1, 0x00, 0xf0, 0x00} // PCR PID 0x100, no program info
	for _, s := range streams {
		body = append(body, s.streamType, 0xe0|byte(s.pid>>8), byte(s.pid), 0xf0, 0x00)
	}
	return w.psi(pid, section(0x02, 1, version, body))
}

// pesOptions shape a PES.
type pesOptions struct {
	unbounded bool  // PES_packet_length 0
	dts       int64 // -1: PTS only
	// af, if set, is the adaptation field (after its length byte) of the first packet.
	af []byte
}

// pes returns the packets of one PES on pid with its payload.
func (w *tsWriter) pes(pid uint16, streamID byte, pts int64, payload []byte, o pesOptions) []byte {
	hdr := []byte{0, 0, 1, streamID, 0, 0, 0x80, 0x80, 5}
	ts := func(marker byte, t int64) []byte {
		return []byte{marker<<4 | byte(t>>29&0x0e) | 1, byte(t >> 22), byte(t>>14) | 1, byte(t >> 7), byte(t<<1) | 1}
	}
	if o.dts >= 0 {
		hdr[7], hdr[8] = 0xc0, 10
		hdr = append(hdr, ts(3, pts)...)
		hdr = append(hdr, ts(1, o.dts)...)
	} else {
		hdr = append(hdr, ts(2, pts)...)
	}
	data := append(hdr, payload...)
	if !o.unbounded {
		n := len(data) - 6
		if n > 0xffff {
			panic("tsWriter: PES too long for a length")
		}
		data[4], data[5] = byte(n>>8), byte(n)
	}
	var out []byte
	for first := true; len(data) > 0; first = false {
		var af []byte
		room := 184
		if first && o.af != nil {
			af = o.af
			room -= 1 + len(af)
		}
		n := min(len(data), room)
		out = append(out, w.packet(pid, first, af, data[:n])...)
		data = data[n:]
	}
	return out
}

// Test streams: program map on 0x1000, H.264 on 0x100, AAC on 0x101, as ffmpeg lays them out.
const (
	testPMT   = 0x1000
	testVideo = 0x100
	testAudio = 0x101
)

var (
	testStreams = []esInfo{{pid: testVideo, streamType: streamTypeH264}, {pid: testAudio, streamType: streamTypeAAC}}
	// testSPS and testPPS are parameter sets as far as the reader looks (NAL unit types 7, 8).
	testSPS = []byte{0x67, 0x64, 0x00, 0x1e, 0xac, 0xd9}
	testPPS = []byte{0x68, 0xeb, 0xe3, 0xcb}
)

// annexB joins NAL units with 4-byte start codes, after an access unit delimiter.
func annexB(nalus ...[]byte) []byte {
	out := []byte{0, 0, 0, 1, 0x09, 0xf0}
	for _, n := range nalus {
		out = append(out, 0, 0, 0, 1)
		out = append(out, n...)
	}
	return out
}

// slice returns a NAL unit of type typ (5: IDR, 1: non-IDR) of n bytes, filled with seed's
// pattern and free of start codes.
func slice(typ byte, n int, seed byte) []byte {
	b := make([]byte, n)
	b[0] = 0x60 | typ
	for i := 1; i < n; i++ {
		b[i] = seed + byte(i%200) | 0x10
	}
	return b
}

// adts returns an ADTS frame (AAC LC, 48 kHz, stereo) around an access unit of n bytes.
func adts(n int, seed byte) []byte {
	l := 7 + n
	h := []byte{0xff, 0xf1, 0x4c, 0x80 | byte(l>>11), byte(l >> 3), byte(l<<5) | 0x1f, 0xfc}
	for i := range n {
		h = append(h, seed+byte(i))
	}
	return h
}

// header returns a PAT and a PMT for testStreams.
func (w *tsWriter) header() []byte {
	return append(w.pat(0, testPMT), w.pmt(testPMT, 0, testStreams...)...)
}
