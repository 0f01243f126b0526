// Package tsmux writes MPEG-TS: a program of one H.264 track, one AAC track or both, without an
// allocation per frame. The recorder writes its segments with it, and SRT destinations the
// stream they hand ffmpeg.
package tsmux

import (
	"fmt"
	"io"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Writer writes one stream's MPEG-TS (a recording's segment, an SRT session): a program of one H.264 track, one AAC track or both,
// laid out as mediacommon's mpegts.Writer lays it out (PIDs, PES headers, access unit
// delimiters, random access indicators, PCR, tables), so that players see the same stream.
// mediacommon's Writer cost a recording channel 38 % more CPU (issue 23): a fresh Annex B buffer
// per access unit and astits' bit-by-bit packet writer. This one reuses its buffers: no
// allocation per frame once they have grown to the largest frame.
type Writer struct {
	w io.Writer
	// videoPID and audioPID are 0 for a track the segment lacks; pcrPID is video's if there is
	// video (a segment then begins with a keyframe), else audio's.
	videoPID, audioPID, pcrPID uint16
	// adts is the ADTS header of the audio track, its frame length left to fill in.
	adts [7]byte
	// pat and pmt are whole packets, their continuity counter left to fill in.
	pat, pmt [PacketSize]byte
	// cc are the continuity counters of PAT, PMT, video and audio.
	patCC, pmtCC, videoCC, audioCC uint8
	// sinceTables counts the PES packets since the tables were last written; they go out again
	// before a video keyframe and every tablesEvery PES packets, for a player that starts
	// reading a file mid-way (as mediacommon's astits muxer does).
	sinceTables int
	// pcrCountdown counts the PES packets of the PCR track down to the next PCR.
	pcrCountdown int
	// payload is a PES packet's payload, out its packets, both reused.
	payload, out []byte
	pesHeader    [19]byte
}

// PacketSize is the size of an MPEG-TS packet.
const PacketSize = 188

const (
	tsVideoPID    = 256
	tsAudioPID    = 257
	tsPMTPID      = 0x1000
	tsVideoStream = 0xe0
	tsAudioStream = 0xc0
	tablesEvery   = 40
	// pcrEvery is how many PES packets of the PCR track carry one PCR (every keyframe does).
	pcrEvery = 3
	// pcrBefore is how far the PCR runs ahead of the DTS of the frame that carries it: 100 ms.
	pcrBefore = 90000 / 10
	tsWrap    = 1 << 33
)

// aacSampleRates are the sampling frequencies an ADTS header can name, by index.
var aacSampleRates = [...]int{96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350}

// New returns a writer of a program with video if video, and audio with config audio if it is
// not nil, to w. Each write goes to w in one Write call, of whole packets.
func New(w io.Writer, video bool, audio *mpeg4audio.AudioSpecificConfig) (*Writer, error) {
	t := &Writer{w: w, sinceTables: tablesEvery}
	if video {
		t.videoPID = tsVideoPID
		t.pcrPID = tsVideoPID
	}
	if audio != nil {
		t.audioPID = tsAudioPID
		if !video {
			t.pcrPID = tsAudioPID
		}
		rate := -1
		for i, r := range aacSampleRates {
			if r == audio.SampleRate {
				rate = i
			}
		}
		if rate < 0 {
			return nil, fmt.Errorf("AAC sample rate %d cannot go in ADTS", audio.SampleRate)
		}
		ch := audio.ChannelCount
		switch {
		case ch >= 1 && ch <= 6:
		case ch == 8:
			ch = 7
		default:
			return nil, fmt.Errorf("AAC with %d channels cannot go in ADTS", audio.ChannelCount)
		}
		if audio.Type < 1 || audio.Type > 4 {
			return nil, fmt.Errorf("AAC object type %d cannot go in ADTS", audio.Type)
		}
		// buffer fullness 0x7ff, as ffmpeg and mediacommon write it
		t.adts = [7]byte{0xff, 0xf1, byte(int(audio.Type-1)<<6 | rate<<2 | ch>>2&1), byte(ch&3) << 6, 0, 0x1f, 0xfc}
	}
	if t.pcrPID == 0 {
		return nil, fmt.Errorf("a program with neither video nor audio")
	}
	t.makeTables()
	return t, nil
}

// makeTables lays out the PAT (program 1 in the PMT's PID) and the PMT.
func (t *Writer) makeTables() {
	pat := []byte{0x00, 0xb0, 0, 0x00, 0x01, 0xc1, 0x00, 0x00, 0x00, 0x01, 0xe0 | tsPMTPID>>8, tsPMTPID & 0xff}
	t.pat = psiPacket(0, pat)
	pmt := []byte{0x02, 0xb0, 0, 0x00, 0x01, 0xc1, 0x00, 0x00, 0xe0 | byte(t.pcrPID>>8), byte(t.pcrPID), 0xf0, 0x00}
	if t.videoPID != 0 {
		pmt = append(pmt, 0x1b, 0xe0|byte(t.videoPID>>8), byte(t.videoPID), 0xf0, 0x00)
	}
	if t.audioPID != 0 {
		pmt = append(pmt, 0x0f, 0xe0|byte(t.audioPID>>8), byte(t.audioPID), 0xf0, 0x00)
	}
	t.pmt = psiPacket(tsPMTPID, pmt)
}

// psiPacket returns the packet on pid that carries section sec (its length filled in here,
// its CRC appended).
func psiPacket(pid uint16, sec []byte) [PacketSize]byte {
	n := len(sec) + 4 - 3 // what follows section_length, with the CRC
	sec[1] |= byte(n >> 8)
	sec[2] = byte(n)
	crc := crc32MPEG2(sec)
	sec = append(sec, byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc))
	var p [PacketSize]byte
	p[0], p[1], p[2], p[3] = 0x47, 0x40|byte(pid>>8), byte(pid), 0x10
	p[4] = 0 // pointer field
	copy(p[5:], sec)
	for i := 5 + len(sec); i < PacketSize; i++ {
		p[i] = 0xff
	}
	return p
}

// crc32MPEG2 is the CRC of PSI sections (polynomial 0x04c11db7, no reflection).
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc ^= uint32(v) << 24
		for range 8 {
			if crc&0x80000000 != 0 {
				crc = crc<<1 ^ 0x04c11db7
			} else {
				crc <<= 1
			}
		}
	}
	return crc
}

// writeTables appends the PAT and the PMT to t.out.
func (t *Writer) writeTables() {
	t.pat[3] = 0x10 | t.patCC
	t.patCC = (t.patCC + 1) & 0xf
	t.pmt[3] = 0x10 | t.pmtCC
	t.pmtCC = (t.pmtCC + 1) & 0xf
	t.out = append(t.out, t.pat[:]...)
	t.out = append(t.out, t.pmt[:]...)
	t.sinceTables = 0
}

// WriteH264 writes an access unit of NALUs au at pts and dts (90 kHz ticks, of which the low 33
// bits are written: they may wrap), with an access unit delimiter in
// front as mediacommon puts one (video.js, iOS and QuickTime want it). When sps and pps are not
// nil they go in front of the access unit's slices, and au's own SPS and PPS are left out.
func (t *Writer) WriteH264(pts, dts int64, sps, pps []byte, au [][]byte) error {
	if t.videoPID == 0 {
		return nil
	}
	t.payload = t.payload[:0]
	if len(au) == 0 || len(au[0]) == 0 || au[0][0] != 9 {
		t.payload = append(t.payload, 0, 0, 0, 1, 9, 0xf0)
	}
	idr := false
	if sps != nil {
		t.payload = append(append(t.payload, 0, 0, 0, 1), sps...)
		t.payload = append(append(t.payload, 0, 0, 0, 1), pps...)
	}
	for _, n := range au {
		typ := byte(0)
		if len(n) > 0 {
			typ = n[0] & 0x1f
		}
		if sps != nil && (typ == 7 || typ == 8) {
			continue
		}
		idr = idr || typ == 5
		t.payload = append(append(t.payload, 0, 0, 0, 1), n...)
	}
	pcr := idr || t.pcrCountdown == 0
	if pcr {
		t.pcrCountdown = pcrEvery
	}
	t.pcrCountdown--
	return t.writePES(t.videoPID, &t.videoCC, tsVideoStream, pts, dts, idr, pcr, idr)
}

// WriteAAC writes the AAC access units aus at pts (as WriteH264's), each behind its ADTS header,
// in one PES.
func (t *Writer) WriteAAC(pts int64, aus [][]byte) error {
	if t.audioPID == 0 {
		return nil
	}
	t.payload = t.payload[:0]
	for _, au := range aus {
		n := len(au) + 7
		if n > 0x1fff {
			return fmt.Errorf("an AAC frame of %d bytes is too long for ADTS", len(au))
		}
		h := t.adts
		h[3] |= byte(n >> 11 & 3)
		h[4] = byte(n >> 3)
		h[5] |= byte(n&7) << 5
		t.payload = append(append(t.payload, h[:]...), au...)
	}
	pcr := false
	if t.pcrPID == t.audioPID {
		pcr = t.pcrCountdown == 0
		if pcr {
			t.pcrCountdown = pcrEvery
		}
		t.pcrCountdown--
	}
	// every audio frame is a random access point
	return t.writePES(t.audioPID, &t.audioCC, tsAudioStream, pts, pts, true, pcr, false)
}

// putTimestamp writes a PTS or DTS of 33 bits (v wraps) with the 4-bit prefix.
func putTimestamp(b []byte, prefix byte, v int64) {
	u := uint64(v) & (tsWrap - 1)
	b[0] = prefix<<4 | byte(u>>29)&0x0e | 1
	b[1] = byte(u >> 22)
	b[2] = byte(u>>14) | 1
	b[3] = byte(u >> 7)
	b[4] = byte(u<<1) | 1
}

// writePES writes t.payload as a PES packet on pid, after the tables if they are due. The first
// TS packet carries the random access indicator if rai and a PCR at dts-100 ms if pcr; the last
// is filled up with adaptation field stuffing.
func (t *Writer) writePES(pid uint16, cc *uint8, stream byte, pts, dts int64, rai, pcr, forceTables bool) error {
	t.out = t.out[:0]
	t.sinceTables++
	if forceTables || t.sinceTables >= tablesEvery {
		t.writeTables()
	}
	h := t.pesHeader[:]
	h[0], h[1], h[2], h[3] = 0, 0, 1, stream
	h[6] = 0x80
	if pts == dts {
		h[7], h[8] = 0x80, 5
		putTimestamp(h[9:], 2, pts)
		h = h[:14]
	} else {
		h[7], h[8] = 0xc0, 10
		putTimestamp(h[9:], 3, pts)
		putTimestamp(h[14:], 1, dts)
	}
	length := 0 // unbounded: video
	if stream != tsVideoStream {
		if length = len(h) - 6 + len(t.payload); length > 0xffff {
			length = 0
		}
	}
	h[4], h[5] = byte(length>>8), byte(length)

	data := t.payload
	for first := true; first || len(data) > 0; first = false {
		start := len(t.out)
		t.out = append(t.out, make([]byte, PacketSize)...)
		p := t.out[start:]
		p[0], p[1], p[2] = 0x47, byte(pid>>8), byte(pid)
		// af is the adaptation field's size with its length byte (0: none)
		af := 0
		var flags byte
		header := h[:0]
		if first {
			p[1] |= 0x40
			header = h
			if rai {
				flags |= 0x40
			}
			if pcr {
				flags |= 0x10
			}
			if flags != 0 {
				af = 2
				if pcr {
					af += 6
				}
			}
		}
		n := min(PacketSize-4-af-len(header), len(data))
		if stuff := PacketSize - 4 - af - len(header) - n; stuff > 0 {
			af += stuff
		}
		p[3] = 0x10 | *cc
		*cc = (*cc + 1) & 0xf
		i := 4
		if af > 0 {
			p[3] |= 0x20
			p[4] = byte(af - 1)
			i = 5
			if af > 1 {
				p[5] = flags
				i = 6
				if pcr && first {
					b := uint64(dts-pcrBefore) & (tsWrap - 1)
					p[6], p[7], p[8], p[9] = byte(b>>25), byte(b>>17), byte(b>>9), byte(b>>1)
					p[10], p[11] = byte(b&1)<<7|0x7e, 0
					i = 12
				}
				for ; i < 4+af; i++ {
					p[i] = 0xff
				}
			}
		}
		i += copy(p[i:], header)
		copy(p[i:], data[:n])
		data = data[n:]
	}
	_, err := t.w.Write(t.out)
	return err
}
