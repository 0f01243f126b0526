package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// DefaultProbeTimeout is Reader's default ProbeTimeout: ample for a stream whose tracks all
// start within a few seconds, as an encoder's do.
const DefaultProbeTimeout = 10 * time.Second

// ErrProbeLimit is returned by Initialize when the tracks are not all known within its bounds.
var ErrProbeLimit = errors.New("tracks not found")

// mediacommonProbeLimit is the text of mediacommon's error when its Initialize has read 1 MiB
// without finding every track's first data; it has no error value to test for.
const mediacommonProbeLimit = "max recorded size exceeded"

// ErrNoTracks is returned by Initialize when the stream has neither H.264 video nor AAC audio.
var ErrNoTracks = errors.New("no H.264 video and no AAC audio track")

// ErrUnsupportedCodec is returned by Initialize when the stream's video is not H.264 or its audio
// not AAC: what RTSP servers such as DSS take and liveinject announces.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// otherCodec names a codec liveinject does not push, and whether it is video; ok is false for
// tracks that are neither (subtitles, metadata), which are ignored.
func otherCodec(c mpegts.Codec) (name string, video, ok bool) {
	switch c.(type) {
	case *mpegts.CodecH265:
		return "H.265/HEVC", true, true
	case *mpegts.CodecMPEG1Video:
		return "MPEG-1/2 video", true, true
	case *mpegts.CodecMPEG4Video:
		return "MPEG-4 part 2 video", true, true
	case *mpegts.CodecMPEG1Audio:
		return "MPEG-1 audio (MP2/MP3)", false, true
	case *mpegts.CodecAC3:
		return "AC-3", false, true
	case *mpegts.CodecOpus:
		return "Opus", false, true
	case *mpegts.CodecMPEG4AudioLATM:
		return "AAC in LATM", false, true
	}
	return "", false, false
}

// Reader reads MPEG-TS from R and hands complete frames to a callback.
//
// Nothing is emitted before the first IDR whose SPS and PPS are known, so that the first frame
// every consumer sees decodes; audio before that point is dropped too, to keep the tracks aligned.
type Reader struct {
	// R is the MPEG-TS byte stream, usually an ffmpeg child's stdout.
	R io.Reader
	// OnDecodeError is called for damage the reader recovers from (optional).
	OnDecodeError func(error)
	// ProbeTimeout bounds how long Initialize reads to find the tracks and their parameters: a
	// program that lists a track whose data never comes must not stall the channel forever.
	// (mediacommon also stops after 1 MiB, which is what it keeps in memory meanwhile.)
	// Default DefaultProbeTimeout.
	ProbeTimeout time.Duration

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
	probe := &probeReader{r: r.R, timeout: r.ProbeTimeout, start: time.Now()}
	if probe.timeout <= 0 {
		probe.timeout = DefaultProbeTimeout
	}
	r.ts = &mpegts.Reader{R: probe}
	err := r.ts.Initialize()
	probe.done = true
	if err != nil && (errors.Is(err, ErrProbeLimit) || strings.Contains(err.Error(), mediacommonProbeLimit)) {
		return fmt.Errorf("%w within %d bytes and %v: the program lists a track whose data does not come "+
			"(is every input there? a source without sound needs audio.encoder = \"none\")",
			ErrProbeLimit, probe.n, time.Since(probe.start).Round(time.Millisecond))
	}
	if err != nil {
		return fmt.Errorf("reading MPEG-TS program: %w", err)
	}

	var otherVideo, otherAudio string
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
			name, video, ok := otherCodec(c)
			switch {
			case ok && video && otherVideo == "":
				otherVideo = name
			case ok && !video && otherAudio == "":
				otherAudio = name
			}
		}
	}
	// A track that cannot be pushed is a mistake in the profile, not something to drop quietly:
	// a channel without its picture or its sound is no better than one that says why.
	switch {
	case r.video == nil && otherVideo != "":
		return fmt.Errorf("%w: the video is %s: liveinject pushes H.264: set video.encoder to libx264 "+
			"(or another H.264 encoder) instead of copy", ErrUnsupportedCodec, otherVideo)
	case r.audio == nil && otherAudio != "":
		return fmt.Errorf("%w: the audio is %s: liveinject pushes AAC: set audio.encoder to aac, "+
			"or to none to leave the sound out", ErrUnsupportedCodec, otherAudio)
	case r.video == nil && r.audio == nil:
		return ErrNoTracks
	}
	if r.params == nil {
		r.params = &Params{}
	}

	r.ts.OnDecodeError(r.decodeError)
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

// decodeError reports damage the reader recovers from.
func (r *Reader) decodeError(err error) {
	if r.OnDecodeError != nil {
		r.OnDecodeError(err)
	}
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

	// Damaged input can yield empty NAL units, or an access unit of nothing else: an empty one
	// must not reach a packetizer.
	au = slices.DeleteFunc(au, func(n []byte) bool { return len(n) == 0 })
	if len(au) == 0 {
		r.decodeError(errors.New("empty H.264 access unit dropped"))
		return nil
	}
	var sps, pps []byte
	key := false
	for _, nalu := range au {
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
	aus = slices.DeleteFunc(aus, func(a []byte) bool { return len(a) == 0 })
	if len(aus) == 0 {
		r.decodeError(errors.New("empty AAC frame dropped"))
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

// probeReader bounds how long mediacommon's Initialize reads, and counts what it reads. Once
// done is set it passes everything through.
type probeReader struct {
	r       io.Reader
	n       int64
	start   time.Time
	timeout time.Duration
	done    bool
}

func (p *probeReader) Read(b []byte) (int, error) {
	if p.done {
		return p.r.Read(b)
	}
	if time.Since(p.start) > p.timeout {
		return 0, ErrProbeLimit
	}
	n, err := p.r.Read(b)
	p.n += int64(n)
	return n, err
}
