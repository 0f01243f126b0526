package record

import (
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
)

// BenchmarkRecordStream writes one second of a 1080p30 8 Mbit/s channel per op to a segment,
// handed to the file in batches as the Recorder does: what recording costs the channel's
// process in CPU per second of stream (the segment's fsync at its close, once a minute, left
// out).
func BenchmarkRecordStream(b *testing.B) {
	src := demuxtest.StreamSecond()
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
