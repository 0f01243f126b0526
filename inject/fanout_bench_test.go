package inject

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
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
	err := fftest.Serve(s.addr, func() any {
		counts := map[string]uint64{}
		s.mu.Lock()
		defer s.mu.Unlock()
		for path, c := range s.packets {
			counts[path] = c.Load()
		}
		return counts
	})
	if err != nil {
		t.Fatal(err)
	}
}

// discardProcess is a running TestHelperDiscardServer.
type discardProcess struct {
	*fftest.Child
	addr string
	// fanouts counts the Fanouts started against it: each pushes to paths of its own, so that
	// the server's counts, which it keeps per path for its whole life, are of that Fanout alone.
	fanouts int
}

func startDiscardProcess(b *testing.B) *discardProcess {
	b.Helper()
	c := fftest.StartChild(b, "LIVEINJECT_DISCARD_SERVER=1", "-test.run=^TestHelperDiscardServer$")
	return &discardProcess{Child: c, addr: c.Ready}
}

// received returns the RTP packets the server received per path (without the leading slash).
func (p *discardProcess) received(b *testing.B) map[string]uint64 {
	b.Helper()
	var counts map[string]uint64
	p.Ask(b, "counts", &counts)
	return counts
}

// benchFanout starts a Fanout with n destinations at the discard server, all recording once the
// first frame, fr[0], has been written. The paths are new to the server.
func benchFanout(b *testing.B, srv *discardProcess, n int, fr []*demux.Frame) (*Fanout, []string) {
	b.Helper()
	srv.fanouts++
	paths := make([]string, n)
	targets := make([]Target, n)
	for i := range targets {
		paths[i] = fmt.Sprintf("f%d-%d.sdp", srv.fanouts, i)
		// the push alone: a return check would play each stream back besides
		targets[i] = Target{URL: "rtsp://" + srv.addr + "/" + paths[i], NoVerify: true}
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

// delivered waits until every packet offered to f's destinations is written or dropped, closes
// f, which sends its TEARDOWNs after the last packets, and returns what the server received of
// the packets offered to each destination: the share that the worst-served one received, the
// packets offered to each on average, and those lost, over all. (Closing at once would drop
// what the destinations had not yet handed on: the last frame, often.)
func delivered(b *testing.B, srv *discardProcess, f *Fanout, paths []string) (share, offered float64, lost uint64) {
	b.Helper()
	fftest.WaitFor(b, 10*time.Second, "every packet written or dropped", func() bool {
		for i, st := range f.Stats() {
			if st.PacketsSent+st.PacketsDropped < f.dests[i].offered.Load() {
				return false
			}
		}
		return true
	})
	f.Close()
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
	share = 1
	for i, d := range f.dests {
		o, got := d.offered.Load(), counts[paths[i]]
		offered += float64(o)
		share = min(share, float64(got)/float64(o))
		lost += o - min(got, o)
	}
	return share, offered / float64(len(f.dests)), lost
}

// cbrFrames is a channel at a constant 4 Mbit/s (filler included), 4 s long.
func cbrFrames(b *testing.B) []*demux.Frame {
	return demuxtest.Frames(b, "4", "-c:v", "libx264", "-tune", "zerolatency", "-g", "50", "-b:v", "4M", "-minrate", "4M",
		"-maxrate", "4M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-ac", "2")
}

// loadWindow is the stream time of an op of BenchmarkFanoutLoad: long enough that a row of one op,
// which is what the default -benchtime of 1 s gives, is not dominated by its first second.
const loadWindow = 5 * time.Second

// BenchmarkFanoutLoad pushes a 4 Mbit/s channel in real time to 1, 10, 50 and 100 destinations; an
// op is 5 s of the stream, so a row takes 5 s under the plain `go test -bench`, and -benchtime Nx
// makes it N times as long. cpu-%/dest is the process's CPU time (user + system) per
// destination, in percent of one core; delivered-% the share of the packets offered that the
// worst-served destination's server received. ns/op is left out: it is the window itself.
func BenchmarkFanoutLoad(b *testing.B) {
	fr := cbrFrames(b)
	srv := startDiscardProcess(b)
	for _, n := range []int{1, 10, 50, 100} {
		b.Run(fmt.Sprintf("dests=%d", n), func(b *testing.B) {
			f, paths := benchFanout(b, srv, n, fr)
			p := &pacer{f: f, fr: fr}
			before := cpuTime()
			p.start = time.Now()
			for b.Loop() {
				p.until(b, p.end+loadWindow)
			}
			cpu := cpuTime() - before
			wall := time.Since(p.start)
			share, offered, _ := delivered(b, srv, f, paths)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(n), "cpu-%/dest")
			b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu-%")
			b.ReportMetric(100*share, "delivered-%")
			b.ReportMetric(offered/wall.Seconds(), "pkts/s/dest")
		})
	}
}

// pacer writes a channel's frames round and round at their own pace, from start.
type pacer struct {
	f     *Fanout
	fr    []*demux.Frame
	start time.Time
	// next is the next frame to write, at loop the stream time where the current round began;
	// end is the stream time up to which frames have been written.
	next      int
	loop, end time.Duration
	timer     *time.Timer
}

// until writes the frames due before stream time end, each at its time.
func (p *pacer) until(b *testing.B, end time.Duration) {
	if p.timer == nil {
		p.timer = time.NewTimer(0)
		<-p.timer.C
	}
	fr := p.fr
	span := time.Duration(fr[len(fr)-1].DTS-fr[0].DTS)*time.Second/90000 + 40*time.Millisecond
	for {
		x := fr[p.next]
		t := p.loop + time.Duration(x.DTS-fr[0].DTS)*time.Second/90000
		if t >= end {
			p.end = end
			return
		}
		p.timer.Reset(time.Until(p.start.Add(t)))
		<-p.timer.C
		if err := p.f.WriteFrame(x); err != nil {
			b.Fatal(err)
		}
		if p.next++; p.next == len(fr) {
			p.next, p.loop = 0, p.loop+span
			p.f.Discontinuity()
		}
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

// unsentMax bounds the packets a destination's client holds unwritten in BenchmarkWriteFrame: half
// of its queue (writeQueueSize), which then never overflows.
const unsentMax = writeQueueSize / 2

// BenchmarkWriteFrame writes frames to n destinations as fast as their clients put the packets
// on the wire; an op is one frame. Each WriteFrame waits until every destination has handed the
// frame's packets to its client; when a client may hold unsentMax packets unwritten, the
// benchmark waits until it holds half as many, and at the end until it has written all. ns/op is
// thus the time per frame of this process pushing to n destinations flat out, the server in
// another process on the same cores. dropped counts the packets that did not reach the server:
// anything but 0 fails the benchmark. allocs/pkt/dest counts the process's allocations per
// packet and destination: the channel's packetizing, spread over the destinations, and each
// destination's writing.
func BenchmarkWriteFrame(b *testing.B) {
	fr := cbrFrames(b)
	srv := startDiscardProcess(b)
	for _, n := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("dests=%d", n), func(b *testing.B) {
			f, paths := benchFanout(b, srv, n, fr)
			w := &unsentWaiter{f: f, tick: time.NewTicker(time.Millisecond), sent: make([]uint64, n)}
			defer w.tick.Stop()
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
				w.keepBelow(b, unsentMax)
			}
			w.wait(b, 0)
			b.StopTimer()
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.Mallocs-mallocs-w.allocs)/float64(pkts)/float64(n), "allocs/pkt/dest")
			b.ReportMetric(float64(pkts)/float64(b.N), "pkts/op")
			share, _, lost := delivered(b, srv, f, paths)
			b.ReportMetric(float64(lost), "dropped")
			if lost != 0 {
				b.Fatalf("%d packets did not reach the server (%.4f %% at the worst destination): "+
					"the time per frame is not that of pushing them all", lost, 100*(1-share))
			}
		})
	}
}

// unsentWaiter bounds the packets that the clients of a Fanout's destinations hold unwritten.
// It reads the clients' figures (gortsplib's Client.Stats) with the benchmark's timer stopped
// and counts their allocations apart, to be left out of allocs/pkt/dest; the time the clients
// take to write is the benchmark's.
type unsentWaiter struct {
	f    *Fanout
	tick *time.Ticker
	// sent is each destination's packets written, as last read.
	sent []uint64
	// allocs counts the allocations of the reads.
	allocs uint64
	ms     runtime.MemStats
}

// keepBelow waits, when a client may hold limit packets unwritten or more, until every client
// holds at most limit/2: the clients always have packets to write, and never more than their
// queue holds.
func (w *unsentWaiter) keepBelow(b *testing.B, limit uint64) {
	for i, d := range w.f.dests {
		if d.handed.Load()-w.sent[i] >= limit {
			w.wait(b, limit/2)
			return
		}
	}
}

// wait waits until every client holds at most limit packets unwritten.
func (w *unsentWaiter) wait(b *testing.B, limit uint64) {
	deadline := time.Now().Add(10 * time.Second)
	for w.unsent(b) > limit {
		if time.Now().After(deadline) {
			b.Fatalf("the clients did not write what they were handed within 10 s: %+v", w.f.Stats())
		}
		<-w.tick.C
	}
}

// unsent reads the clients' figures and returns the most packets one of them holds unwritten.
func (w *unsentWaiter) unsent(b *testing.B) uint64 {
	b.StopTimer()
	defer b.StartTimer()
	runtime.ReadMemStats(&w.ms)
	before := w.ms.Mallocs
	var most uint64
	for i, d := range w.f.dests {
		w.sent[i] = d.stats().PacketsSent
		most = max(most, d.handed.Load()-w.sent[i])
	}
	runtime.ReadMemStats(&w.ms)
	w.allocs += w.ms.Mallocs - before
	return most
}
