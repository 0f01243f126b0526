// Command compare pushes the same content into the same receiver with ffmpeg's own RTSP push
// (`ffmpeg -re -i content.mkv -c copy -f rtsp`, or its tee muxer for several destinations) and
// with liveinject (a channel whose source is the same content as MPEG-TS, passed through with
// encoder = "copy"), in interleaved runs, and prints what each cost: CPU seconds, MB pushed per
// CPU second and peak RSS, for ffmpeg, for liveinject's Go process and for its ffmpeg child.
// The rtmp and srt pushers are liveinject with one destination more, to nginx's RTMP module or
// an SRT listener (srt-live-transmit): the marginal cost of a destination of that kind, its
// ffmpeg child for SRT included.
//
// The receiver is a gortsplib server in this process that takes every push and counts its
// bytes. Everything is on 127.0.0.1. `make compare` runs it; see BENCHMARKS.md.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/internal/benchrig"
)

func main() {
	var o options
	flag.StringVar(&o.liveinject, "liveinject", "bin/liveinject", "the liveinject binary")
	flag.StringVar(&o.ffmpeg, "ffmpeg", "ffmpeg", "the ffmpeg binary, for both")
	flag.StringVar(&o.work, "work", "", "directory for the content and configs (kept; default: a new temporary one, removed)")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "length of the content, and of each push")
	flag.IntVar(&o.runs, "runs", 3, "runs of each pusher, interleaved")
	flag.StringVar(&o.size, "size", "1920x1080", "picture size")
	flag.IntVar(&o.fps, "fps", 30, "frame rate")
	flag.StringVar(&o.bitrate, "bitrate", "8M", "video bit rate")
	flag.StringVar(&o.profiles, "cpuprofile", "", "directory where each liveinject run writes its CPU profile (liveinject run -cpuprofile)")
	flag.StringVar(&o.env, "env", "", "environment for liveinject, comma-separated NAME=value pairs (GOMAXPROCS=1)")
	flag.StringVar(&o.pushers, "pushers", "ffmpeg,liveinject", "pushers to run, comma-separated: ffmpeg, liveinject, record (liveinject recording the channel too, [record]), rtmp and srt (liveinject with one more destination: nginx's RTMP module, srt-live-transmit)")
	flag.StringVar(&o.dests, "dests", "1", "destinations per push, comma-separated: with two counts, the marginal cost of a destination is printed too")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type options struct {
	liveinject, ffmpeg, work string
	profiles, env            string
	pushers                  string
	duration                 time.Duration
	runs                     int
	size, bitrate, dests     string
	fps                      int
}

// result is what one push cost.
type result struct {
	cpu   time.Duration // the pusher's own process
	child time.Duration // liveinject's ffmpeg child
	rssKB int64         // the pusher's peak
	bytes uint64        // RTP bytes the receiver got, over all destinations
	wall  time.Duration
	// steady is the pusher's own CPU time per minute from warmup on, startup left out
	steady time.Duration
}

// warmup is the start of a push that its steady figure leaves out.
const warmup = 10 * time.Second

// sampler reads a running process's CPU time once a second: at warmup, and the last reading.
type sampler struct {
	pid        int
	start      time.Time
	stop, done chan struct{}
	first      time.Duration // at warmup, -1 before
	firstAt    time.Time
	last       time.Duration
	lastAt     time.Time
}

func sample(pid int) *sampler {
	s := &sampler{pid: pid, start: time.Now(), stop: make(chan struct{}), done: make(chan struct{}), first: -1}
	go func() {
		defer close(s.done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-s.stop:
				return
			case now := <-t.C:
				cpu, err := benchrig.CPU(s.pid)
				if err != nil {
					return // it has ended
				}
				if s.first < 0 && now.Sub(s.start) >= warmup {
					s.first, s.firstAt = cpu, now
				}
				s.last, s.lastAt = cpu, now
			}
		}
	}()
	return s
}

// perMinute stops the sampler and returns the CPU time per minute between warmup and the last
// reading, 0 when the push was too short.
func (s *sampler) perMinute() time.Duration {
	select {
	case <-s.done:
	default:
		close(s.stop)
		<-s.done
	}
	if s.first < 0 || !s.lastAt.After(s.firstAt) {
		return 0
	}
	return time.Duration(float64(s.last-s.first) * float64(time.Minute) / float64(s.lastAt.Sub(s.firstAt)))
}

func run(o options) error {
	counts, err := parseCounts(o.dests)
	if err != nil {
		return err
	}
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "liveinject-compare-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.work)
	}
	if o.liveinject, err = filepath.Abs(o.liveinject); err != nil {
		return err
	}
	mkv, ts, err := benchrig.Content{FFmpeg: o.ffmpeg, Dir: o.work, Size: o.size, FPS: o.fps, Bitrate: o.bitrate,
		Duration: o.duration}.Make()
	if err != nil {
		return err
	}
	rx, err := newReceiver()
	if err != nil {
		return err
	}
	defer rx.Close()

	// the receivers of the rtmp and srt pushers' extra destination
	extra := map[string]string{}
	for _, pusher := range strings.Split(o.pushers, ",") {
		var peer *benchrig.Peer
		switch pusher {
		case "rtmp":
			peer, err = benchrig.StartNginxRTMP(filepath.Join(o.work, "nginx"))
		case "srt":
			peer, err = benchrig.StartSRTListener()
		default:
			continue
		}
		if err != nil {
			return fmt.Errorf("%s receiver: %w", pusher, err)
		}
		defer peer.Close()
		extra[pusher] = peer.URL
	}

	results := map[string][]result{}
	for i := range o.runs {
		for _, n := range counts {
			for _, pusher := range strings.Split(o.pushers, ",") {
				name := fmt.Sprintf("%s-%d-%d", pusher, n, i)
				var r result
				switch pusher {
				case "ffmpeg":
					r, err = pushFFmpeg(o, rx, mkv, name, n)
				case "liveinject", "record", "rtmp", "srt":
					r, err = pushLiveinject(o, rx, ts, name, n, pusher == "record", extra[pusher])
				default:
					return fmt.Errorf("unknown pusher %q", pusher)
				}
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				fmt.Fprintf(os.Stderr, "%-18s %6.2f CPU-s (%5.2f a minute from %v on) %6.2f child CPU-s %7.1f MB %6.0f MiB RSS\n",
					name, r.cpu.Seconds(), r.steady.Seconds(), warmup, r.child.Seconds(), float64(r.bytes)/1e6,
					float64(r.rssKB)/1024)
				key := fmt.Sprintf("%s/%d", pusher, n)
				results[key] = append(results[key], r)
			}
		}
	}
	report(o, counts, results)
	return nil
}

func parseCounts(s string) ([]int, error) {
	var counts []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-dests: %q is not a count of destinations", f)
		}
		counts = append(counts, n)
	}
	return counts, nil
}

// pushFFmpeg pushes the content once with ffmpeg, to n destinations (the tee muxer for more
// than one), and returns what the process cost.
func pushFFmpeg(o options, rx *receiver, mkv, name string, n int) (result, error) {
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-i", mkv, "-map", "0", "-c", "copy"}
	if n == 1 {
		args = append(args, "-f", "rtsp", "-rtsp_transport", "tcp", rx.URL(name, 0))
	} else {
		outs := make([]string, n)
		for i := range outs {
			outs[i] = "[f=rtsp:rtsp_transport=tcp]" + rx.URL(name, i)
		}
		args = append(args, "-f", "tee", strings.Join(outs, "|"))
	}
	cmd := exec.Command(o.ffmpeg, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	samples := sample(cmd.Process.Pid)
	if err := cmd.Wait(); err != nil {
		samples.perMinute()
		return result{}, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return result{
		cpu:    cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(),
		rssKB:  ru.Maxrss,
		bytes:  rx.bytesOf(name),
		wall:   time.Since(start),
		steady: samples.perMinute(),
	}, nil
}

// pushLiveinject runs liveinject with one channel whose source is the content as MPEG-TS,
// passed through, pushing to n destinations of the receiver and to extra if given, for the
// content's duration from its start, and returns what its process and its ffmpeg children cost
// meanwhile.
func pushLiveinject(o options, rx *receiver, ts, name string, n int, record bool, extra string) (result, error) {
	urls := make([]string, n)
	for i := range urls {
		urls[i] = rx.URL(name, i)
	}
	if extra != "" {
		urls = append(urls, extra)
	}
	ch := benchrig.Channel{FFmpeg: o.ffmpeg, Source: ts, URLs: urls}
	if record {
		ch.Record = filepath.Join(o.work, name, "recordings")
	}
	config, err := ch.Write(filepath.Join(o.work, name))
	if err != nil {
		return result{}, err
	}
	args := []string{"run", "-c", config}
	if o.profiles != "" {
		args = append(args, "-cpuprofile", filepath.Join(o.profiles, name+".pprof"))
	}
	cmd := exec.Command(o.liveinject, args...)
	if o.env != "" {
		cmd.Env = append(os.Environ(), strings.Split(o.env, ",")...)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	samples := sample(cmd.Process.Pid)
	select {
	case err := <-done:
		samples.perMinute()
		return result{}, fmt.Errorf("liveinject ended: %v\n%s", err, stderr.String())
	case <-time.After(o.duration):
	}
	steady := samples.perMinute()
	// the figures before the stop, which is not part of the push
	self, err := benchrig.CPU(cmd.Process.Pid)
	if err != nil {
		return result{}, err
	}
	var child time.Duration
	for _, pid := range benchrig.Children(cmd.Process.Pid) {
		c, err := benchrig.CPU(pid)
		if err == nil {
			child += c
		}
	}
	rss := procHWM(cmd.Process.Pid)
	r := result{cpu: self, child: child, rssKB: rss, wall: time.Since(start), steady: steady}
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have ended
	if err := <-done; err != nil {
		return result{}, fmt.Errorf("liveinject: %v\n%s", err, stderr.String())
	}
	r.bytes = rx.bytesOf(name)
	return r, nil
}

// procHWM returns a running process's peak RSS in KiB, 0 when unknown.
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// report prints the figures of each pusher and destination count: min and median of the runs.
func report(o options, counts []int, results map[string][]result) {
	fmt.Printf("\n%s of %s %d fps H.264 at %s + AAC, %d runs each, interleaved; min / median\n\n",
		o.duration, o.size, o.fps, o.bitrate, o.runs)
	fmt.Printf("| destinations | pusher | CPU-s | CPU-s a minute after the first %v | MB pushed per CPU-s | peak RSS MiB | its ffmpeg child CPU-s |\n", warmup)
	fmt.Println("|---|---|---|---|---|---|---|")
	stat := func(rs []result, f func(result) float64) (lo, med float64) {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		return v[0], v[len(v)/2]
	}
	median := map[string]float64{}
	for _, n := range counts {
		for _, pusher := range strings.Split(o.pushers, ",") {
			rs := results[fmt.Sprintf("%s/%d", pusher, n)]
			cl, cm := stat(rs, func(r result) float64 { return r.cpu.Seconds() })
			ml, mm := stat(rs, func(r result) float64 { return float64(r.bytes) / 1e6 / r.cpu.Seconds() })
			rl, rm := stat(rs, func(r result) float64 { return float64(r.rssKB) / 1024 })
			sl, sm := stat(rs, func(r result) float64 { return r.steady.Seconds() })
			child := "—"
			if pusher != "ffmpeg" {
				hl, hm := stat(rs, func(r result) float64 { return r.child.Seconds() })
				child = fmt.Sprintf("%.2f / %.2f", hl, hm)
			}
			fmt.Printf("| %d | %s | %.2f / %.2f | %.2f / %.2f | %.1f / %.1f | %.0f / %.0f | %s |\n", n, pusher, cl, cm, sl, sm,
				ml, mm, rl, rm, child)
			median[fmt.Sprintf("%s/%d", pusher, n)] = cm
			median[fmt.Sprintf("%s/%d/steady", pusher, n)] = sm
			_, median[fmt.Sprintf("%s/%d/child", pusher, n)] = stat(rs, func(r result) float64 { return r.child.Seconds() })
		}
	}
	fmt.Println()
	for _, n := range counts {
		if median[fmt.Sprintf("record/%d", n)] > 0 && median[fmt.Sprintf("liveinject/%d", n)] > 0 {
			fmt.Printf("recording adds to liveinject's Go process, %d destination(s): %+.1f %%, after the first %v %+.1f %% (medians)\n",
				n, 100*(median[fmt.Sprintf("record/%d", n)]/median[fmt.Sprintf("liveinject/%d", n)]-1), warmup,
				100*(median[fmt.Sprintf("record/%d/steady", n)]/median[fmt.Sprintf("liveinject/%d/steady", n)]-1))
		}
		for _, kind := range []string{"rtmp", "srt"} {
			with, without := fmt.Sprintf("%s/%d", kind, n), fmt.Sprintf("liveinject/%d", n)
			if median[with] == 0 || median[without] == 0 {
				continue
			}
			fmt.Printf("an %s destination beside %d RTSP one(s) adds to liveinject's Go process %+.1f %%, after the first %v %+.1f %%; "+
				"to its ffmpeg children %+.2f CPU-s (medians)\n", kind, n, 100*(median[with]/median[without]-1), warmup,
				100*(median[with+"/steady"]/median[without+"/steady"]-1), median[with+"/child"]-median[without+"/child"])
		}
		if median[fmt.Sprintf("ffmpeg/%d", n)] == 0 || median[fmt.Sprintf("liveinject/%d", n)] == 0 {
			continue
		}
		fmt.Printf("liveinject's Go process / ffmpeg, CPU, %d destination(s): %.2fx, after the first %v %.2fx (medians)\n",
			n, median[fmt.Sprintf("liveinject/%d", n)]/median[fmt.Sprintf("ffmpeg/%d", n)], warmup,
			median[fmt.Sprintf("liveinject/%d/steady", n)]/median[fmt.Sprintf("ffmpeg/%d/steady", n)])
	}
	if len(counts) >= 2 {
		a, b := counts[0], counts[len(counts)-1]
		for _, pusher := range strings.Split(o.pushers, ",") {
			per := (median[fmt.Sprintf("%s/%d", pusher, b)] - median[fmt.Sprintf("%s/%d", pusher, a)]) / float64(b-a)
			fmt.Printf("%s: each destination past %d adds %.3f CPU-s, %.2f %% of a core\n", pusher, a, per,
				100*per/o.duration.Seconds())
		}
	}
}

// receiver takes every push and counts the RTP bytes of each.
type receiver struct {
	*benchrig.Receiver

	mu    sync.Mutex
	bytes map[string]*atomic.Uint64 // by the push's name
}

func newReceiver() (*receiver, error) {
	r := &receiver{bytes: map[string]*atomic.Uint64{}}
	r.Receiver = &benchrig.Receiver{OnSession: func(name string, s *gortsplib.ServerSession) {
		c := r.counter(name)
		s.OnPacketRTPAny(func(_ *description.Media, _ format.Format, p *rtp.Packet) {
			c.Add(uint64(len(p.Payload)))
		})
	}}
	return r, r.Initialize()
}

func (r *receiver) counter(name string) *atomic.Uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.bytes[name]
	if c == nil {
		c = new(atomic.Uint64)
		r.bytes[name] = c
	}
	return c
}

func (r *receiver) bytesOf(name string) uint64 { return r.counter(name).Load() }
