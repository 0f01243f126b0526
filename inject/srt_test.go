package inject

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
)

const (
	srtPass  = "correct-horse-battery"
	srtWrong = "wrong-horse-staple-9"
)

// TestSRTURL takes srt://host:port only, with the options from the Target; no error repeats a
// query or a passphrase, and the passphrase and the stream ID are not on ffmpeg's command line.
func TestSRTURL(t *testing.T) {
	for _, c := range []struct {
		url, pass, want string
	}{
		{"srt://127.0.0.1:9000", srtPass, ""},
		{"srt://[::1]:9000/", "", ""},
		{"srt://127.0.0.1", "", "no port"},
		{"srt://127.0.0.1:9000?passphrase=" + srtPass, "", "query are not taken"},
		{"srt://127.0.0.1:9000?", "", "query are not taken"},
		{"srt://127.0.0.1:9000/live", "", "no path"},
		{"srt://u:" + srtPass + "@127.0.0.1:9000", "", "no user or password"},
		{"srt://127.0.0.1:9000", "short", "10 to 79"},
		{"srt://127.0.0.1:9000", srtPass + "\n", "control character"},
	} {
		tg := Target{URL: c.url, SRTPassphrase: c.pass, SRTStreamID: "#!::r=live/x,m=publish", SRTLatency: 200 * time.Millisecond}
		d, err := newDestination("test", tg, settings{queueSize: 1}, slog.New(slog.DiscardHandler))
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.url, err)
				continue
			}
			if d.redacted != "srt://"+strings.TrimSuffix(strings.TrimPrefix(c.url, "srt://"), "/") {
				t.Errorf("%s: shown as %s", c.url, d.redacted)
			}
			args := strings.Join(d.push.(*srtPusher).args(), " ")
			if strings.Contains(args, srtPass) || strings.Contains(args, "live/x") || !strings.Contains(args, "-latency 200000") {
				t.Errorf("ffmpeg's command line: %s", args)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error with %q", c.url, err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), srtPass) || strings.Contains(err.Error(), "?")) {
			t.Errorf("%s: the error shows the query or the passphrase: %v", c.url, err)
		}
	}
}

// srtFanout starts a Fanout with one SRT destination to port, logging at debug level to logs.
func srtFanout(t *testing.T, port int, pass string, logs *fftest.Buffer) *Fanout {
	t.Helper()
	f := &Fanout{Channel: "test", QueueSize: 256,
		Targets: []Target{{URL: fmt.Sprintf("srt://127.0.0.1:%d", port), SRTPassphrase: pass,
			SRTLatency: 120 * time.Millisecond}},
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("SRT_LOGS") != "" {
			t.Logf("the Fanout's log:\n%s", logs)
		}
	})
	return f
}

// pace writes frames to f at their own pace from start on; it returns when they are written or
// stop is closed.
func pace(t *testing.T, f *Fanout, fr []*demux.Frame, start time.Time, stop <-chan struct{}) error {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for _, x := range fr {
		timer.Reset(time.Until(start.Add(time.Duration(x.DTS-fr[0].DTS) * time.Second / 90000)))
		select {
		case <-stop:
			return nil
		case <-timer.C:
		}
		if err := f.WriteFrame(x); err != nil {
			return err
		}
	}
	return nil
}

// senders returns the SRT-sending ffmpeg children of the test process: those that read their
// stdin.
func senders(t *testing.T) []int {
	t.Helper()
	var out []int
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !ourChild(pid) {
			continue
		}
		if cmdline, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); strings.Contains(string(cmdline), "pipe:0") {
			out = append(out, pid)
		}
	}
	return out
}

// ourChild tells whether pid is a child of the test process, running or a zombie (not reaped).
func ourChild(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// pid (comm) state ppid ...
	i := strings.LastIndexByte(string(stat), ')')
	f := strings.Fields(string(stat[i+1:]))
	return len(f) > 1 && f[1] == strconv.Itoa(os.Getpid())
}

// checkSecret fails the test if the passphrase shows in the Fanout's figures or its logs.
func checkSecret(t *testing.T, f *Fanout, logs *fftest.Buffer) {
	t.Helper()
	for _, st := range f.Stats() {
		if s := fmt.Sprintf("%+v", st); strings.Contains(s, srtPass) || strings.Contains(s, srtWrong) {
			t.Errorf("the passphrase is in Stats: %s", s)
		}
	}
	if s := logs.String(); strings.Contains(s, srtPass) || strings.Contains(s, srtWrong) {
		t.Errorf("the passphrase is in the logs:\n%s", s)
	}
}

// TestSRTToListener pushes 4 s of a channel to ffmpeg as an SRT listener with a passphrase:
// every frame arrives and decodes as h264 + aac; the passphrase is never shown; after Close no
// ffmpeg is left, running or a zombie (goleak checks the goroutines).
func TestSRTToListener(t *testing.T) {
	fr := demuxtest.Frames(t, "4")
	port := testpeers.FreeUDPPort(t)
	l := testpeers.FFmpegSRTListener(t, port, srtPass)
	var logs fftest.Buffer
	f := srtFanout(t, port, srtPass, &logs)
	defer f.Close()

	if err := pace(t, f, fr, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, f, 0)
	st := f.Stats()[0]
	if st.State != StateRecording || st.Transport != "srt" || st.LastError != "" || st.PacketsDropped != 0 {
		t.Errorf("stats %+v", st)
	}
	var wantFrames uint64
	videoFrames := 0
	for _, x := range fr {
		if x.Kind == demux.Video {
			wantFrames++
			videoFrames++
		} else {
			wantFrames += uint64(len(x.Data))
		}
	}
	if st.PacketsSent != wantFrames || st.BytesSent < uint64(len(fr))*188 {
		t.Errorf("%d frames and %d bytes sent, want %d frames", st.PacketsSent, st.BytesSent, wantFrames)
	}
	pids := senders(t)
	if len(pids) != 1 {
		t.Errorf("ffmpeg senders while recording: %v, want one", pids)
	}
	// what ps shows
	for _, pid := range pids {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || strings.Contains(string(cmdline), srtPass) || !strings.Contains(string(cmdline), "srt://") {
			t.Errorf("ffmpeg's command line: %q (%v)", cmdline, err)
		}
	}

	f.Close()
	for _, pid := range pids {
		if ourChild(pid) {
			t.Errorf("the sending ffmpeg %d is left after Close, running or not reaped", pid)
		}
	}
	l.Wait(t, 15*time.Second) // its caller has gone
	checkSecret(t, f, &logs)

	streams, err := fftest.Probe(l.Out, "-count_packets")
	if err != nil {
		t.Fatal(err)
	}
	fftest.CheckAV(t, streams, fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2,
		VideoPackets: videoFrames})
	for _, s := range streams {
		if s.CodecType == "audio" && s.NbPackets != fmt.Sprint(wantFrames-uint64(videoFrames)) {
			t.Errorf("audio has %s frames, want %d", s.NbPackets, wantFrames-uint64(videoFrames))
		}
	}
}

// TestSRTListenerRestart stops the listener mid-stream (as an operator does, and as a crash
// does) and starts it again on its port: the destination sends to the new one within 5 s.
func TestSRTListenerRestart(t *testing.T) {
	testpeers.Need(t, "srt-tools", "srt-live-transmit")
	fr := demuxtest.Frames(t, "2")
	for _, c := range []struct {
		name string
		stop func(*testpeers.SRTListener)
	}{
		{"stopped", (*testpeers.SRTListener).Stop},
		{"killed", (*testpeers.SRTListener).Kill},
	} {
		t.Run(c.name, func(t *testing.T) { srtListenerRestart(t, fr, c.stop) })
	}
}

func srtListenerRestart(t *testing.T, fr []*demux.Frame, stopListener func(*testpeers.SRTListener)) {
	port := testpeers.FreeUDPPort(t)
	l := testpeers.SRTLiveTransmit(t, port, "")
	var logs fftest.Buffer
	f := srtFanout(t, port, "", &logs)
	t.Cleanup(f.Close) // after feedLive's feeder has stopped
	feedLive(t, f, fr)
	waitState(t, f, 0, StateRecording)
	fftest.WaitFor(t, 5*time.Second, "the first listener receiving", func() bool { return l.Received() > 0 })

	stopListener(l)
	lost := time.Now()
	fftest.WaitFor(t, 15*time.Second, "the destination to see the listener gone", func() bool {
		return f.Stats()[0].State != StateRecording
	})
	t.Logf("the destination saw the listener gone after %v: %s", time.Since(lost).Round(time.Millisecond),
		f.Stats()[0].LastError)
	if e := f.Stats()[0].LastError; !strings.Contains(e, "was lost") {
		t.Errorf("cause %q, want the connection lost", e)
	}

	back := testpeers.SRTLiveTransmit(t, port, "")
	up := time.Now()
	fftest.WaitFor(t, 5*time.Second, "the destination sending to the listener that is back", func() bool {
		return back.Received() > 0
	})
	t.Logf("sending again %v after the listener was back; %+v", time.Since(up).Round(time.Millisecond), f.Stats()[0])
	if st := f.Stats()[0]; st.Reconnects != 1 {
		t.Errorf("%d reconnects, want 1", st.Reconnects)
	}
}

// TestSRTRefused has the session refused, or unanswered: a cause that says why, the state not
// recording, no passphrase shown.
func TestSRTRefused(t *testing.T) {
	for _, c := range []struct {
		name             string
		listener, sender string
		noListener       bool
		want             string
	}{
		{"passphrase mismatch", srtPass, srtWrong, false, "the passphrase (passphrase_file, passphrase_env) differs from the listener's"},
		{"no passphrase", srtPass, "", false, "one of the two has a passphrase and the other none"},
		{"no listener", "", srtPass, true, "no SRT listener answered at 127.0.0.1:"},
	} {
		t.Run(c.name, func(t *testing.T) {
			port := testpeers.FreeUDPPort(t)
			var l *testpeers.SRTListener
			if !c.noListener {
				l = testpeers.FFmpegSRTListener(t, port, c.listener)
			}
			var logs fftest.Buffer
			f := srtFanout(t, port, c.sender, &logs)
			defer f.Close()
			fr := demuxtest.Frames(t, "1")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var wg sync.WaitGroup
			defer wg.Wait()
			defer cancel()
			wg.Go(func() {
				if err := pace(t, f, fr, time.Now(), ctx.Done()); err != nil {
					t.Error(err)
				}
			})
			fftest.WaitFor(t, 10*time.Second, "a cause", func() bool { return f.Stats()[0].LastError != "" })
			st := f.Stats()[0]
			t.Logf("%s", st.LastError)
			if !strings.Contains(st.LastError, c.want) {
				t.Errorf("cause %q, want %q", st.LastError, c.want)
			}
			if st.State == StateRecording || st.Reconnects != 0 || st.PacketsSent != 0 {
				t.Errorf("stats %+v", st)
			}
			cancel()
			wg.Wait()
			f.Close()
			checkSecret(t, f, &logs)
			if l != nil && l.Received() != 0 {
				t.Errorf("the listener received %d bytes", l.Received())
			}
		})
	}
}

// TestSRTHold holds the channel as the supervisor does (a keyframe every 500 ms, no silence:
// the audio pauses): the listener keeps receiving frames throughout.
func TestSRTHold(t *testing.T) {
	testpeers.Need(t, "srt-tools", "srt-live-transmit")
	fr := demuxtest.Frames(t, "1")
	port := testpeers.FreeUDPPort(t)
	l := testpeers.SRTLiveTransmit(t, port, srtPass)
	var logs fftest.Buffer
	f := srtFanout(t, port, srtPass, &logs)
	defer f.Close()

	// the time from the session's start (its first frame) to the listener's first packet
	var firstAt time.Time
	var wg sync.WaitGroup
	watching := make(chan struct{})
	wg.Go(func() {
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for l.Received() == 0 {
			select {
			case <-watching:
				return
			case <-tick.C:
			}
		}
		firstAt = time.Now()
	})
	start := time.Now()
	if err := pace(t, f, fr, start, nil); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "the listener receiving", func() bool { return l.Received() > 0 })
	waitSettled(t, f, 0)
	close(watching)
	wg.Wait()
	if firstAt.IsZero() {
		t.Fatalf("the listener received nothing\n%s\n%s", l.Stderr(), logs.String())
	}
	t.Logf("the first packet reached the listener %v after the session's first frame (ffmpeg's output open "+
		"after %v)", firstAt.Sub(start).Round(time.Millisecond), f.Stats()[0].ConnectedSince.Sub(start).Round(time.Millisecond))
	sentLive := f.Stats()[0].PacketsSent

	// 4 s of hold: what the listener has grows in every second of it
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	holds := 0
	size := l.Received()
	for i := range 8 {
		now := <-tick.C
		if err := f.Hold(now, nil); err != nil {
			t.Fatal(err)
		}
		holds++
		if i%2 == 1 {
			if got := l.Received(); got <= size {
				t.Errorf("the listener received nothing in the hold's second %d", i/2+1)
			} else {
				size = got
			}
		}
	}
	waitSettled(t, f, 0)
	st := f.Stats()[0]
	if held := st.PacketsSent - sentLive; held != uint64(holds) || st.State != StateRecording || st.Reconnects != 0 {
		t.Errorf("%d held frames sent of %d; %+v", held, holds, st)
	}
	f.Close()
	l.Stop()
	streams, err := fftest.Probe(l.Out, "-count_packets", "-select_streams", "v")
	if err != nil {
		t.Fatal(err)
	}
	live := 0
	for _, x := range fr {
		if x.Kind == demux.Video {
			live++
		}
	}
	if n, _ := strconv.Atoi(streams[0].NbPackets); len(streams) != 1 || n != live+holds {
		t.Errorf("the listener has %d video frames, want the %d live ones and the %d held", n, live, holds)
	}
	checkSecret(t, f, &logs)
}

// TestSRTStalledChild stops the sending ffmpeg (SIGSTOP), as a hung one: the Fanout goes on
// unblocked, the destination shows stalled once the pipe is full, and its session ends after
// srtStallEnd with a cause; the stopped ffmpeg is killed and reaped.
func TestSRTStalledChild(t *testing.T) {
	testpeers.Need(t, "srt-tools", "srt-live-transmit")
	fr := demuxtest.Frames(t, "2")
	port := testpeers.FreeUDPPort(t)
	testpeers.SRTLiveTransmit(t, port, "")
	var logs fftest.Buffer
	f := srtFanout(t, port, "", &logs)
	defer f.Close()

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	// slowest is the longest WriteFrame: it must never wait on the destination
	var mu sync.Mutex
	var slowest time.Duration
	wg.Go(func() {
		for start := time.Now(); ; start = start.Add(2 * time.Second) {
			for _, x := range fr {
				at := start.Add(time.Duration(x.DTS-fr[0].DTS) * time.Second / 90000)
				select {
				case <-stop:
					return
				case <-time.After(time.Until(at)):
				}
				began := time.Now()
				if err := f.WriteFrame(x); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				slowest = max(slowest, time.Since(began))
				mu.Unlock()
			}
			f.Discontinuity()
		}
	})
	waitState(t, f, 0, StateRecording)
	pids := senders(t)
	if len(pids) != 1 {
		t.Fatalf("ffmpeg senders: %v, want one", pids)
	}
	pid := pids[0]
	stopped := time.Now()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	waitState(t, f, 0, StateStalled)
	st := f.Stats()[0]
	t.Logf("stalled %v after SIGSTOP: %s", time.Since(stopped).Round(time.Millisecond), st.LastError)
	if st.BytesWaiting == 0 || st.StalledSince.IsZero() {
		t.Errorf("stalled without bytes waiting: %+v", st)
	}
	fftest.WaitFor(t, srtStallEnd+10*time.Second, "the stalled session to end", func() bool {
		return strings.Contains(f.Stats()[0].LastError, "has taken nothing")
	})
	t.Logf("ended %v after SIGSTOP: %s", time.Since(stopped).Round(time.Millisecond), f.Stats()[0].LastError)
	fftest.WaitFor(t, 5*time.Second, "the stopped ffmpeg reaped", func() bool { return !ourChild(pid) })
	waitState(t, f, 0, StateRecording) // a new session
	mu.Lock()
	defer mu.Unlock()
	if slowest > 50*time.Millisecond {
		t.Errorf("a WriteFrame took %v", slowest)
	}
}

// TestSRTTimestampWrap sends a session whose channel time crosses a multiple of 2^33 ticks 2 s
// in, where MPEG-TS timestamps wrap (every 26.5 h): every frame reaches the listener, and its
// timestamps go on forward.
func TestSRTTimestampWrap(t *testing.T) {
	testpeers.Need(t, "srt-tools", "srt-live-transmit")
	fr := demuxtest.Frames(t, "4")
	port := testpeers.FreeUDPPort(t)
	l := testpeers.SRTLiveTransmit(t, port, "")
	var logs fftest.Buffer
	f := srtFanout(t, port, "", &logs)
	defer f.Close()
	// as a StateFile restores it: channel time goes on from last (see Fanout.write)
	f.wmu.Lock()
	const tsWrap = 1 << 33
	wrap := (f.clock.at(time.Now())/tsWrap + 1) * tsWrap
	f.last, f.started, f.restart = wrap-2*90000, true, true
	f.wmu.Unlock()
	if err := pace(t, f, fr, time.Now(), nil); err != nil {
		t.Fatal(err)
	}
	waitSettled(t, f, 0)
	st := f.Stats()[0]
	if st.State != StateRecording || st.PacketsDropped != 0 || st.Reconnects != 0 || st.LastError != "" {
		t.Errorf("stats %+v", st)
	}
	f.Close()
	l.Stop()

	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts",
		"-of", "csv=p=0", l.Out).Output()
	if err != nil {
		t.Fatal(err)
	}
	var pts []int64
	for _, line := range strings.Fields(string(out)) {
		v, err := strconv.ParseInt(strings.TrimSuffix(line, ","), 10, 64)
		if err != nil {
			t.Fatalf("ffprobe: %q", line)
		}
		pts = append(pts, v)
	}
	video := 0
	for _, x := range fr {
		if x.Kind == demux.Video {
			video++
		}
	}
	if len(pts) != video {
		t.Errorf("%d video frames received, want %d", len(pts), video)
	}
	for i := 1; i < len(pts); i++ {
		if d := pts[i] - pts[i-1]; d <= 0 || d > 90000/5 {
			t.Fatalf("video frame %d at %d after %d: time jumps by %d ticks", i, pts[i], pts[i-1], d)
		}
	}
}

// TestSRTCause reads the causes from what ffmpeg 5.1 with libsrt 1.5.1 printed in each case
// (seen in the tests above, and by hand for the listener killed mid-stream and the audio found
// too late).
func TestSRTCause(t *testing.T) {
	const host = "127.0.0.1:9000"
	for _, c := range []struct {
		name      string
		connected bool
		lines     []string
		want      string
	}{
		{"wrong passphrase", false, []string{
			"Stream #0:1[0x101]: Audio: aac (LC) ([15][0][0][0] / 0x000F), 48000 Hz, stereo, fltp, 130 kb/s",
			"19:47:07.471215/SRT:RcvQ:w1!W:SRT.cn: processAsyncConnectRequest: REJECT reported from HS processing: Incorrect passphrase - not processing further",
			"[srt @ 0x55c672f52e00] Connection to srt://127.0.0.1:9000 failed: Input/output error",
			"srt://127.0.0.1:9000: Input/output error",
		}, "the SRT listener at 127.0.0.1:9000 refused the connection (Incorrect passphrase): the passphrase (passphrase_file, passphrase_env) differs"},
		{"another rejection", false, []string{
			"19:47:07.471215/SRT:RcvQ:w1!W:SRT.cn: processAsyncConnectRequest: REJECT reported from HS processing: Peer rejected connection - not processing further",
			"[srt @ 0x55c672f52e00] Connection to srt://127.0.0.1:9000 failed: Input/output error",
		}, "refused the connection (Peer rejected connection): a passphrase that differs from the listener's, or a stream ID"},
		{"no listener", false, []string{
			"[srt @ 0x55b35be2b440] Connection to srt://127.0.0.1:9000 failed: Input/output error",
			"srt://127.0.0.1:9000: Input/output error",
		}, "no SRT listener answered at 127.0.0.1:9000 within 3s"},
		{"lost", true, []string{
			"Stream #0:1 -> #0:1 (copy)",
			"av_interleaved_write_frame(): Input/output error",
			"Error writing trailer of srt://127.0.0.1:9000: Input/output error",
			"Error closing file srt://127.0.0.1:9000: Input/output error",
			"Conversion failed!",
		}, "the SRT connection to 127.0.0.1:9000 was lost"},
		{"no audio parameters", false, []string{
			"[mpegts @ 0x55dc8bd16700] sample rate not set",
			"Could not write header for output file #0 (incorrect codec parameters ?): Invalid argument",
			"Conversion failed!",
		}, "ffmpeg could not open its SRT output to 127.0.0.1:9000: Could not write header"},
	} {
		if err := srtCause(host, c.connected, &exec.ExitError{}, c.lines); !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
