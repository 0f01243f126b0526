package benchrig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Content is test content: a test pattern as H.264 (libx264, a keyframe every two seconds, a
// constant bit rate) with a 440 Hz tone as stereo AAC.
type Content struct {
	// FFmpeg is the ffmpeg binary that makes it.
	FFmpeg string
	// Dir holds the files; content made before with the same settings is used again.
	Dir string
	// Size is the picture size, "1280x720".
	Size string
	// FPS is the frame rate.
	FPS int
	// Bitrate is the video bit rate, "4M".
	Bitrate string
	// Duration is the content's length.
	Duration time.Duration
}

// Make makes the content once, in Dir, as Matroska for ffmpeg (which cannot send ADTS AAC from
// a TS over RTSP with -c copy) and the same streams as MPEG-TS for liveinject.
func (c Content) Make() (mkv, ts string, err error) {
	base := fmt.Sprintf("content-%s-%d-%s-%s", c.Size, c.FPS, c.Bitrate, c.Duration)
	mkv, ts = filepath.Join(c.Dir, base+".mkv"), filepath.Join(c.Dir, base+".ts")
	if _, err := os.Stat(ts); err == nil {
		return mkv, ts, nil
	}
	fmt.Fprintf(os.Stderr, "making %s of %s %d fps H.264 at %s with AAC...\n", c.Duration, c.Size, c.FPS, c.Bitrate)
	secs := strconv.FormatFloat(c.Duration.Seconds(), 'f', -1, 64)
	if err := c.ffmpeg("-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", c.Size, c.FPS),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", secs,
		"-c:v", "libx264", "-preset", "ultrafast", "-b:v", c.Bitrate, "-maxrate", c.Bitrate, "-bufsize", c.Bitrate,
		"-g", strconv.Itoa(2*c.FPS), "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k", "-ac", "2", "-y", mkv); err != nil {
		return "", "", err
	}
	// the MPEG-TS last: its presence says the content is whole
	if err := c.ffmpeg("-i", mkv, "-c", "copy", "-f", "mpegts", "-y", ts); err != nil {
		return "", "", err
	}
	return mkv, ts, nil
}

func (c Content) ffmpeg(args ...string) error {
	cmd := exec.Command(c.FFmpeg, append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, out)
	}
	return nil
}
