// Package supervisor runs one ffmpeg child per channel, feeds its MPEG-TS output through the
// demuxer to the channel's injector, and restarts it with backoff whenever it ends or stalls.
package supervisor

import (
	"fmt"
	"strconv"

	"github.com/liveinject/liveinject/profiles"
)

// outputArgs is liveinject's side of every command line: MPEG-TS on stdout, written packet by
// packet with no muxing delay, and video PES with explicit lengths, so that a demuxer that
// checks them can emit an access unit without waiting for the next one (see demux's latency
// test for the one in use).
var outputArgs = []string{
	"-f", "mpegts",
	"-flush_packets", "1",
	"-muxdelay", "0",
	"-muxpreload", "0",
	"-omit_video_pes_length", "0",
	"pipe:1",
}

// Args returns ffmpeg's argument list (without the binary) for a channel: capture, encode, and
// MPEG-TS to stdout. It is an argv, never a shell line.
func Args(ch profiles.Channel) ([]string, error) {
	// -progress: key=value figures on stderr every second, for status.
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:2", "-stats_period", "1"}

	switch ch.Source.Kind {
	case "testsrc":
		v, a := ch.Video, ch.Audio
		// -re paces the generated pattern at its frame rate, as a camera would deliver it.
		args = append(args,
			"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%dx%d:rate=%d", v.Size.Width, v.Size.Height, v.FPS))
		if a.Encoder != "none" {
			args = append(args,
				"-re", "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=1000:sample_rate=%d", a.SampleRate))
		}
	default:
		return nil, fmt.Errorf("channel %q: source kind %q is not supported", ch.Name, ch.Source.Kind)
	}

	args = append(args, "-map", "0:v")
	args = append(args, videoArgs(ch.Video)...)
	if ch.Audio.Encoder != "none" {
		args = append(args, "-map", "1:a")
		args = append(args, audioArgs(ch.Audio)...)
	}
	return append(args, outputArgs...), nil
}

func videoArgs(v profiles.Video) []string {
	gop := max(1, int(v.GOP.Std().Seconds()*float64(v.FPS)))
	rate := strconv.FormatInt(int64(v.Bitrate), 10)
	return []string{
		"-c:v", v.Encoder,
		"-preset", "veryfast",
		"-tune", "zerolatency",
		"-pix_fmt", "yuv420p",
		"-b:v", rate,
		"-maxrate", rate,
		"-bufsize", strconv.FormatInt(2*int64(v.Bitrate), 10),
		// Regular GOPs: a keyframe every gop frames and never one in between for a scene cut.
		"-g", strconv.Itoa(gop),
		"-keyint_min", strconv.Itoa(gop),
		"-sc_threshold", "0",
	}
}

func audioArgs(a profiles.Audio) []string {
	return []string{
		"-c:a", a.Encoder,
		"-b:a", strconv.FormatInt(int64(a.Bitrate), 10),
		"-ar", strconv.Itoa(a.SampleRate),
		"-ac", strconv.Itoa(a.Channels),
	}
}
