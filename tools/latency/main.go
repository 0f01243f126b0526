// Command latency measures how long liveinject's Go path takes to hand a frame on: from the
// moment its last byte is on the pipe from ffmpeg to the moment its first RTP packet reaches an
// RTSP server.
//
// liveinject runs a channel as tools/compare does (MPEG-TS content made by ffmpeg, played at
// its pace by a real ffmpeg, encoder "copy", one destination), but its ffmpeg is this program
// again: a pass-through that runs the real ffmpeg with the same arguments, copies its output to
// liveinject read by read, and logs for every video PES when the write of its last TS packet
// returned (see passthrough). The receiver, a gortsplib server in this process, notes when the
// first RTP packet of each video timestamp arrived; the two are paired by timestamp (see match).
// Both clocks are the system's real-time clock.
//
// `make latency` runs it; see BENCHMARKS.md.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/internal/benchrig"
)

func main() {
	if ffmpeg := os.Getenv(envFFmpeg); ffmpeg != "" {
		os.Exit(passthrough(ffmpeg, os.Getenv(envLog), os.Args[1:]))
	}
	var o options
	flag.StringVar(&o.liveinject, "liveinject", "bin/liveinject", "the liveinject binary")
	flag.StringVar(&o.ffmpeg, "ffmpeg", "ffmpeg", "the real ffmpeg, which makes the content and which liveinject's runs")
	flag.StringVar(&o.work, "work", "", "directory for the content, configs and logs (kept; default: a new temporary one, removed)")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "length of each run")
	flag.DurationVar(&o.warmup, "warmup", 5*time.Second, "start of each run left out: the session's setup and the frames queued meanwhile")
	flag.IntVar(&o.runs, "runs", 3, "runs of each content, interleaved")
	flag.BoolVar(&o.stages, "stages", false, "run the channel's path (demux.Reader, inject.Fanout) in this process instead of liveinject, "+
		"and say where the time goes")
	flag.StringVar(&o.contents, "content", "1280x720@25:4M,1920x1080@25:8M", "contents, comma-separated SIZE@FPS:BITRATE")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "latency:", err)
		os.Exit(1)
	}
}

type options struct {
	liveinject, ffmpeg, work string
	duration, warmup         time.Duration
	runs                     int
	contents                 string
	stages                   bool
}

// content is one kind of content and where it is.
type content struct {
	benchrig.Content
	name, ts string
}

func parseContents(o options) ([]content, error) {
	var out []content
	for _, f := range strings.Split(o.contents, ",") {
		f = strings.TrimSpace(f)
		size, rest, ok1 := strings.Cut(f, "@")
		fps, bitrate, ok2 := strings.Cut(rest, ":")
		n, err := strconv.Atoi(fps)
		if !ok1 || !ok2 || err != nil || n < 1 {
			return nil, fmt.Errorf("-content: %q is not SIZE@FPS:BITRATE", f)
		}
		// longer than a run: ffmpeg's -stream_loop never starts the file again during one
		out = append(out, content{name: f, Content: benchrig.Content{FFmpeg: o.ffmpeg, Dir: o.work, Size: size,
			FPS: n, Bitrate: bitrate, Duration: o.duration + 10*time.Second}})
	}
	return out, nil
}

func run(o options) error {
	var err error
	if o.work == "" {
		if o.work, err = os.MkdirTemp("", "liveinject-latency-"); err != nil {
			return err
		}
		defer os.RemoveAll(o.work)
	}
	contents, err := parseContents(o)
	if err != nil {
		return err
	}
	if o.liveinject, err = filepath.Abs(o.liveinject); err != nil {
		return err
	}
	if o.ffmpeg, err = exec.LookPath(o.ffmpeg); err != nil {
		return err
	}
	if o.ffmpeg, err = filepath.Abs(o.ffmpeg); err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	for i := range contents {
		if _, contents[i].ts, err = contents[i].Make(); err != nil {
			return err
		}
	}
	rx := &receiver{frames: map[string]map[uint32]time.Time{}}
	if err := rx.Initialize(); err != nil {
		return err
	}
	defer rx.Close()

	// each run's files stay in the work directory, by the time of this invocation
	stamp := time.Now().UTC().Format("20060102T150405")
	results := map[string][]runResult{}
	steps := map[string][]stages{}
	for i := range o.runs {
		for j, c := range contents {
			name := fmt.Sprintf("%s-%d-%d", stamp, j, i)
			var r runResult
			busy0, total0 := cpuTimes()
			if o.stages {
				var st stages
				r, st, err = measureStages(o, rx, self, c.ts, name)
				steps[c.name] = append(steps[c.name], st)
			} else {
				r, err = measure(o, rx, self, c.ts, name)
			}
			if err != nil {
				return fmt.Errorf("%s (%s): %w", name, c.name, err)
			}
			if busy1, total1 := cpuTimes(); total1 > total0 {
				r.busy = float64(busy1-busy0) / float64(total1-total0)
			}
			fmt.Fprintf(os.Stderr, "%s %-16s %s\n", name, c.name, r.line())
			results[c.name] = append(results[c.name], r)
		}
	}
	report(o, contents, results)
	if o.stages {
		reportStages(contents, steps)
	}
	return nil
}

// receiver notes when the first RTP packet of each video timestamp of each push arrived.
type receiver struct {
	benchrig.Receiver

	mu     sync.Mutex
	frames map[string]map[uint32]time.Time // by the push's name, then RTP timestamp
}

func (r *receiver) Initialize() error {
	r.OnSession = func(name string, s *gortsplib.ServerSession) {
		r.mu.Lock()
		frames := r.frames[name] // a session again after a reconnect adds to the same
		if frames == nil {
			frames = map[uint32]time.Time{}
			r.frames[name] = frames
		}
		r.mu.Unlock()
		s.OnPacketRTPAny(func(m *description.Media, _ format.Format, p *rtp.Packet) {
			now := time.Now()
			if m.Type != description.MediaTypeVideo {
				return
			}
			r.mu.Lock()
			if _, ok := frames[p.Timestamp]; !ok {
				frames[p.Timestamp] = now
			}
			r.mu.Unlock()
		})
	}
	return r.Receiver.Initialize()
}

// framesOf returns what the push called name delivered; the push must have ended.
func (r *receiver) framesOf(name string) map[uint32]time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.frames[name]
}

// runResult is what one run measured.
type runResult struct {
	sent, received int // video PES written, video frames received
	m              matched
	// bounded are the latencies of the PES with a length (under 64 KiB), unbounded of the
	// others, and unboundedNext of the others from the write of the next PES's start; all from
	// warmup on.
	bounded, unbounded, unboundedNext []time.Duration
	unboundedKeys                     int
	// beforeBegun counts the samples that arrived before the write of their last byte began:
	// none, unless the pairing is wrong
	beforeBegun int
	// busy is the share of the machine's CPU time that was not idle during the run; wait and
	// childWait how long liveinject's threads and those of its children (the pass-through and
	// ffmpeg) waited for a CPU while runnable (not measured with -stages).
	busy            float64
	wait, childWait time.Duration
}

func (r runResult) line() string {
	waits := "not measured"
	if r.wait != 0 || r.childWait != 0 {
		waits = fmt.Sprintf("liveinject %s, its children %s", ms(r.wait), ms(r.childWait))
	}
	return fmt.Sprintf("%d PES written, %d frames received, %d matched (%d unmatched, %d before the write of "+
		"their last byte returned, %d before it began); machine %.0f %% busy, waits for a CPU: %s; "+
		"under 64 KiB: %s; 64 KiB or more: %s", r.sent, r.received, len(r.m.samples), r.m.unmatched,
		r.m.early, r.beforeBegun, 100*r.busy, waits, summarize(r.bounded), summarize(r.unbounded))
}

// measure runs liveinject for o.duration with its pass-through ffmpeg playing ts to the receiver.
func measure(o options, rx *receiver, self, ts, name string) (runResult, error) {
	dir := filepath.Join(o.work, name)
	config, err := benchrig.Channel{FFmpeg: self, Source: ts, URLs: []string{rx.URL(name, 0)}}.Write(dir)
	if err != nil {
		return runResult{}, err
	}
	logPath := filepath.Join(dir, "pes.log")
	os.Remove(logPath) //nolint:errcheck // a kept work directory's, from before
	cmd := exec.Command(o.liveinject, "run", "-c", config)
	cmd.Env = append(os.Environ(), envFFmpeg+"="+o.ffmpeg, envLog+"="+logPath)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		return runResult{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return runResult{}, fmt.Errorf("liveinject ended: %v\n%s", err, stderr.String())
	case <-time.After(o.duration):
	}
	var r runResult
	for _, c := range benchrig.Children(cmd.Process.Pid) {
		r.childWait += runWait(c)
	}
	r.wait = runWait(cmd.Process.Pid) - r.childWait
	cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have ended
	err = <-done
	if werr := os.WriteFile(filepath.Join(dir, "liveinject.log"), []byte(stderr.String()), 0o644); werr != nil {
		return runResult{}, werr
	}
	if err != nil {
		return runResult{}, fmt.Errorf("liveinject: %v\n%s", err, stderr.String())
	}

	sent, err := readLog(logPath)
	if err != nil {
		return runResult{}, err
	}
	got := rx.framesOf(name)
	if err := writeArrivals(filepath.Join(dir, "rtp.log"), got); err != nil {
		return runResult{}, err
	}
	m, err := match(sent, got)
	if err != nil {
		return runResult{}, err
	}
	r.sent, r.received = len(sent), len(got)
	r.add(m, o.warmup)
	return r, nil
}

// add sorts the samples of m from warmup after the first arrival on into r's figures.
func (r *runResult) add(m matched, warmup time.Duration) {
	r.m = m
	from := m.samples[0].arrived.Add(warmup)
	for _, s := range m.samples {
		if s.arrived.Before(s.pes.Begun) {
			r.beforeBegun++
		}
		if s.pes.Written.Before(from) {
			continue
		}
		if !s.pes.Unbounded {
			r.bounded = append(r.bounded, s.latency)
			continue
		}
		r.unbounded = append(r.unbounded, s.latency)
		r.unboundedNext = append(r.unboundedNext, s.arrived.Sub(s.pes.Next))
		if s.pes.Key {
			r.unboundedKeys++
		}
	}
}

// writeArrivals keeps what the receiver got in the work directory: a line per video frame, its
// RTP timestamp and the UnixNano of its arrival.
func writeArrivals(path string, got map[uint32]time.Time) error {
	var b strings.Builder
	for ts, at := range got {
		fmt.Fprintf(&b, "%d %d\n", ts, at.UnixNano())
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}

func readLog(path string) ([]pesEnd, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("the pass-through's log: %w", err)
	}
	defer f.Close()
	var out []pesEnd
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p, err := parsePESEnd(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// summary is the distribution of some latencies.
type summary struct {
	n                  int
	p50, p90, p99, max time.Duration
}

func summarize(d []time.Duration) summary {
	return summary{n: len(d), p50: percentile(d, 0.5), p90: percentile(d, 0.9), p99: percentile(d, 0.99),
		max: percentile(d, 1)}
}

func (s summary) String() string {
	if s.n == 0 {
		return "none"
	}
	return fmt.Sprintf("%d, p50 %s, p90 %s, p99 %s, max %s", s.n, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max))
}

func (s summary) row() string {
	return fmt.Sprintf("%d | %s | %s | %s | %s", s.n, ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max))
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

// report prints a table: for each content and kind of frame, each run's figures and those of
// all runs together.
func report(o options, contents []content, results map[string][]runResult) {
	fmt.Printf("\n%d runs of %s per content, interleaved, the first %s of each left out; from the write of a "+
		"video PES's last TS packet to the pipe to the arrival of its first RTP packet\n\n", o.runs, o.duration, o.warmup)
	fmt.Println("| content | frames | run | count | p50 | p90 | p99 | max | machine busy | liveinject's wait for a CPU |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|---|")
	for _, c := range contents {
		rs := results[c.name]
		kinds := []struct {
			name string
			get  func(runResult) []time.Duration
		}{
			{"under 64 KiB (with a length)", func(r runResult) []time.Duration { return r.bounded }},
			{"64 KiB or more (no length), from their last byte", func(r runResult) []time.Duration { return r.unbounded }},
			{"64 KiB or more, from the next PES's start", func(r runResult) []time.Duration { return r.unboundedNext }},
		}
		for _, k := range kinds {
			var all []time.Duration
			for _, r := range rs {
				all = append(all, k.get(r)...)
			}
			if len(all) == 0 {
				continue
			}
			for i, r := range rs {
				wait := "—" // -stages: liveinject's path is in this process
				if r.wait != 0 {
					wait = ms(r.wait)
				}
				fmt.Printf("| %s | %s | %d | %s | %.0f %% | %s |\n", c.name, k.name, i+1, summarize(k.get(r)).row(),
					100*r.busy, wait)
			}
			fmt.Printf("| %s | %s | all | %s | | |\n", c.name, k.name, summarize(all).row())
		}
	}
	fmt.Println()
	for _, c := range contents {
		keys, large := 0, 0
		for _, r := range results[c.name] {
			keys += r.unboundedKeys
			large += len(r.unbounded)
		}
		fmt.Printf("%s: %d of the %d frames of 64 KiB or more are keyframes\n", c.name, keys, large)
	}
}

// reportStages prints where the frames with a length spent their time, all runs together.
func reportStages(contents []content, steps map[string][]stages) {
	fmt.Printf("\nIn this process (-stages), frames under 64 KiB, all runs: from the stage before\n\n")
	fmt.Println("| content | stage | count | p50 | p90 | p99 | max |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, c := range contents {
		var all stages
		for _, st := range steps[c.name] {
			all.wr = append(all.wr, st.wr...)
			all.rd = append(all.rd, st.rd...)
			all.da = append(all.da, st.da...)
			all.total = append(all.total, st.total...)
		}
		for _, s := range []struct {
			name string
			d    []time.Duration
		}{
			{"pipe: the pass-through's write returned, to the read of the last byte returned", all.wr},
			{"demux: to the frame handed to Fanout.WriteFrame", all.rd},
			{"fan-out, destination, gortsplib, TCP: to the first RTP packet's arrival", all.da},
			{"all", all.total},
		} {
			fmt.Printf("| %s | %s | %s |\n", c.name, s.name, summarize(s.d).row())
		}
	}
}
