// Package demux turns the MPEG-TS that an ffmpeg child writes on its pipe into H.264 access units
// and AAC frames, with their parameter sets and unwrapped timestamps.
package demux

import (
	"bytes"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// Kind tells a video frame from an audio frame.
type Kind int

// Kinds of frames.
const (
	Video Kind = iota
	Audio
)

func (k Kind) String() string {
	if k == Video {
		return "video"
	}
	return "audio"
}

// Params are the codec parameters in force for a frame. A Params value is never modified once a
// frame carries it: a change of parameters comes as a new value, so a consumer can spot it by
// comparing pointers and confirm it with Equal.
type Params struct {
	// SPS and PPS of the H.264 track, taken from the stream itself; nil without video.
	SPS, PPS []byte
	// Audio is the AAC AudioSpecificConfig; nil without audio.
	Audio *mpeg4audio.AudioSpecificConfig
}

// Equal reports whether p and o describe the same codec setup, which needs no new SDP.
func (p *Params) Equal(o *Params) bool {
	if p == o {
		return true
	}
	if p == nil || o == nil {
		return false
	}
	if !bytes.Equal(p.SPS, o.SPS) || !bytes.Equal(p.PPS, o.PPS) {
		return false
	}
	if (p.Audio == nil) != (o.Audio == nil) {
		return false
	}
	return p.Audio == nil || *p.Audio == *o.Audio
}

// Frame is one H.264 access unit or one PES worth of AAC frames.
//
// A Frame and everything it points to belong to whoever receives it: the Reader never touches
// them again, and its bytes share no memory with the Reader's buffers, so a consumer may queue
// it or keep it (as the fan-out keeps the last keyframe) for as long as it likes. Each frame's
// units live in one allocation of their own.
type Frame struct {
	Kind Kind
	// PTS and DTS are in 90 kHz units, unwrapped from MPEG-TS's 33 bits, counted from the stream's
	// first timestamp (so they may start slightly negative for the track that comes second).
	// DTS equals PTS for audio.
	PTS, DTS int64
	// Data holds the NALUs of a video access unit (no start codes, no access unit delimiter) or
	// the raw AAC access units of an audio frame (no ADTS headers).
	Data [][]byte
	// Key is true for a video access unit that starts a GOP (IDR).
	Key bool
	// Params are the parameters this frame decodes with.
	Params *Params
}

// ParameterSetsIn reports whether the H.264 access unit au carries an SPS and a PPS of its own:
// an IDR without them needs its Params' in band where a player may start (a destination that
// connects, a recorded segment).
func ParameterSetsIn(au [][]byte) (sps, pps bool) {
	for _, n := range au {
		if len(n) == 0 {
			continue
		}
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = true
		case h264.NALUTypePPS:
			pps = true
		}
	}
	return sps, pps
}
