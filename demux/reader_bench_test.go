package demux

import (
	"bytes"
	"io"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

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

// BenchmarkReaderLatency plays 4 s of 720p25 TS into a pipe at the pace of a live encoder, one
// video access unit (with the packets around it) every 40 ms, and measures for every access
// unit the time from the write of its last TS packet to the frame coming out of the reader.
// It runs in real time: use -benchtime 1x.
func BenchmarkReaderLatency(b *testing.B) {
	_, data := makeTS(b, "4", "-s", "1280x720", "-c:v", "libx264", "-preset", "veryfast",
		"-tune", "zerolatency", "-b:v", "2500k", "-g", "50", "-c:a", "aac", "-ac", "2")
	// groups[i] holds video PES i (and what comes before it, for i = 0) and ends just before the
	// first packet of video PES i+1
	var groups [][]byte
	start, seen := 0, false
	for i := 0; i+188 <= len(data); i += 188 {
		if videoPESStart(data[i : i+188]) {
			if seen {
				groups = append(groups, data[start:i])
				start = i
			}
			seen = true
		}
	}
	groups = append(groups, data[start:])

	var lat []time.Duration
	for b.Loop() {
		pr, pw := io.Pipe()
		lastWrite := make([]time.Time, len(groups))
		var mu sync.Mutex
		go func() {
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			for i, g := range groups {
				if _, err := pw.Write(g); err != nil {
					return
				}
				mu.Lock()
				lastWrite[i] = time.Now()
				mu.Unlock()
				<-tick.C
			}
			pw.Close()
		}()
		r := &Reader{R: pr}
		if err := r.Initialize(); err != nil {
			b.Fatal(err)
		}
		n := 0
		r.Run(func(f *Frame) error { //nolint:errcheck // ends with io.EOF
			if f.Kind != Video {
				return nil
			}
			now := time.Now()
			mu.Lock()
			// the first groups arrive before Initialize has returned: leave them out
			if n >= 10 {
				lat = append(lat, now.Sub(lastWrite[n]))
			}
			mu.Unlock()
			n++
			return nil
		})
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
