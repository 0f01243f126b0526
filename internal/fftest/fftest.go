// Package fftest runs the real ffmpeg and ffprobe for tests.
package fftest

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"testing"
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

// ProbeError is a failed ffprobe run with what it printed.
type ProbeError struct {
	Err    error
	Stderr string
}

func (e *ProbeError) Error() string { return e.Err.Error() + ": " + e.Stderr }
