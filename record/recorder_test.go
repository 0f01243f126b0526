package record

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// channelBase puts the frames at a channel time past 2^33 ticks, as a channel's is (it counts
// from the Unix epoch): the segments' 33-bit timestamps wrap.
const channelBase = 1<<33 + 12345

// newRecorder starts a Recorder on a folder of the test with cfg over short test timings.
func newRecorder(t *testing.T, cfg Config, space Space) *Recorder {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = filepath.Join(t.TempDir(), "ch")
	}
	r := &Recorder{Channel: "ch", Config: cfg, Space: space, retainEvery: 20 * time.Millisecond,
		retryEvery: 10 * time.Millisecond}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

// feed writes frames to r at channel time base on, as they came, so that its queue never fills.
func feed(t *testing.T, r *Recorder, frs []*demux.Frame, base int64) {
	t.Helper()
	before := r.Stats().Dropped
	for _, fr := range frs {
		for r.queued() > r.queueSize/2 {
			time.Sleep(time.Millisecond) // pacing a producer, not waiting for a result
		}
		r.WriteFrame(fr, fr.PTS+base, fr.DTS+base)
	}
	if n := r.Stats().Dropped - before; n != 0 {
		t.Fatalf("%d frames dropped", n)
	}
}

func (r *Recorder) queued() int {
	r.qmu.Lock()
	defer r.qmu.Unlock()
	return len(r.queue)
}

// CheckSegments checks that the closed segments in dir each play alone (h264 + aac, a keyframe
// first) and join: each begins a frame after the one before ends. It returns the video frames
// they hold together.
func CheckSegments(t *testing.T, dir string, minSegments int) (videoFrames int) {
	t.Helper()
	segs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < minSegments {
		t.Fatalf("%d segments, want at least %d: %+v", len(segs), minSegments, segs)
	}
	const wrap = 1 << 33
	var lastDTS, frameTicks int64 = -1, 0
	for _, s := range segs {
		if s.Open {
			t.Errorf("%s still open", s.Name)
			continue
		}
		p := fftest.ProbePackets(t, filepath.Join(dir, s.Name))
		fftest.CheckAV(t, p.Streams, fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2})
		first := true
		for _, pk := range p.Packets {
			if pk.CodecType != "video" {
				continue
			}
			videoFrames++
			if first && !strings.HasPrefix(pk.Flags, "K") {
				t.Errorf("%s: first video frame not a keyframe (flags %q)", s.Name, pk.Flags)
			}
			if lastDTS >= 0 {
				step := ((pk.DTS-lastDTS)%wrap + wrap) % wrap
				if first && frameTicks > 0 && step > frameTicks+frameTicks/2 {
					t.Errorf("%s: begins %d ticks after the segment before ends: a gap", s.Name, step-frameTicks)
				}
				if step <= 0 {
					t.Errorf("%s: DTS %d does not follow %d", s.Name, pk.DTS, lastDTS)
				}
				if !first {
					frameTicks = step
				}
			}
			first, lastDTS = false, pk.DTS
		}
	}
	return videoFrames
}

func TestRecorderSegments(t *testing.T) {
	frs := demuxtest.Frames(t, "9")
	r := newRecorder(t, Config{Segment: 2 * time.Second}, nil)
	feed(t, r, frs, channelBase)
	r.Close()
	video := 0
	for _, fr := range frs {
		if fr.Kind == demux.Video {
			video++
		}
	}
	if got := CheckSegments(t, r.Config.Dir, 4); got != video {
		t.Errorf("segments hold %d video frames, want the %d written", got, video)
	}
	st := r.Stats()
	if st.State != StateRecording || st.Segments < 4 || st.BytesWritten == 0 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// A gap (a hold) ends the segment; the next begins at the next keyframe.
func TestRecorderGap(t *testing.T) {
	frs := demuxtest.Frames(t, "5")
	r := newRecorder(t, Config{Segment: time.Hour}, nil)
	feed(t, r, frs[:len(frs)/3], channelBase)
	r.Gap("held")
	feed(t, r, frs[len(frs)/3:], channelBase+90000*10)
	r.Close()
	segs, _ := List(r.Config.Dir)
	if len(segs) != 2 {
		t.Fatalf("segments %+v, want 2: one before the gap, one after", segs)
	}
	startKeyframes(t, r.Config.Dir, segs)
}

// A segment left open by a crash is cut to whole packets and renamed at the next start.
func TestRecorderLeftover(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ch")
	os.MkdirAll(dir, 0o755)
	src, err := os.ReadFile(fftest.TS(t, "2"))
	if err != nil {
		t.Fatal(err)
	}
	part := filepath.Join(dir, "2026-12-04T10-15-00Z.ts.part")
	if err := os.WriteFile(part, src[:len(src)/2*1+100], 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "2026-12-04T10-16-00Z.ts.part"), nil, 0o644)
	r := newRecorder(t, Config{Dir: dir}, nil)
	fftest.WaitFor(t, 5*time.Second, "the leftover closed", func() bool { return r.Stats().Segments == 1 })
	segs, _ := List(dir)
	if len(segs) != 1 || segs[0].Name != "2026-12-04T10-15-00Z.ts" || segs[0].Size%188 != 0 {
		t.Fatalf("segments %+v, want the leftover closed at whole packets and the empty one gone", segs)
	}
	if _, err := fftest.Probe(filepath.Join(dir, segs[0].Name)); err != nil {
		t.Error(err)
	}
}

// fakeSpace is a file system whose free space the test sets.
type fakeSpace struct {
	mu          sync.Mutex
	free, total int64
}

func (f *fakeSpace) space(string) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.free, f.total, nil
}

func (f *fakeSpace) set(free int64) {
	f.mu.Lock()
	f.free = free
	f.mu.Unlock()
}

// segmentsAt makes closed segments of size bytes each, starting at the given times.
func segmentsAt(t *testing.T, dir string, size int, starts ...time.Time) {
	t.Helper()
	os.MkdirAll(dir, 0o755)
	for _, s := range starts {
		if err := os.WriteFile(filepath.Join(dir, SegmentName(s, 1)), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func names(t *testing.T, dir string) []string {
	t.Helper()
	segs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range segs {
		out = append(out, s.Name)
	}
	return out
}

func TestRetention(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Second)
	starts := []time.Time{now.Add(-50 * time.Hour), now.Add(-30 * time.Hour), now.Add(-3 * time.Hour),
		now.Add(-2 * time.Hour), now.Add(-time.Hour)}
	all := func() []string {
		var out []string
		for _, s := range starts {
			out = append(out, SegmentName(s, 1))
		}
		return out
	}()
	for _, tc := range []struct {
		name   string
		cfg    Config
		free   int64
		want   []string
		reason string
	}{
		{"keep", Config{Keep: 24 * time.Hour}, 1 << 30, all[2:], DeletedKeep},
		{"max_size", Config{MaxSize: 2500}, 1 << 30, all[3:], DeletedMaxSize},
		// 1000 free of 100000 with 3% to keep: two segments of 1000 must go
		{"min_free", Config{MinFreePercent: 3}, 1000, all[2:], DeletedMinFree},
		{"min_free bytes", Config{MinFreeBytes: 1500}, 1000, all[1:], DeletedMinFree},
		{"all hold", Config{}, 1 << 30, all, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "ch")
			segmentsAt(t, dir, 1000, starts...)
			fs := &fakeSpace{free: tc.free, total: 100000}
			if tc.free >= 1<<30 {
				fs.total = 1 << 31
			}
			// deleting frees the space it takes
			space := func(d string) (int64, int64, error) {
				f, tot, _ := fs.space(d)
				left, _ := List(d)
				return f + int64(len(starts)-len(left))*1000, tot, nil
			}
			tc.cfg.Dir = dir
			r := newRecorder(t, tc.cfg, space)
			fftest.WaitFor(t, 5*time.Second, "retention", func() bool {
				st := r.Stats()
				return st.Segments == len(tc.want) && (tc.reason == "" || st.Deleted[tc.reason] > 0)
			})
			if got := names(t, dir); strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Errorf("left %q, want %q (oldest first)", got, tc.want)
			}
			st := r.Stats()
			if tc.reason != "" && st.Deleted[tc.reason] != uint64(len(starts)-len(tc.want)) {
				t.Errorf("deleted %v, want %d for %s", st.Deleted, len(starts)-len(tc.want), tc.reason)
			}
			if first := starts[len(starts)-len(tc.want)]; !st.Oldest.Equal(first) || !st.Newest.Equal(starts[len(starts)-1]) ||
				st.BytesOnDisk != int64(1000*len(tc.want)) {
				t.Errorf("oldest %v newest %v, %d bytes; want %v, %v, %d", st.Oldest, st.Newest, st.BytesOnDisk,
					first, starts[len(starts)-1], 1000*len(tc.want))
			}
			if st.State == StateError {
				t.Errorf("state error: %s", st.Cause)
			}
		})
	}
}

// A disk that another program filled stops the recording with a cause, and it resumes when
// space returns; nothing recorded before is lost, and writing frames never blocks meanwhile.
func TestRecorderDiskFull(t *testing.T) {
	frs := demuxtest.Frames(t, "6")
	fs := &fakeSpace{free: 1 << 30, total: 1 << 31}
	r := newRecorder(t, Config{Segment: time.Second, MinFreeBytes: 1 << 20}, fs.space)
	half := len(frs) / 2
	feed(t, r, frs[:half], channelBase)
	fftest.WaitFor(t, 5*time.Second, "a segment", func() bool { return r.Stats().Segments >= 1 })
	fs.set(1000)
	fftest.WaitFor(t, 5*time.Second, "state error", func() bool { return r.Stats().State == StateError })
	st := r.Stats()
	if !strings.HasPrefix(st.Cause, "disk full: 1000 B free of 2.0 GiB") || st.Errors == 0 {
		t.Errorf("cause %q, errors %d", st.Cause, st.Errors)
	}
	if _, err := os.Stat(r.Config.Dir); err != nil {
		t.Fatal(err)
	}
	before := names(t, r.Config.Dir)
	for _, n := range before {
		if strings.HasSuffix(n, ".part") {
			t.Errorf("%s left open after the disk filled", n)
		}
	}
	fs.set(1 << 30)
	fftest.WaitFor(t, 5*time.Second, "recording resumes", func() bool { return r.Stats().State != StateError })
	feed(t, r, frs[half:], channelBase)
	r.Close()
	if after := names(t, r.Config.Dir); len(after) <= len(before) {
		t.Errorf("segments %q after space returned, %q before: nothing new", after, before)
	}
	if st := r.Stats(); st.State == StateError || st.LastError == "" {
		t.Errorf("stats after %+v", st)
	}
}

// A write that fails with ENOSPC (the disk filled between two looks) stops the recording too.
func TestRecorderENOSPC(t *testing.T) {
	frs := demuxtest.Frames(t, "4")
	fs := &fakeSpace{free: 1 << 30, total: 1 << 31}
	var full sync.Mutex
	var isFull bool
	r := &Recorder{Channel: "ch", Config: Config{Dir: filepath.Join(t.TempDir(), "ch"), Segment: time.Second},
		Space: fs.space, retainEvery: 20 * time.Millisecond, retryEvery: 10 * time.Millisecond,
		failWrite: func() error {
			full.Lock()
			defer full.Unlock()
			if isFull {
				return syscall.ENOSPC
			}
			return nil
		}}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	feed(t, r, frs[:len(frs)/2], channelBase)
	full.Lock()
	isFull = true
	full.Unlock()
	fs.set(10)
	feed(t, r, frs[len(frs)/2:], channelBase)
	fftest.WaitFor(t, 5*time.Second, "state error", func() bool { return r.Stats().State == StateError })
	if st := r.Stats(); !strings.Contains(st.LastError, "no space left") && !strings.HasPrefix(st.Cause, "disk full") {
		t.Errorf("stats %+v", st)
	}
	full.Lock()
	isFull = false
	full.Unlock()
	fs.set(1 << 30)
	fftest.WaitFor(t, 5*time.Second, "resumes", func() bool { return r.Stats().State == StateWaiting })
}

// A Recorder killed mid-segment (kill -9) leaves the segment open; the next closes it, and it
// plays up to its last whole frame.
func TestRecorderKilled(t *testing.T) {
	if os.Getenv("LIVEINJECT_RECORD_CHILD") != "" {
		return
	}
	dir := filepath.Join(t.TempDir(), "ch")
	ts := fftest.TS(t, "30")
	cmd := exec.Command(os.Args[0], "-test.run", "^TestRecordChild$")
	cmd.Env = append(os.Environ(), "LIVEINJECT_RECORD_CHILD="+ts, "LIVEINJECT_RECORD_DIR="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 20*time.Second, "an open segment of 100 KiB", func() bool {
		segs, _ := List(dir)
		return len(segs) == 1 && segs[0].Open && segs[0].Size > 100<<10
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	r := newRecorder(t, Config{Dir: dir}, nil)
	fftest.WaitFor(t, 5*time.Second, "the leftover closed", func() bool { return r.Stats().Segments == 1 })
	segs, _ := List(dir)
	p := fftest.ProbePackets(t, filepath.Join(dir, segs[0].Name))
	fftest.CheckAV(t, p.Streams, fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2})
	if len(p.Packets) < 10 {
		t.Errorf("%d packets in the leftover", len(p.Packets))
	}
}

// TestRecordChild is the process TestRecorderKilled kills: it records a TS at its own pace.
func TestRecordChild(t *testing.T) {
	ts := os.Getenv("LIVEINJECT_RECORD_CHILD")
	if ts == "" {
		t.Skip("the child of TestRecorderKilled")
	}
	f, err := os.Open(ts)
	if err != nil {
		t.Fatal(err)
	}
	rd := &demux.Reader{R: f}
	if err := rd.Initialize(); err != nil {
		t.Fatal(err)
	}
	r := &Recorder{Channel: "ch", Config: Config{Dir: os.Getenv("LIVEINJECT_RECORD_DIR"), Segment: time.Hour}}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	rd.Run(func(fr *demux.Frame) error {
		if d := time.Duration(fr.DTS) * time.Second / 90000; d > time.Since(start) {
			time.Sleep(d - time.Since(start)) // the pace of a live source
		}
		r.WriteFrame(fr, fr.PTS+channelBase, fr.DTS+channelBase)
		return nil
	})
	select {} // killed before its end
}

// A disk that does not keep up fills the queue: WriteFrame drops frames rather than wait, and
// the recording goes on after them in a new segment, at a keyframe.
func TestRecorderSlowDisk(t *testing.T) {
	frs := demuxtest.Frames(t, "6")
	release := make(chan struct{})
	var once sync.Once
	r := &Recorder{Channel: "ch", Config: Config{Dir: filepath.Join(t.TempDir(), "ch"), Segment: time.Hour},
		QueueSize: 8, failWrite: func() error { <-release; return nil }}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer once.Do(func() { close(release) })
	start := time.Now()
	for _, fr := range frs[:len(frs)/4] {
		r.WriteFrame(fr, fr.PTS+channelBase, fr.DTS+channelBase)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("WriteFrame waited for the disk: %v", d)
	}
	if st := r.Stats(); st.Dropped == 0 {
		t.Fatalf("nothing dropped with the disk stuck: %+v", st)
	}
	once.Do(func() { close(release) })
	feed(t, r, frs[len(frs)/4:], channelBase)
	r.Close()
	segs, _ := List(r.Config.Dir)
	if len(segs) != 2 {
		t.Fatalf("segments %+v, want 2: before the frames dropped, and after", segs)
	}
	startKeyframes(t, r.Config.Dir, segs)
}

// startKeyframes checks that each of segs, in dir, begins its video with a keyframe.
func startKeyframes(t *testing.T, dir string, segs []Segment) {
	t.Helper()
	for _, s := range segs {
		p := fftest.ProbePackets(t, filepath.Join(dir, s.Name))
		for _, pk := range p.Packets {
			if pk.CodecType == "video" {
				if !strings.HasPrefix(pk.Flags, "K") {
					t.Errorf("%s: first video frame not a keyframe", s.Name)
				}
				break
			}
		}
	}
}
