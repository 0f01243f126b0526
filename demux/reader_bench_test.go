package demux

import (
	"bytes"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// BenchmarkReader demuxes 5 s of 1080p25 H.264 at 8 Mbit/s with AAC, as a channel's pipe
// carries it, from memory; an op is one pass over the file. It reports the throughput (MB/s),
// the frames per pass, and the allocations per frame handed on (allocs/AU), all of them counted,
// Initialize's included.
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
	var frames, total int
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		r := &Reader{R: bytes.NewReader(data)}
		if err := r.Initialize(); err != nil {
			b.Fatal(err)
		}
		frames = 0
		r.Run(func(*Frame) error { frames++; return nil }) //nolint:errcheck // ends with io.EOF
		total += frames
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(frames), "frames/op")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/float64(total), "allocs/AU")
}

// BenchmarkReaderLatency plays 4 s of 720p25 TS into a pipe at the pace of a live encoder, one
// video access unit (with the packets around it) every 40 ms, and measures for every access
// unit the time from the moment its last TS packet is written to the frame coming out of the
// reader: the pipe's hand-over, the parsing and, for a PES without a length, the wait for the
// next one. It runs in real time: use -benchtime 1x.
func BenchmarkReaderLatency(b *testing.B) {
	_, data := makeTS(b, "4", "-s", "1280x720", "-c:v", "libx264", "-preset", "veryfast",
		"-tune", "zerolatency", "-b:v", "2500k", "-g", "50", "-c:a", "aac", "-ac", "2")
	// Cut the stream before the first packet of each video PES (head is what comes before the
	// first); in each piece, find the last packet of that PES.
	type piece struct {
		data []byte
		last int // offset of the PES's last packet
	}
	var starts []int
	var videoPID uint16
	for i := 0; i+tsPacketSize <= len(data); i += tsPacketSize {
		if s, _ := videoPESStart(data[i : i+tsPacketSize]); s {
			starts = append(starts, i)
			videoPID = uint16(data[i+1]&0x1f)<<8 | uint16(data[i+2])
		}
	}
	head := data[:starts[0]]
	pieces := make([]piece, len(starts))
	for k, s := range starts {
		end := len(data)
		if k+1 < len(starts) {
			end = starts[k+1]
		}
		pieces[k].data = data[s:end]
		for i := 0; i+tsPacketSize <= len(pieces[k].data); i += tsPacketSize {
			if uint16(pieces[k].data[i+1]&0x1f)<<8|uint16(pieces[k].data[i+2]) == videoPID {
				pieces[k].last = i
			}
		}
	}

	var lat []time.Duration
	for b.Loop() {
		pr, pw := io.Pipe()
		lastWrite := make([]time.Time, len(pieces))
		var mu sync.Mutex
		go func() {
			defer pw.Close()
			tick := time.NewTicker(40 * time.Millisecond)
			defer tick.Stop()
			if _, err := pw.Write(head); err != nil {
				return
			}
			for i, p := range pieces {
				if _, err := pw.Write(p.data[:p.last]); err != nil {
					return
				}
				mu.Lock()
				lastWrite[i] = time.Now()
				mu.Unlock()
				if _, err := pw.Write(p.data[p.last:]); err != nil {
					return
				}
				<-tick.C
			}
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
			// the first pieces arrive before Initialize has returned: leave them out
			if n >= 10 {
				lat = append(lat, now.Sub(lastWrite[n]))
			}
			mu.Unlock()
			n++
			return nil
		})
		if n != len(pieces) {
			b.Fatalf("%d video frames out of %d PES", n, len(pieces))
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// BenchmarkReaderLivePace demuxes 8 channels of 1080p25 H.264 at 8 Mbit/s with AAC as they
// arrive from 8 ffmpeg children that play the same file in real time into pipes (-re, -c copy,
// the supervisor's muxer flags), and reports this process's CPU time (user and system, from
// getrusage) over 5 s of wall time: per channel in percent of a core, and the channels one core
// would demux at that rate. Unlike BenchmarkReader's throughput, this counts what live input
// costs: a read and a wakeup per write of the encoder, timers, the GC. Real time: use -benchtime 1x.
func BenchmarkReaderLivePace(b *testing.B) {
	const channels = 8
	const window = 5 * time.Second
	file := fftest.TS(b, "12", "-s", "1920x1080", "-c:v", "libx264", "-preset", "ultrafast",
		"-tune", "zerolatency", "-b:v", "8M", "-minrate", "8M", "-maxrate", "8M", "-bufsize", "8M",
		"-g", "50", "-c:a", "aac", "-ac", "2")
	var perChannel float64
	for b.Loop() {
		var wg sync.WaitGroup
		var cmds []*exec.Cmd
		frames := make([]atomic.Int64, channels)
		started := make(chan struct{}, channels)
		for i := range channels {
			cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", file,
				"-c", "copy", "-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
				"-omit_video_pes_length", "0", "pipe:1")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			cmds = append(cmds, cmd)
			wg.Go(func() {
				r := &Reader{R: out}
				if err := r.Initialize(); err != nil {
					b.Error(err)
					return
				}
				r.Run(func(*Frame) error { //nolint:errcheck // ends when ffmpeg is killed
					if frames[i].Add(1) == 1 {
						started <- struct{}{}
					}
					return nil
				})
			})
		}
		// Start measuring once every channel delivers frames.
		deadline := time.After(10 * time.Second)
		for range channels {
			select {
			case <-started:
			case <-deadline:
				b.Fatal("a channel without frames after 10 s")
			}
		}
		cpu0, wall0 := cpuTime(b), time.Now()
		var before int64
		for ch := range frames {
			before += frames[ch].Load()
		}
		<-time.After(window)
		cpu1, wall1 := cpuTime(b), time.Now()
		var after int64
		for ch := range frames {
			after += frames[ch].Load()
		}
		for _, cmd := range cmds {
			cmd.Process.Kill() //nolint:errcheck // it may have ended
			cmd.Wait()         //nolint:errcheck // killed
		}
		wg.Wait()
		perChannel = (cpu1 - cpu0).Seconds() / wall1.Sub(wall0).Seconds() / channels
		b.ReportMetric(float64(after-before)/wall1.Sub(wall0).Seconds()/channels, "frames/s/channel")
	}
	b.ReportMetric(perChannel*100, "cpu%/channel")
	b.ReportMetric(1/perChannel, "channels/core")
}

// cpuTime returns this process's user and system CPU time.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
