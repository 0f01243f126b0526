package supervisor

import (
	"strconv"
	"strings"
)

// Progress is one block of ffmpeg's -progress output: the encoder's own figures.
type Progress struct {
	// Frame counts the frames encoded in this run; DropFrames and DupFrames those dropped and
	// duplicated to keep the frame rate.
	Frame, DropFrames, DupFrames uint64
	FPS                          float64
	// BitrateKbps is the output's average bit rate so far, in kbit/s.
	BitrateKbps float64
	// Speed is encoding speed relative to real time: below 1 the box cannot keep up.
	Speed float64
}

// parse takes one line of -progress output into p and reports whether it was one.
func (p *Progress) parse(line string) bool {
	key, value, ok := strings.Cut(line, "=")
	if !ok {
		return false
	}
	value = strings.TrimSpace(value)
	u := func() uint64 { n, _ := strconv.ParseUint(value, 10, 64); return n }
	f := func(suffix string) float64 {
		x, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(value, suffix)), 64)
		return x
	}
	switch key {
	case "frame":
		p.Frame = u()
	case "fps":
		p.FPS = f("")
	case "bitrate":
		p.BitrateKbps = f("kbits/s")
	case "drop_frames":
		p.DropFrames = u()
	case "dup_frames":
		p.DupFrames = u()
	case "speed":
		p.Speed = f("x")
	case "total_size", "out_time_us", "out_time_ms", "out_time", "progress":
	default:
		// per-stream figures such as stream_0_0_q
		if !strings.HasPrefix(key, "stream_") || strings.ContainsAny(key, " \t") {
			return false
		}
	}
	return true
}
