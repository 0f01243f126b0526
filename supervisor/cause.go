package supervisor

import (
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"

	"github.com/liveinject/liveinject/demux"
)

// Causes of an ffmpeg run's end, as status shows them: short, stable words an operator (or an
// alert rule) can act on. The full message stays in Status.LastCause.
const (
	CauseDeviceBusy         = "device busy"
	CauseDeviceNotFound     = "device not found"
	CauseConnectionRefused  = "connection refused"
	CauseTimedOut           = "timed out"
	CauseUnsupportedEncoder = "unsupported encoder"
	CauseFFmpegNotFound     = "ffmpeg not found"
	CauseStalled            = "stalled"
	CauseKilled             = "killed"
	CauseStopped            = "stopped"           // liveinject stopped it
	CauseUnsupportedCodec   = "unsupported codec" // ffmpeg's output is not H.264/AAC
	CauseMissingTrack       = "missing track"     // a track of ffmpeg's output never sends data
	// CauseProfile: the channel's profile cannot run (no ffmpeg command, or a destination the
	// injector refuses); it waits for a new one.
	CauseProfile = "profile"
)

// stderrCauses maps what ffmpeg prints to a cause, first match wins. The texts are ffmpeg's
// own (libavdevice, libavformat's network code, the encoder lookup).
var stderrCauses = []struct {
	text, cause string
}{
	{"Device or resource busy", CauseDeviceBusy},
	{"Cannot open video device", CauseDeviceNotFound}, // with "No such file or directory" or a permission error
	{"Device creation failed", CauseDeviceNotFound},   // -vaapi_device without its GPU
	{"Connection refused", CauseConnectionRefused},
	{"Connection timed out", CauseTimedOut},
	{"Operation timed out", CauseTimedOut},
	{"Unknown encoder", CauseUnsupportedEncoder},
	{"Encoder not found", CauseUnsupportedEncoder},
	{"Error while opening encoder", CauseUnsupportedEncoder}, // a hardware encoder without its hardware
}

// classify names the cause of an ffmpeg run's end from the run's error, ffmpeg's exit and its
// last stderr lines: the most specific thing known wins.
func classify(err error, exit error, stderr []string) string {
	var nf *FFmpegNotFoundError
	switch {
	case errors.As(err, &nf):
		return CauseFFmpegNotFound
	case errors.Is(err, errStalled):
		return CauseStalled
	case errors.Is(err, demux.ErrUnsupportedCodec):
		return CauseUnsupportedCodec
	case errors.Is(err, demux.ErrProbeLimit):
		return CauseMissingTrack
	}
	for i := len(stderr) - 1; i >= 0; i-- {
		for _, c := range stderrCauses {
			if strings.Contains(stderr[i], c.text) {
				return c.cause
			}
		}
	}
	var ee *exec.ExitError
	if errors.As(exit, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return CauseKilled
		}
		return fmt.Sprintf("exited %d", ee.ExitCode())
	}
	if exit == nil {
		return "exited 0"
	}
	return "exited"
}
