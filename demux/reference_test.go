package demux

import (
	"bytes"
	"errors"
	"io"
	"slices"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"
)

// referenceRead demuxes data with mediacommon's mpegts.Reader (go-astits underneath) the way this
// package did before it had a TS reader of its own, and returns the frames in the order that
// reader emitted them: the reference of the differential tests. Its frames are built with the
// same rules (start at the first IDR with parameter sets, empty units dropped, new Params on a
// parameter set change).
func referenceRead(data []byte) ([]*Frame, error) {
	ts := &mpegts.Reader{R: bytes.NewReader(data)}
	if err := ts.Initialize(); err != nil {
		return nil, err
	}
	var video, audio *mpegts.Track
	var params *Params
	for _, t := range ts.Tracks() {
		switch c := t.Codec.(type) {
		case *mpegts.CodecH264:
			if video == nil {
				video = t
			}
		case *mpegts.CodecMPEG4Audio:
			if audio == nil {
				audio = t
				cfg := c.Config
				params = &Params{Audio: &cfg}
			}
		}
	}
	if video == nil && audio == nil {
		return nil, ErrNoTracks
	}
	if params == nil {
		params = &Params{}
	}
	var times mpegts.TimeDecoder
	started := video == nil
	var out []*Frame
	if video != nil {
		ts.OnDataH264(video, func(pts, dts int64, au [][]byte) error {
			pts = times.Decode(pts)
			dts = times.Decode(dts)
			au = slices.DeleteFunc(au, func(n []byte) bool { return len(n) == 0 })
			if len(au) == 0 {
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
			if (sps != nil && !bytes.Equal(sps, params.SPS)) || (pps != nil && !bytes.Equal(pps, params.PPS)) {
				p := *params
				if sps != nil {
					p.SPS = bytes.Clone(sps)
				}
				if pps != nil {
					p.PPS = bytes.Clone(pps)
				}
				params = &p
			}
			if !started {
				if !key || params.SPS == nil || params.PPS == nil {
					return nil
				}
				started = true
			}
			out = append(out, &Frame{Kind: Video, PTS: pts, DTS: dts, Data: au, Key: key, Params: params})
			return nil
		})
	}
	if audio != nil {
		ts.OnDataMPEG4Audio(audio, func(pts int64, aus [][]byte) error {
			pts = times.Decode(pts)
			if !started {
				return nil
			}
			out = append(out, &Frame{Kind: Audio, PTS: pts, DTS: pts, Data: aus, Params: params})
			return nil
		})
	}
	for {
		if err := ts.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, err
		}
	}
}
