package supervisor

import (
	"fmt"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/benchrig"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// relayChild is the test binary run as a relay (TestMain, with LIVEINJECT_RELAY=1), so that what
// receiving the channels costs is not counted as the pushing process's: it prints the relay's
// address, then answers each line on stdin with relay.Server.Paths as JSON, until stdin closes.
func relayChild() int {
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer rl.Close()
	if err := fftest.Serve(rl.Addr(), func() any { return rl.Paths() }); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// relayPackets returns the RTP packets a relayChild received per path with a publisher.
func relayPackets(b *testing.B, rl *fftest.Child) map[string]uint64 {
	b.Helper()
	var paths []relay.PathInfo
	rl.Ask(b, "paths", &paths)
	out := map[string]uint64{}
	for _, pi := range paths {
		if pi.Publishing {
			out[pi.Path] = pi.Packets
		}
	}
	return out
}

// BenchmarkChannelCPU8x720p measures what a channel costs on a real box: 8 channels, each an
// ffmpeg child that plays a 720p25 H.264 stream at a constant 4 Mbit/s with stereo AAC from a
// file in real time (-re, looped) and passes it through (encoder "copy") as MPEG-TS, demuxed and
// pushed over RTSP/TCP to a relay in another process. Once every channel has streamed 2 s, it
// takes the CPU time over a 10 s window: this process's (supervisor, demuxers, injectors:
// liveinject's Go side) per channel, and the ffmpeg children's per channel, in percent of one
// core. An op is the window: the plain `go test -bench` runs one, ns/op is left out.
func BenchmarkChannelCPU8x720p(b *testing.B) { benchmarkChannelCPU(b, 8) }

// BenchmarkChannelCPU32x720p is BenchmarkChannelCPU8x720p with 32 channels: a full rack's box,
// where the runtime's own scheduling (more Ps, sysmon) is measured against internal/procs and
// internal/rawio (BENCHMARKS.md, "Runtime tuning on a many-channel box").
func BenchmarkChannelCPU32x720p(b *testing.B) { benchmarkChannelCPU(b, 32) }

func benchmarkChannelCPU(b *testing.B, channels int) {
	const window = 10 * time.Second
	file := fftest.TS(b, "10", "-s", "1280x720", "-c:v", "libx264", "-preset", "ultrafast",
		"-tune", "zerolatency", "-b:v", "4M", "-minrate", "4M", "-maxrate", "4M", "-bufsize", "4M",
		"-x264-params", "nal-hrd=cbr", "-g", "50", "-c:a", "aac", "-ac", "2")
	rl := fftest.StartChild(b, "LIVEINJECT_RELAY=1", "-test.run=^$")
	var chs []profiles.Channel
	for i := range channels {
		p := testProfile()
		p.Name = fmt.Sprintf("c%d", i)
		p.Source = profiles.Source{Kind: profiles.SourceFile, Path: file}
		p.Video.Encoder, p.Audio.Encoder = profiles.EncoderCopy, profiles.EncoderCopy
		p.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Ready + "/" + p.Name + ".sdp", Transport: "tcp"}}
		chs = append(chs, p)
	}
	s := &Supervisor{FFmpeg: "ffmpeg", Channels: chs}
	runSupervisor(b, s)
	fftest.WaitFor(b, 60*time.Second, "every channel 2 s into its stream", func() bool {
		st := s.Status()
		if len(st) != channels {
			return false
		}
		for _, c := range st {
			if c.State != StateRunning || c.PID == 0 || c.Frames < 50 {
				return false
			}
		}
		return len(relayPackets(b, rl)) == channels
	})

	var goCPU, ffCPU, wall time.Duration
	var frames, packets uint64
	for b.Loop() {
		st0, pkts0 := s.Status(), relayPackets(b, rl)
		ff0 := childrenCPU(b, st0)
		go0, start := selfCPU(b), time.Now()
		<-time.After(window)
		go1, end := selfCPU(b), time.Now()
		st1 := s.Status()
		ff1 := childrenCPU(b, st1)
		pkts1 := relayPackets(b, rl)
		for i := range st1 {
			if st1[i].Starts != st0[i].Starts {
				b.Fatalf("channel %s restarted during the window: %s", st1[i].Name, st1[i].LastCause)
			}
			frames += st1[i].Frames + st1[i].AudioFrames - st0[i].Frames - st0[i].AudioFrames
		}
		for path, n := range pkts1 {
			packets += n - pkts0[path]
		}
		goCPU, ffCPU, wall = goCPU+go1-go0, ffCPU+ff1-ff0, wall+end.Sub(start)
	}
	perChannel := func(d time.Duration) float64 { return 100 * d.Seconds() / wall.Seconds() / float64(channels) }
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(perChannel(goCPU), "go-cpu-%/channel")
	b.ReportMetric(perChannel(ffCPU), "ffmpeg-cpu-%/channel")
	b.ReportMetric(float64(frames)/wall.Seconds()/float64(channels), "frames/s/channel")
	b.ReportMetric(float64(packets)/wall.Seconds()/float64(channels), "pkts/s/channel")
}

// selfCPU returns this process's user and system CPU time, its children's apart.
func selfCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// childrenCPU returns the user and system CPU time of the channels' running ffmpeg children.
func childrenCPU(b *testing.B, st []Status) time.Duration {
	var sum time.Duration
	for _, c := range st {
		d, err := benchrig.CPU(c.PID)
		if err != nil {
			b.Fatalf("channel %s: %v", c.Name, err)
		}
		sum += d
	}
	return sum
}
