package demux

import (
	"bytes"
	"os"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
)

// BenchmarkReader demuxes 5 s of 1080p25 H.264 at 8 Mbit/s with AAC, as a channel's pipe
// carries it; the figure per op is one pass over the file.
func BenchmarkReader(b *testing.B) {
	file := fftest.TS(b, "5", "-s", "1920x1080", "-c:v", "libx264", "-preset", "ultrafast",
		"-tune", "zerolatency", "-b:v", "8M", "-minrate", "8M", "-maxrate", "8M", "-bufsize", "8M",
		"-g", "50", "-c:a", "aac", "-ac", "2")
	data, err := os.ReadFile(file)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var frames int
	for b.Loop() {
		r := &Reader{R: bytes.NewReader(data)}
		if err := r.Initialize(); err != nil {
			b.Fatal(err)
		}
		frames = 0
		r.Run(func(*Frame) error { frames++; return nil }) //nolint:errcheck
	}
	b.ReportMetric(float64(frames), "frames/op")
}
