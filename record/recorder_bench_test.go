package record

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/liveinject/liveinject/demux"
)

// streamSecond returns one second of a 1080p30 8 Mbit/s channel as the demuxer gives it: 30
// video frames of 33 kB (the first a keyframe) between 47 AAC frames of 340 bytes (128 kbit/s).
func streamSecond() []*demux.Frame {
	p := &demux.Params{SPS: []byte{0x67, 0x64, 0x00, 0x28, 0xac}, PPS: []byte{0x68, 0xee, 0x3c, 0x80},
		Audio: &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2}}
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

// BenchmarkRecordStream writes one second of a 1080p30 8 Mbit/s channel per op to a segment,
// handed to the file in batches as the Recorder does: what recording costs the channel's
// process in CPU per second of stream (the segment's fsync at its close, once a minute, left
// out).
func BenchmarkRecordStream(b *testing.B) {
	src := streamSecond()
	var written atomic.Uint64
	seg, err := openSegment(filepath.Join(b.TempDir(), SegmentName(time.Now(), 1)), src[0].Params, 0, &written, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	var base int64
	for b.Loop() {
		for j, fr := range src {
			if err := seg.write(fr, base+fr.PTS, base+fr.DTS); err != nil {
				b.Fatal(err)
			}
			if j%20 == 19 {
				if err := seg.flush(); err != nil {
					b.Fatal(err)
				}
			}
		}
		base += 90000
	}
	b.StopTimer()
	if err := seg.close(); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(written.Load()) / max(base/90000, 1))
}
