package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// DefaultProbeTimeout is Reader's default ProbeTimeout: ample for a stream whose tracks all
// start within a few seconds, as an encoder's do.
const DefaultProbeTimeout = 10 * time.Second

// ErrProbeLimit is returned by Initialize when the tracks are not all known within its bounds.
var ErrProbeLimit = errors.New("tracks not found")

// probeLimit bounds what Initialize reads, and keeps to hand on again from Run, while it looks for
// the tracks: the bound mediacommon's reader had.
const probeLimit = 1 << 20

// ErrNoTracks is returned by Initialize when the stream has neither H.264 video nor AAC audio.
var ErrNoTracks = errors.New("no H.264 video and no AAC audio track")

// ErrUnsupportedCodec is returned by Initialize when the stream's video is not H.264 or its audio
// not AAC: what RTSP servers such as DSS take and liveinject announces.
var ErrUnsupportedCodec = errors.New("unsupported codec")

// Reader reads MPEG-TS from R and hands complete frames to a callback.
//
// It follows the first H.264 and the first AAC stream of the program, and hands a frame on as
// soon as its last byte has been read when its PES header gives its length, as ffmpeg writes it
// for every audio PES and every video PES under 64 KiB (with -omit_video_pes_length 0); a PES
// without a length waits for the start of the next one.
//
// Nothing is emitted before the first IDR whose SPS and PPS are known, so that the first frame
// every consumer sees decodes; audio that starts before that IDR's DTS is dropped too, to keep the
// tracks aligned. (Audio that starts at or after it but comes earlier in the stream goes out
// right after the IDR.)
type Reader struct {
	// R is the MPEG-TS byte stream, usually an ffmpeg child's stdout.
	R io.Reader
	// OnDecodeError is called for damage the reader recovers from (optional).
	OnDecodeError func(error)
	// ProbeTimeout bounds how long Initialize reads to find the tracks and their parameters: a
	// program that lists a track whose data never comes must not stall the channel forever.
	// Initialize also stops after 1 MiB, which is what it keeps in memory meanwhile.
	// Default DefaultProbeTimeout.
	ProbeTimeout time.Duration

	packets packetReader
	ts      tsDemuxer
	// hasVideo and hasAudio are the tracks found by Initialize; videoPID and audioPID are
	// where the program map in force carries them (-1: nowhere).
	hasVideo, hasAudio bool
	videoPID, audioPID int
	times              mpegts.TimeDecoder
	params             *Params
	// started is set once the first IDR with parameter sets has been emitted, at DTS start;
	// audioStarted once the first audio frame at or after it has. early holds the last audio
	// frames before the IDR is out, for those of them that start at or after its DTS.
	started, audioStarted bool
	start                 int64
	early                 []*Frame
	handle                func(*Frame) error
	// reused from one PES to the next
	nalus [][]byte
	adts  mpeg4audio.ADTSPackets
}

// Initialize reads ahead until the program map and the first data of every track are known and
// picks the first H.264 and the first AAC track. What it reads is kept, and read again by Run.
func (r *Reader) Initialize() error {
	probe := &probeReader{r: r.R, timeout: r.ProbeTimeout, start: time.Now()}
	if probe.timeout <= 0 {
		probe.timeout = DefaultProbeTimeout
	}
	r.packets.onSkip = r.skipped
	r.packets.reset(probe)
	r.ts = tsDemuxer{onPMT: r.probePMT, onPES: r.probePES, decodeError: r.decodeError}
	r.ts.initialize()
	r.videoPID, r.audioPID = -1, -1
	r.params = nil

	var err error
	for err == nil && !r.probed() {
		var pkt []byte
		if pkt, err = r.packets.next(); err == nil {
			err = r.ts.feed(pkt)
		}
	}
	switch {
	case errors.Is(err, ErrProbeLimit):
		return fmt.Errorf("%w within %d bytes and %v: the program lists a track whose data does not come "+
			"(is every input there? a source without sound needs audio.encoder = \"none\")",
			ErrProbeLimit, len(probe.data), time.Since(probe.start).Round(time.Millisecond))
	case errors.Is(err, ErrUnsupportedCodec), errors.Is(err, ErrNoTracks):
		return err
	case err != nil:
		return fmt.Errorf("reading MPEG-TS program: %w", err)
	}
	if r.params == nil {
		r.params = &Params{}
	}

	// Run starts again from the first byte, so that the frames read meanwhile are not lost.
	r.packets.reset(io.MultiReader(bytes.NewReader(probe.data), r.R))
	r.ts = tsDemuxer{onPMT: r.onPMT, onHeader: r.onHeader, onPES: r.onPES, decodeError: r.decodeError}
	r.ts.initialize()
	// Without video there is no IDR to wait for.
	r.started = !r.hasVideo
	return nil
}

// probed tells whether Initialize knows the tracks and the audio configuration.
func (r *Reader) probed() bool {
	return (r.hasVideo || r.hasAudio) && (!r.hasAudio || r.params != nil)
}

// pickTracks returns the PIDs of the first H.264 and the first AAC stream (-1: none).
func pickTracks(streams []esInfo) (video, audio int) {
	video, audio = -1, -1
	for _, es := range streams {
		switch {
		case es.streamType == streamTypeH264 && video < 0:
			video = int(es.pid)
		case es.streamType == streamTypeAAC && audio < 0:
			audio = int(es.pid)
		}
	}
	return video, audio
}

// probePMT picks the tracks from the program map, or says why there is nothing to push.
func (r *Reader) probePMT(streams []esInfo) error {
	video, audio := pickTracks(streams)
	var otherVideo, otherAudio string
	for _, es := range streams {
		name, isVideo, ok := otherCodec(es)
		switch {
		case ok && isVideo && otherVideo == "":
			otherVideo = name
		case ok && !isVideo && otherAudio == "":
			otherAudio = name
		}
	}
	// A track that cannot be pushed is a mistake in the profile, not something to drop quietly:
	// a channel without its picture or its sound is no better than one that says why.
	switch {
	case video < 0 && otherVideo != "":
		return fmt.Errorf("%w: the video is %s: liveinject pushes H.264: set video.encoder to libx264 "+
			"(or another H.264 encoder) instead of copy", ErrUnsupportedCodec, otherVideo)
	case audio < 0 && otherAudio != "":
		return fmt.Errorf("%w: the audio is %s: liveinject pushes AAC: set audio.encoder to aac, "+
			"or to none to leave the sound out", ErrUnsupportedCodec, otherAudio)
	case video < 0 && audio < 0:
		return ErrNoTracks
	}
	r.hasVideo, r.hasAudio = video >= 0, audio >= 0
	r.videoPID, r.audioPID = video, audio
	r.params = nil
	// Only the audio's first PES is needed now: its ADTS header carries the configuration.
	r.ts.follow([2]int{-1, audio})
	return nil
}

// probePES takes the AAC configuration from the first ADTS header of the audio track.
func (r *Reader) probePES(u *pesUnit) error {
	if int(u.pid) != r.audioPID || r.params != nil {
		return nil
	}
	r.adts = r.adts[:0]
	if err := r.adts.Unmarshal(u.data); err != nil {
		r.decodeError(fmt.Errorf("invalid ADTS: %w", err))
		return nil
	}
	pkt := r.adts[0]
	r.params = &Params{Audio: &mpeg4audio.AudioSpecificConfig{
		Type:          pkt.Type,
		SampleRate:    pkt.SampleRate,
		ChannelConfig: pkt.ChannelConfig,
		ChannelCount:  pkt.ChannelCount, // what mediacommon's own readers still fill in
	}}
	return nil
}

// onPMT follows the tracks to the PIDs where the program map in force carries them.
func (r *Reader) onPMT(streams []esInfo) error {
	video, audio := pickTracks(streams)
	if !r.hasVideo {
		video = -1
	} else if video < 0 {
		r.decodeError(errors.New("the program map lists no H.264 stream any more"))
	}
	if !r.hasAudio {
		audio = -1
	} else if audio < 0 {
		r.decodeError(errors.New("the program map lists no AAC stream any more"))
	}
	r.videoPID, r.audioPID = video, audio
	r.ts.follow([2]int{video, audio})
	return nil
}

// decodeError reports damage the reader recovers from.
func (r *Reader) decodeError(err error) {
	if r.OnDecodeError != nil {
		r.OnDecodeError(err)
	}
}

func (r *Reader) skipped(n int) {
	r.decodeError(fmt.Errorf("%d bytes skipped to find the next TS packet", n))
}

// HasVideo tells whether an H.264 track was found.
func (r *Reader) HasVideo() bool { return r.hasVideo }

// HasAudio tells whether an AAC track was found.
func (r *Reader) HasAudio() bool { return r.hasAudio }

// Run reads until the stream ends or fails, calling handle for every frame in stream order.
// It returns io.EOF at the end of the stream and handle's first error as is.
func (r *Reader) Run(handle func(*Frame) error) error {
	r.handle = handle
	for {
		pkt, err := r.packets.next()
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				if err := r.ts.flush(); err != nil {
					return err
				}
			}
			return err
		}
		if err := r.ts.feed(pkt); err != nil {
			return err
		}
	}
}

// onHeader unwraps the timestamps of every PES of our tracks in stream order, so that they count
// from the stream's first one, and so that the unwrapping sees every step, also of the frames
// that are dropped.
func (r *Reader) onHeader(u *pesUnit) {
	u.pts = r.times.Decode(u.pts)
	u.dts = r.times.Decode(u.dts)
}

func (r *Reader) onPES(u *pesUnit) error {
	switch int(u.pid) {
	case r.videoPID:
		return r.onVideo(u)
	case r.audioPID:
		return r.onAudio(u)
	}
	return nil
}

func (r *Reader) onVideo(u *pesUnit) error {
	au, err := splitAnnexB(u.data, r.nalus)
	r.nalus = au
	if err == nil && len(au) == 0 {
		err = errors.New("H.264 PES without NAL units")
	}
	if err != nil {
		r.decodeError(err)
		return nil
	}
	if au[0][0] == byte(h264.NALUTypeAccessUnitDelimiter) {
		au = au[1:]
	}
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
		r.start = u.dts
		err := r.handle(&Frame{
			Kind:   Video,
			PTS:    u.pts,
			DTS:    u.dts,
			Data:   own(au),
			Key:    true,
			Params: r.params,
		})
		early := r.early
		r.early = nil
		for _, f := range early {
			if err != nil {
				return err
			}
			err = r.emitAudio(f)
		}
		return err
	}

	return r.handle(&Frame{
		Kind:   Video,
		PTS:    u.pts,
		DTS:    u.dts,
		Data:   own(au),
		Key:    key,
		Params: r.params,
	})
}

// maxEarlyAudio bounds the audio frames kept before the first IDR: a second's worth at 48 kHz,
// which is more than an encoder puts between an IDR's timestamp and its end in the stream.
const maxEarlyAudio = 48

// own copies units, which point into the reader's buffers, into one new allocation, so that the
// frame's consumer may keep them: two allocations whatever their number. (bytes.Join does not
// clear the memory it is about to fill.)
func own(units [][]byte) [][]byte {
	data := bytes.Join(units, nil)
	out := make([][]byte, len(units))
	n := 0
	for i, u := range units {
		out[i] = data[n : n+len(u) : n+len(u)]
		n += len(u)
	}
	return out
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

func (r *Reader) onAudio(u *pesUnit) error {
	if u.pts != u.dts {
		r.decodeError(errors.New("AAC PES with a DTS other than its PTS dropped"))
		return nil
	}
	r.adts = r.adts[:0]
	if err := r.adts.Unmarshal(u.data); err != nil {
		r.decodeError(fmt.Errorf("invalid ADTS: %w", err))
		return nil
	}
	aus := r.nalus[:0]
	for _, pkt := range r.adts {
		aus = append(aus, pkt.AU)
	}
	r.nalus = aus
	f := &Frame{Kind: Audio, PTS: u.pts, DTS: u.pts, Data: own(aus)}
	if !r.started {
		// An audio PES that comes before the first IDR is out may start after that IDR's
		// DTS (the IDR is long, or comes out only at the start of the next video PES): keep
		// it until the IDR says.
		if len(r.early) == maxEarlyAudio {
			r.early = slices.Delete(r.early, 0, 1)
		}
		r.early = append(r.early, f)
		return nil
	}
	return r.emitAudio(f)
}

// emitAudio hands an audio frame on once the video has started, from the first IDR's DTS on.
func (r *Reader) emitAudio(f *Frame) error {
	if !r.audioStarted {
		if r.hasVideo && f.PTS < r.start {
			return nil
		}
		r.audioStarted = true
	}
	f.Params = r.params
	return r.handle(f)
}

// probeReader bounds how long and how far Initialize reads, and keeps what it reads.
type probeReader struct {
	r       io.Reader
	data    []byte
	start   time.Time
	timeout time.Duration
}

func (p *probeReader) Read(b []byte) (int, error) {
	if time.Since(p.start) > p.timeout {
		return 0, ErrProbeLimit
	}
	n, err := p.r.Read(b)
	if len(p.data)+n > probeLimit {
		return 0, ErrProbeLimit
	}
	p.data = append(p.data, b[:n]...)
	return n, err
}
