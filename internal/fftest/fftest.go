// Package fftest runs the real ffmpeg and ffprobe for tests, and waits for what they do; and it
// runs the test binary again as a helper process (Child), such as a receiver for a benchmark.
package fftest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require fails the test, naming the fix, when ffmpeg or ffprobe is missing. It does not skip:
// the project's tests need the real ffmpeg, and `make test` installs it.
func Require(t testing.TB) {
	t.Helper()
	for _, bin := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s not found in PATH: install it (apt-get install -y ffmpeg, or run make deps)", bin)
		}
	}
}

// TS encodes a test pattern with a tone into an MPEG-TS file the way a channel's ffmpeg child does
// and returns its path. extra replaces the default encoding arguments when given.
func TS(t testing.TB, seconds string, extra ...string) string {
	t.Helper()
	Require(t)
	out := filepath.Join(t.TempDir(), "t.ts")
	args := []string{
		"-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
		"-t", seconds,
	}
	if len(extra) == 0 {
		extra = []string{"-c:v", "libx264", "-tune", "zerolatency", "-g", "50", "-c:a", "aac", "-ac", "2"}
	}
	args = append(args, extra...)
	args = append(args, "-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0",
		"-omit_video_pes_length", "0", "-y", out)
	if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making a test TS: %v\n%s", err, b)
	}
	return out
}

// Stream is what ffprobe says of one stream.
type Stream struct {
	CodecName  string `json:"codec_name"`
	CodecType  string `json:"codec_type"`
	Width      int    `json:"width"`
	Height     int    `json:"height"`
	SampleRate string `json:"sample_rate"`
	Channels   int    `json:"channels"`
	NbPackets  string `json:"nb_read_packets"`
}

// Packets is what ffprobe says of a file's streams and each of its packets.
type Packets struct {
	Packets []struct {
		CodecType string `json:"codec_type"`
		PTS       int64  `json:"pts"`
		DTS       int64  `json:"dts"`
		Duration  int64  `json:"duration"`
		Flags     string `json:"flags"`
	} `json:"packets"`
	Streams []Stream `json:"streams"`
}

// ProbePackets runs ffprobe on the file at path and returns its streams and packets.
func ProbePackets(t testing.TB, path string) Packets {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-show_packets", "-show_streams", "-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", path, err)
	}
	var p Packets
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatal(err)
	}
	return p
}

// Probe runs ffprobe with args before the input and returns the streams it found.
func Probe(input string, args ...string) ([]Stream, error) {
	full := append([]string{"-v", "error", "-show_streams", "-of", "json"}, args...)
	full = append(full, input)
	var stderr bytes.Buffer
	cmd := exec.Command("ffprobe", full...)
	cmd.Stderr = &stderr
	b, err := cmd.Output()
	if err != nil {
		return nil, &ProbeError{Err: err, Stderr: stderr.String()}
	}
	var res struct {
		Streams []Stream `json:"streams"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		return nil, err
	}
	return res.Streams, nil
}

// AV is what a test wants ffprobe to find: one H.264 video stream and one AAC audio stream.
type AV struct {
	Width, Height int
	SampleRate    int
	Channels      int
	VideoPackets  int // with ffprobe's -count_packets; 0: not checked
}

// CheckAV reports as test errors every way streams differ from want.
func CheckAV(t testing.TB, streams []Stream, want AV) {
	t.Helper()
	var video, audio int
	for _, s := range streams {
		switch s.CodecType {
		case "video":
			video++
			if s.CodecName != "h264" || s.Width != want.Width || s.Height != want.Height {
				t.Errorf("video %+v, want h264 %dx%d", s, want.Width, want.Height)
			}
			if want.VideoPackets != 0 && s.NbPackets != fmt.Sprint(want.VideoPackets) {
				t.Errorf("video has %s frames, want %d", s.NbPackets, want.VideoPackets)
			}
		case "audio":
			audio++
			if s.CodecName != "aac" || s.SampleRate != fmt.Sprint(want.SampleRate) || s.Channels != want.Channels {
				t.Errorf("audio %+v, want aac %d Hz, %d channels", s, want.SampleRate, want.Channels)
			}
		}
	}
	if video != 1 || audio != 1 {
		t.Errorf("%d video and %d audio streams, want one each: %+v", video, audio, streams)
	}
}

// ProbeError is a failed ffprobe run with what it printed.
type ProbeError struct {
	Err    error
	Stderr string
}

func (e *ProbeError) Error() string { return e.Err.Error() + ": " + e.Stderr }

// TCPPair returns the two ends of a TCP connection on 127.0.0.1, closed when the test ends.
func TCPPair(t testing.TB) (client, server net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	if server = <-accepted; server == nil {
		t.Fatal("no connection accepted")
	}
	t.Cleanup(func() { server.Close() })
	return client, server
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago, for peers such as ffmpeg
// that cannot be told to listen on port 0 and report it.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// FreeUDPPair returns an even UDP port and the next one, both free on 127.0.0.1 a moment ago,
// as addresses: gortsplib's server wants such a pair for RTP and RTCP.
func FreeUDPPair(t testing.TB) (rtpAddr, rtcpAddr string) {
	t.Helper()
	for range 100 {
		probe, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := probe.LocalAddr().(*net.UDPAddr).Port &^ 1
		probe.Close()
		a, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		a.Close()
		if err != nil {
			continue
		}
		b.Close()
		return fmt.Sprintf("127.0.0.1:%d", port), fmt.Sprintf("127.0.0.1:%d", port+1)
	}
	t.Fatal("no free UDP port pair")
	return "", ""
}

// Receiver starts ffmpeg as an RTSP server that accepts one publisher and writes what it
// receives to a TS file; wait returns that file once the publisher has gone.
func Receiver(t testing.TB) (url string, wait func() string) {
	t.Helper()
	Require(t)
	port := FreePort(t)
	url = fmt.Sprintf("rtsp://127.0.0.1:%d/live/x.sdp", port)
	out := filepath.Join(t.TempDir(), "rx.ts")
	var stderr bytes.Buffer
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "warning",
		"-rtsp_flags", "listen", "-listen_timeout", "20", "-i", url, "-c", "copy", "-f", "mpegts", out)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck
		cmd.Wait()         //nolint:errcheck
	})
	// ffmpeg takes a moment to listen. A test connection would be taken for the publisher, so
	// the kernel's socket table is asked instead.
	WaitFor(t, 10*time.Second, "ffmpeg receiver listening", func() bool { return listening(port) })
	return url, func() string {
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("ffmpeg receiver: %v\n%s", err, stderr.String())
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("ffmpeg receiver did not end after TEARDOWN\n%s", stderr.String())
		}
		return out
	}
}

// listening reports whether a socket listens on 127.0.0.1:port.
func listening(port int) bool {
	b, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		return false
	}
	want := fmt.Sprintf("0100007F:%04X", port)
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 3 && f[1] == want && f[3] == "0A" {
			return true
		}
	}
	return false
}

// WaitFor polls cond until it holds or the deadline passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Buffer collects output written from several goroutines, such as a child's stderr or a logger.
type Buffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	written chan struct{}
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case s.signalLocked() <- struct{}{}:
	default:
	}
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (s *Buffer) signal() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.signalLocked()
}

// signalLocked returns the channel that a write signals; the zero Buffer makes it on first use.
func (s *Buffer) signalLocked() chan struct{} {
	if s.written == nil {
		s.written = make(chan struct{}, 1)
	}
	return s.written
}

// WaitFor waits until the output contains sub.
func (s *Buffer) WaitFor(t testing.TB, sub string) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for !strings.Contains(s.String(), sub) {
		select {
		case <-s.signal():
		case <-deadline:
			t.Fatalf("output lacks %q:\n%s", sub, s)
		}
	}
}
