package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// ErrNoTracks is returned by Initialize when the stream has neither H.264 video nor AAC audio.
var ErrNoTracks = errors.New("no H.264 video and no AAC audio track")

// Reader reads MPEG-TS from R and hands complete frames to a callback.
//
// Nothing is emitted before the first IDR whose SPS and PPS are known, so that the first frame
// every consumer sees decodes; audio before that point is dropped too, to keep the tracks aligned.
type Reader struct {
	// R is the MPEG-TS byte stream, usually an ffmpeg child's stdout.
	R io.Reader
	// OnDecodeError is called for damage the reader recovers from (optional).
	OnDecodeError func(error)

	ts     *mpegts.Reader
	video  *mpegts.Track
	audio  *mpegts.Track
	times  mpegts.TimeDecoder
	params *Params
	// started is set once the first IDR with parameter sets has been emitted.
	started bool
	handle  func(*Frame) error
}

// Initialize reads ahead until the program map and the first data of every track are known and
// picks the first H.264 and the first AAC track.
func (r *Reader) Initialize() error {
	r.ts = &mpegts.Reader{R: r.R}
	if err := r.ts.Initialize(); err != nil {
		return fmt.Errorf("reading MPEG-TS program: %w", err)
	}

	var others []string
	for _, t := range r.ts.Tracks() {
		switch c := t.Codec.(type) {
		case *mpegts.CodecH264:
			if r.video == nil {
				r.video = t
			}
		case *mpegts.CodecMPEG4Audio:
			if r.audio == nil {
				r.audio = t
				cfg := c.Config
				r.params = &Params{Audio: &cfg}
			}
		default:
			others = append(others, fmt.Sprintf("%T", c))
		}
	}
	if r.video == nil && r.audio == nil {
		if len(others) > 0 {
			return fmt.Errorf("%w (found %s): encode video with libx264 and audio with aac",
				ErrNoTracks, strings.Join(others, ", "))
		}
		return ErrNoTracks
	}
	if r.params == nil {
		r.params = &Params{}
	}

	onErr := r.OnDecodeError
	if onErr == nil {
		onErr = func(error) {}
	}
	r.ts.OnDecodeError(onErr)
	if r.video != nil {
		r.ts.OnDataH264(r.video, r.onVideo)
	}
	if r.audio != nil {
		r.ts.OnDataMPEG4Audio(r.audio, r.onAudio)
	}
	// Without video there is no IDR to wait for.
	r.started = r.video == nil
	return nil
}

// HasVideo and HasAudio tell which tracks were found.
func (r *Reader) HasVideo() bool { return r.video != nil }

// HasAudio tells whether an AAC track was found.
func (r *Reader) HasAudio() bool { return r.audio != nil }

// Run reads until the stream ends or fails, calling handle for every frame in stream order.
// It returns io.EOF at the end of the stream and handle's first error as is.
func (r *Reader) Run(handle func(*Frame) error) error {
	r.handle = handle
	for {
		if err := r.ts.Read(); err != nil {
			return err
		}
	}
}

func (r *Reader) onVideo(pts, dts int64, au [][]byte) error {
	// Timestamps are decoded even for dropped frames so that the 33-bit unwrapping sees every step.
	pts = r.times.Decode(pts)
	dts = r.times.Decode(dts)

	var sps, pps []byte
	key := false
	for _, nalu := range au {
		if len(nalu) == 0 {
			continue
		}
		switch h264.NALUType(nalu[0] & 0x1f) {
		case h264.NALUTypeSPS:
			sps = nalu
		case h264.NALUTypePPS:
			pps = nalu
		case h264.NALUTypeIDR:
			key = true
		}
	}
	r.updateParamSets(sps, pps)

	if !r.started {
		if !key || r.params.SPS == nil || r.params.PPS == nil {
			return nil
		}
		r.started = true
	}

	return r.handle(&Frame{
		Kind:   Video,
		PTS:    pts,
		DTS:    dts,
		Data:   au,
		Key:    key,
		Params: r.params,
	})
}

// updateParamSets replaces the current Params when the stream carries a different SPS or PPS.
func (r *Reader) updateParamSets(sps, pps []byte) {
	if (sps == nil || bytes.Equal(sps, r.params.SPS)) && (pps == nil || bytes.Equal(pps, r.params.PPS)) {
		return
	}
	p := *r.params
	if sps != nil {
		p.SPS = bytes.Clone(sps)
	}
	if pps != nil {
		p.PPS = bytes.Clone(pps)
	}
	r.params = &p
}

func (r *Reader) onAudio(pts int64, aus [][]byte) error {
	pts = r.times.Decode(pts)
	if !r.started {
		return nil
	}
	return r.handle(&Frame{
		Kind:   Audio,
		PTS:    pts,
		DTS:    pts,
		Data:   aus,
		Params: r.params,
	})
}
