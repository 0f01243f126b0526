package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
)

// TestClassify runs the real ffmpeg into the failures a box meets and checks the cause that
// status shows for each, from ffmpeg's own stderr and exit.
func TestClassify(t *testing.T) {
	fftest.Require(t)
	port := fftest.FreePort(t) // nothing listens there
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"unknown encoder", []string{"-f", "lavfi", "-i", "testsrc", "-t", "1", "-c:v", "nonexistent", "-f", "null", "-"},
			CauseUnsupportedEncoder},
		{"encoder without its hardware", []string{"-f", "lavfi", "-i", "testsrc", "-t", "1", "-c:v", "h264_nvenc", "-f", "null", "-"},
			CauseUnsupportedEncoder},
		{"camera unplugged", []string{"-f", "v4l2", "-i", "/dev/video99", "-f", "null", "-"},
			CauseDeviceNotFound},
		{"GPU missing", []string{"-vaapi_device", "/nonexistent/renderD128", "-f", "lavfi", "-i", "testsrc", "-t", "1", "-f", "null", "-"},
			CauseDeviceNotFound},
		{"IP camera down", []string{"-rtsp_transport", "tcp", "-i", "rtsp://127.0.0.1:" + strconv.Itoa(port) + "/cam", "-f", "null", "-"},
			CauseConnectionRefused},
		{"bad option", []string{"-f", "lavfi", "-i", "testsrc", "-t", "1", "-nonexistent-option", "-f", "null", "-"},
			"exited 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "warning"}, tc.args...)...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			exit := cmd.Run()
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if got := classify(errors.New("ffmpeg ended"), exit, lines); got != tc.want {
				t.Errorf("cause %q, want %q; ffmpeg said:\n%s", got, tc.want, stderr.String())
			}
		})
	}
	if got := classify(&FFmpegNotFoundError{Path: "x"}, nil, nil); got != CauseFFmpegNotFound {
		t.Errorf("ffmpeg missing: %q", got)
	}
	if got := classify(errStalled, nil, []string{"Connection refused"}); got != CauseStalled {
		t.Errorf("stall: %q, want stalled whatever stderr says", got)
	}
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("%w: the video is H.265/HEVC", demux.ErrUnsupportedCodec), CauseUnsupportedCodec},
		{fmt.Errorf("%w within 1048576 bytes", demux.ErrProbeLimit), CauseMissingTrack},
	} {
		if got := classify(tc.err, nil, []string{"Connection refused"}); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.err, got, tc.want)
		}
	}
}

// TestProgress checks that a real ffmpeg's -progress figures reach the channel's status while
// it runs, and that they stay out of the stderr lines kept to explain an exit.
func TestProgress(t *testing.T) {
	fftest.Require(t)
	ch := testProfile()
	ch.Video.Size.Width, ch.Video.Size.Height = 320, 240
	sink := &recorder{}
	ch.FFmpeg.StopGrace = profiles.Duration(time.Second)
	c := &encoder{Profile: ch, FFmpeg: "ffmpeg", Sink: sink}
	done := make(chan error, 1)
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	go func() { done <- c.Run(ctx) }()
	fftest.WaitFor(t, 20*time.Second, "progress figures", func() bool {
		p := c.Status().Progress
		return p.Frame >= 25 && p.FPS > 10 && p.BitrateKbps > 0 && p.Speed > 0.5
	})
	st := c.Status()
	if st.State != StateRunning || st.PID == 0 {
		t.Errorf("status %+v, want running with a pid", st)
	}
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st = c.Status()
	for _, l := range st.LastStderr {
		if strings.Contains(l, "=") && !strings.Contains(l, " ") {
			t.Errorf("progress line %q kept among stderr lines %q", l, st.LastStderr)
		}
	}
	if st.Progress != (Progress{}) || st.State != StateStopped {
		t.Errorf("after the stop: %+v, want stopped without figures", st)
	}
}

func TestProgressParse(t *testing.T) {
	var p Progress
	for _, l := range []string{"frame=51", "fps=25.35", "stream_0_0_q=28.0", "bitrate=2330.6kbits/s",
		"total_size=11656", "out_time_us=40011", "out_time=00:00:00.040011", "dup_frames=2", "drop_frames=1",
		"speed=1.01x", "progress=continue"} {
		if !p.parse(l) {
			t.Errorf("%q not taken as progress", l)
		}
	}
	want := Progress{Frame: 51, FPS: 25.35, BitrateKbps: 2330.6, DupFrames: 2, DropFrames: 1, Speed: 1.01}
	if p != want {
		t.Errorf("%+v, want %+v", p, want)
	}
	for _, l := range []string{"[h264 @ 0x1] error=5", "Error while opening encoder for output stream #0:0", "speed"} {
		if p.parse(l) {
			t.Errorf("%q taken as progress", l)
		}
	}
	if !p.parse("bitrate=N/A") || p.BitrateKbps != 0 {
		t.Errorf("bitrate=N/A: %+v", p)
	}
}
