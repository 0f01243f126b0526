// Package demuxtest gives tests a channel's frames as its demuxer gives them: from a real test
// TS made by ffmpeg (Frames), or one made-up second of a 1080p30 channel (StreamSecond).
package demuxtest

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
)

// Frames demuxes a test TS of the given length (see fftest.TS, which extra goes to).
func Frames(t testing.TB, seconds string, extra ...string) []*demux.Frame {
	t.Helper()
	data, err := os.ReadFile(fftest.TS(t, seconds, extra...))
	if err != nil {
		t.Fatal(err)
	}
	r := &demux.Reader{R: bytes.NewReader(data)}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var out []*demux.Frame
	if err := r.Run(func(f *demux.Frame) error { out = append(out, f); return nil }); !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return out
}

// StreamSecond returns one second of a 1080p30 8 Mbit/s channel as the demuxer gives it: 30
// video frames of 33 kB (the first a keyframe) between 47 AAC frames of 340 bytes (128 kbit/s).
func StreamSecond() []*demux.Frame {
	p := &demux.Params{SPS: []byte{0x67, 0x64, 0x00, 0x28, 0xac}, PPS: []byte{0x68, 0xee, 0x3c, 0x80},
		Audio: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000,
			ChannelConfig: 2, ChannelCount: 2}}
	var out []*demux.Frame
	for i := range 30 {
		nalu := make([]byte, 33_000)
		nalu[0] = 0x41
		if i == 0 {
			nalu[0] = 0x65
		}
		out = append(out, &demux.Frame{Kind: demux.Video, PTS: int64(i) * 3000, DTS: int64(i) * 3000,
			Data: [][]byte{nalu}, Key: i == 0, Params: p})
		for range 3 {
			if len(out) < 30+47 && (len(out)-i)%2 == 1 {
				out = append(out, &demux.Frame{Kind: demux.Audio, PTS: int64(len(out)-i) * 1920,
					DTS: int64(len(out)-i) * 1920, Data: [][]byte{make([]byte, 340)}, Params: p})
			}
		}
	}
	return out
}
