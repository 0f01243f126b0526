package inject

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
)

// The benchmarks push to a discard RTSP server in a child process (this test binary again), so
// that the CPU time and allocations they measure are the pusher's alone.

// TestHelperDiscardServer is the child: a discardServer that prints its address, then answers
// each line on stdin with the packets received per path, as JSON, until stdin closes.
func TestHelperDiscardServer(t *testing.T) {
	if os.Getenv("LIVEINJECT_DISCARD_SERVER") != "1" {
		return
	}
	s := startDiscardServer(t, nil)
	fmt.Println(s.addr)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		counts := map[string]uint64{}
		s.mu.Lock()
		for path, c := range s.packets {
			counts[path] = c.Load()
		}
		s.mu.Unlock()
		b, err := json.Marshal(counts)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(string(b))
	}
}

// discardProcess is a running TestHelperDiscardServer.
type discardProcess struct {
	addr string
	in   io.WriteCloser
	out  *bufio.Reader
}

func startDiscardProcess(b *testing.B) *discardProcess {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperDiscardServer$")
	cmd.Env = append(os.Environ(), "LIVEINJECT_DISCARD_SERVER=1")
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close()
		cmd.Wait() //nolint:errcheck // it ends when stdin closes
	})
	p := &discardProcess{in: in, out: bufio.NewReader(out)}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatalf("discard server: %v", err)
	}
	p.addr = strings.TrimSpace(line)
	return p
}

// received returns the RTP packets the server received per path (without the leading slash).
func (p *discardProcess) received(b *testing.B) map[string]uint64 {
	b.Helper()
	if _, err := fmt.Fprintln(p.in, "counts"); err != nil {
		b.Fatal(err)
	}
	line, err := p.out.ReadString('\n')
	if err != nil {
		b.Fatal(err)
	}
	var counts map[string]uint64
	if err := json.Unmarshal([]byte(line), &counts); err != nil {
		b.Fatal(err)
	}
	return counts
}

// benchFanout starts a Fanout with n destinations at the discard server, all recording once the
// first frame, fr[0], has been written.
func benchFanout(b *testing.B, srv *discardProcess, n int, fr []*demux.Frame) (*Fanout, []string) {
	b.Helper()
	paths := make([]string, n)
	targets := make([]Target, n)
	for i := range targets {
		paths[i] = fmt.Sprintf("n%d-%d.sdp", n, i)
		targets[i] = Target{URL: "rtsp://" + srv.addr + "/" + paths[i]}
	}
	f := &Fanout{Channel: "bench", Targets: targets}
	if err := f.Initialize(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.Close)
	if err := f.WriteFrame(fr[0]); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		fftest.WaitFor(b, 10*time.Second, "every destination recording", func() bool {
			return f.Stats()[i].State == StateRecording
		})
	}
	return f, paths
}

// cbrFrames is a channel at a constant 4 Mbit/s (filler included), 4 s long.
func cbrFrames(b *testing.B) []*demux.Frame {
	return frames(b, "4", "-c:v", "libx264", "-tune", "zerolatency", "-g", "50", "-b:v", "4M", "-minrate", "4M",
		"-maxrate", "4M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-ac", "2")
}

// BenchmarkFanoutLoad pushes a 4 Mbit/s channel in real time to 1, 10, 50 and 100 destinations; an
// op is one second of the stream. cpu-%/dest is the process's CPU time (user + system) per
// destination, in percent of one core; delivered-% the share of the packets offered that the
// worst-served destination's server received.
func BenchmarkFanoutLoad(b *testing.B) {
	fr := cbrFrames(b)
	srv := startDiscardProcess(b)
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("dests=%d", n), func(b *testing.B) {
			f, paths := benchFanout(b, srv, n, fr)
			before := cpuTime()
			b.ResetTimer()
			start := time.Now()
			pace(b, f, fr, start, time.Duration(b.N)*time.Second)
			b.StopTimer()
			cpu := cpuTime() - before
			wall := time.Since(start)
			f.Close() // TEARDOWN after the last packet

			// The last packets may still be on their way through the server.
			var counts map[string]uint64
			arrived := func() bool {
				counts = srv.received(b)
				for i, d := range f.dests {
					if counts[paths[i]] < d.offered.Load() {
						return false
					}
				}
				return true
			}
			tick := time.NewTicker(10 * time.Millisecond)
			defer tick.Stop()
			for deadline := time.Now().Add(5 * time.Second); !arrived() && time.Now().Before(deadline); {
				<-tick.C
			}
			delivered := 1.0
			var offered uint64
			for i, d := range f.dests {
				offered += d.offered.Load()
				delivered = min(delivered, float64(counts[paths[i]])/float64(d.offered.Load()))
			}
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu-%/dest")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			b.ReportMetric(100*delivered, "delivered-%")
			b.ReportMetric(float64(offered)/float64(n)/wall.Seconds(), "pkts/s/dest")
		})
	}
}

// pace writes frames round and round at their own pace, from start, for d.
func pace(b *testing.B, f *Fanout, fr []*demux.Frame, start time.Time, d time.Duration) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	span := time.Duration(fr[len(fr)-1].DTS-fr[0].DTS)*time.Second/90000 + 40*time.Millisecond
	for at := time.Duration(0); ; {
		for _, x := range fr {
			t := at + time.Duration(x.DTS-fr[0].DTS)*time.Second/90000
			if t >= d {
				return
			}
			timer.Reset(time.Until(start.Add(t)))
			<-timer.C
			if err := f.WriteFrame(x); err != nil {
				b.Fatal(err)
			}
		}
		at += span
		f.Discontinuity()
	}
}

// cpuTime returns the CPU time the process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkWriteFrame writes frames as fast as n destinations hand them on to their clients;
// an op is one frame. allocs/pkt/dest counts the process's allocations per packet and
// destination: the channel's packetizing, spread over the destinations, and each destination's
// writing.
func BenchmarkWriteFrame(b *testing.B) {
	fr := cbrFrames(b)
	srv := startDiscardProcess(b)
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("dests=%d", n), func(b *testing.B) {
			f, _ := benchFanout(b, srv, n, fr)
			var pkts uint64
			b.ReportAllocs()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			mallocs := ms.Mallocs
			b.ResetTimer()
			for i := range b.N {
				j := (i + 1) % len(fr)
				if j == 0 {
					f.Discontinuity()
				}
				before := f.dests[0].offered.Load()
				if err := f.WriteFrame(fr[j]); err != nil {
					b.Fatal(err)
				}
				pkts += f.dests[0].offered.Load() - before
				for _, d := range f.dests {
					for d.handed.Load()+d.dropped.Load() < d.offered.Load() {
						runtime.Gosched()
					}
				}
			}
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-mallocs)/float64(pkts)/float64(n), "allocs/pkt/dest")
			b.ReportMetric(float64(pkts)/float64(b.N), "pkts/op")
			var dropped uint64
			for _, st := range f.Stats() {
				dropped += st.PacketsDropped
			}
			b.ReportMetric(float64(dropped), "dropped")
		})
	}
}
