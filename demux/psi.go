package demux

import (
	"errors"
	"fmt"
)

// Stream types of ISO/IEC 13818-1 table 2-34 (and ATSC A/52 for AC-3) that a box may meet.
const (
	streamTypeMPEG1Video = 0x01
	streamTypeMPEG2Video = 0x02
	streamTypeMPEG1Audio = 0x03
	streamTypeMPEG2Audio = 0x04
	streamTypePrivate    = 0x06
	streamTypeAAC        = 0x0f // ADTS
	streamTypeMPEG4Video = 0x10
	streamTypeAACLATM    = 0x11
	streamTypeH264       = 0x1b
	streamTypeH265       = 0x24
	streamTypeAC3        = 0x81
	streamTypeEAC3       = 0x87
)

// Descriptor tags that tell what a private-data stream (stream type 6) carries.
const (
	descriptorRegistration = 0x05
	descriptorDVBAC3       = 0x6a
	descriptorDVBEAC3      = 0x7a
)

// maxSectionSize bounds a PAT or PMT section (ISO/IEC 13818-1 2.4.4.4: 1021 bytes after the length).
const maxSectionSize = 3 + 1021

// esInfo is one elementary stream of a program map.
type esInfo struct {
	pid        uint16
	streamType uint8
	// codec names what the stream carries when it is neither H.264 nor AAC (see otherCodec).
	codec string
}

// otherCodec names a codec liveinject does not push, and whether it is video; ok is false for
// streams that are neither (subtitles, metadata), which are ignored.
func otherCodec(es esInfo) (name string, video, ok bool) {
	switch es.streamType {
	case streamTypeH265:
		return "H.265/HEVC", true, true
	case streamTypeMPEG1Video, streamTypeMPEG2Video:
		return "MPEG-1/2 video", true, true
	case streamTypeMPEG4Video:
		return "MPEG-4 part 2 video", true, true
	case streamTypeMPEG1Audio, streamTypeMPEG2Audio:
		return "MPEG-1 audio (MP2/MP3)", false, true
	case streamTypeAC3:
		return "AC-3", false, true
	case streamTypeEAC3:
		return "E-AC-3", false, true
	case streamTypeAACLATM:
		return "AAC in LATM", false, true
	case streamTypePrivate:
		if es.codec != "" {
			return es.codec, false, true
		}
	}
	return "", false, false
}

// privateCodec names the audio codec that the descriptors of a private-data stream announce.
func privateCodec(desc []byte) string {
	for len(desc) >= 2 {
		tag, n := desc[0], int(desc[1])
		if 2+n > len(desc) {
			return ""
		}
		body := desc[2 : 2+n]
		switch {
		case tag == descriptorRegistration && n >= 4:
			switch string(body[:4]) {
			case "Opus":
				return "Opus"
			case "AC-3":
				return "AC-3"
			case "EAC3":
				return "E-AC-3"
			}
		case tag == descriptorDVBAC3:
			return "AC-3"
		case tag == descriptorDVBEAC3:
			return "E-AC-3"
		}
		desc = desc[2+n:]
	}
	return ""
}

// errSectionCRC reports a PAT or PMT section that fails its CRC.
var errSectionCRC = errors.New("PSI section fails its CRC")

// checkSection checks a whole PSI section with the long syntax (table_id to CRC_32) and returns
// whether it applies now (current_next_indicator) and the body between the fixed header and the
// CRC. A new version is told by its CRC, so the version number is not needed.
func checkSection(sec []byte) (current bool, body []byte, err error) {
	if len(sec) < 12 || sec[1]&0x80 == 0 {
		return false, nil, fmt.Errorf("PSI section of table %#x too short or without syntax", sec[0])
	}
	if crc32MPEG2(sec) != 0 {
		return false, nil, fmt.Errorf("%w (table %#x)", errSectionCRC, sec[0])
	}
	return sec[5]&1 == 1, sec[8 : len(sec)-4], nil
}

// parsePAT returns the PID of the first program's map in a PAT section body.
func parsePAT(body []byte) (uint16, bool) {
	for ; len(body) >= 4; body = body[4:] {
		program := uint16(body[0])<<8 | uint16(body[1])
		if program != 0 { // program 0 points at the network information table
			return uint16(body[2]&0x1f)<<8 | uint16(body[3]), true
		}
	}
	return 0, false
}

// parsePMT returns the elementary streams of a PMT section body, appended to streams.
func parsePMT(body []byte, streams []esInfo) ([]esInfo, error) {
	if len(body) < 4 {
		return nil, errors.New("PMT too short")
	}
	infoLen := int(body[2]&0x0f)<<8 | int(body[3])
	if 4+infoLen > len(body) {
		return nil, errors.New("PMT program info longer than the section")
	}
	for es := body[4+infoLen:]; len(es) > 0; {
		if len(es) < 5 {
			return nil, errors.New("PMT stream entry cut short")
		}
		n := int(es[3]&0x0f)<<8 | int(es[4])
		if 5+n > len(es) {
			return nil, errors.New("PMT stream descriptors longer than the section")
		}
		info := esInfo{pid: uint16(es[1]&0x1f)<<8 | uint16(es[2]), streamType: es[0]}
		if info.streamType == streamTypePrivate {
			info.codec = privateCodec(es[5 : 5+n])
		}
		streams = append(streams, info)
		es = es[5+n:]
	}
	return streams, nil
}

// crcTable is the table of the CRC-32 of MPEG-2 systems (polynomial 0x04C11DB7, not reflected).
var crcTable = func() (t [256]uint32) {
	for i := range t {
		c := uint32(i) << 24
		for range 8 {
			if c&0x80000000 != 0 {
				c = c<<1 ^ 0x04c11db7
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()

// crc32MPEG2 returns the CRC of b; a section with its CRC_32 at the end gives 0.
func crc32MPEG2(b []byte) uint32 {
	crc := uint32(0xffffffff)
	for _, v := range b {
		crc = crc<<8 ^ crcTable[byte(crc>>24)^v]
	}
	return crc
}
