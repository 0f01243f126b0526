// Package supervisor runs one ffmpeg child per channel, feeds its MPEG-TS output through the
// demuxer to the channel's injector, and restarts it with backoff whenever it ends or stalls.
package supervisor

import (
	"fmt"
	"strconv"
	"strings"

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

// liveQueue is the packet queue of a capture input: a camera and a sound card read by separate
// threads overrun ffmpeg's default of 8 packets while the encoder starts.
const liveQueue = "512"

// input is the input part of a command line and what the output part needs to know of it.
type input struct {
	args []string
	// video and audio are the -map specifiers of the streams used; audio is "" when the input
	// has no sound, or none is wanted.
	video, audio string
	// size and fps are those of the input's pictures when liveinject chose them; zero when
	// the source decides, and the output is scaled and paced to [video]'s.
	size profiles.Size
	fps  int
}

// Args returns ffmpeg's argument list (without the binary) for a channel: capture, encode, and
// MPEG-TS to stdout. It is an argv, never a shell line.
func Args(ch profiles.Channel) ([]string, error) {
	// -progress: key=value figures on stderr every second, for status.
	args := []string{"-hide_banner", "-nostdin", "-loglevel", "warning", "-progress", "pipe:2", "-stats_period", "1"}
	if ch.Video.Encoder == profiles.EncoderVAAPI {
		// A global option: it opens the GPU for both the hwupload filter and the encoder.
		args = append(args, "-vaapi_device", ch.Video.VAAPIDevice)
	}
	in, err := inputArgs(ch)
	if err != nil {
		return nil, err
	}
	args = append(args, in.args...)

	args = append(args, "-map", in.video)
	args = append(args, videoArgs(ch.Video, in, videoAlarmFilters(ch.Alarms, ch.Video.FPS))...)
	if in.audio != "" {
		args = append(args, "-map", in.audio)
		args = append(args, audioArgs(ch.Audio, audioAlarmFilters(ch.Alarms))...)
	}
	args = append(args, ch.FFmpeg.ExtraOutputArgs...)
	return append(args, outputArgs...), nil
}

// inputArgs returns the input part of the channel's command line.
func inputArgs(ch profiles.Channel) (input, error) {
	s, v := ch.Source, ch.Video
	wantAudio := ch.Audio.Encoder != "none"
	// Sources that are files or streams: their first video stream, and their first audio
	// stream if they have one ("?": a camera without a microphone is no error).
	in := input{video: "0:v:0"}
	if wantAudio {
		in.audio = "0:a:0?"
	}
	switch s.Kind {
	case profiles.SourceTestsrc:
		// -re paces the generated pattern at its frame rate, as a camera would deliver it.
		in = input{video: "0:v", size: v.Size, fps: v.FPS}
		in.args = []string{"-re", "-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=%d", v.Size, v.FPS)}
		if wantAudio {
			in.args = append(in.args,
				"-re", "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=1000:sample_rate=%d", ch.Audio.SampleRate))
			in.audio = "1:a"
		}
	case profiles.SourceV4L2:
		in = input{video: "0:v", size: s.Size, fps: s.FPS}
		in.args = []string{"-f", "v4l2", "-thread_queue_size", liveQueue}
		if s.InputFormat != "" {
			in.args = append(in.args, "-input_format", s.InputFormat)
		}
		if s.Size != (profiles.Size{}) {
			in.args = append(in.args, "-video_size", s.Size.String())
		}
		if s.FPS != 0 {
			in.args = append(in.args, "-framerate", strconv.Itoa(s.FPS))
		}
		in.args = append(in.args, "-i", s.Device)
		if system, device, ok := strings.Cut(s.Audio, ":"); ok && wantAudio {
			in.args = append(in.args, "-f", system, "-thread_queue_size", liveQueue, "-i", device)
			in.audio = "1:a"
		}
	case profiles.SourceRTSP:
		// TCP: a camera's UDP packets get lost on the way and need ports opened. -timeout (in
		// microseconds) ends a read that hangs, so that a camera that went away is noticed
		// before the stall timeout.
		in.args = []string{"-rtsp_transport", "tcp", "-timeout", strconv.FormatInt(s.Timeout.Std().Microseconds(), 10), "-i", s.URL}
	case profiles.SourceFile:
		// Forever, at the file's own pace, as if it were live.
		in.args = []string{"-re", "-stream_loop", "-1", "-i", s.Path}
	case profiles.SourceFFmpeg:
		in.args = ch.FFmpeg.InputArgs
	case sourceSlate:
		in = slateInput(ch)
	default:
		return input{}, fmt.Errorf("channel %q: source kind %q is not supported", ch.Name, s.Kind)
	}
	return in, nil
}

// videoArgs returns the video encoder's part: filters, encoder and its settings. The filters
// are normalize's, and the alarms' checks (detect, see videoAlarmFilters) on a branch split off
// at their end, before the upload to the GPU: the picture as the channel has it, and frames the
// checks drop leave the encoder's alone. Every encoder gets a regular GOP (a keyframe every gop
// seconds, none in between for a scene cut), no B-frames, and a constant bitrate capped by a
// two-second buffer. A copied stream is not decoded: it has no filters, and no alarms.
func videoArgs(v profiles.Video, in input, detect []string) []string {
	if v.Encoder == profiles.EncoderCopy {
		return []string{"-c:v", "copy"}
	}
	var args []string
	vf := normalize(v, in)
	if len(detect) > 0 {
		last := "null"
		if n := len(vf); n > 0 && vf[n-1] == "hwupload" {
			vf, last = vf[:n-1], "hwupload"
		}
		graph := strings.Join(append(vf, "split[main][alarms]"), ",") +
			";[alarms]" + strings.Join(detect, ",") + ",nullsink;[main]" + last
		vf = []string{graph}
	}
	if len(vf) > 0 {
		args = append(args, "-vf", strings.Join(vf, ","))
	}
	gop := strconv.Itoa(max(1, int(v.GOP.Std().Seconds()*float64(v.FPS))))
	rate := strconv.FormatInt(int64(v.Bitrate), 10)
	args = append(args, "-c:v", v.Encoder)
	switch v.Encoder {
	case profiles.EncoderX264:
		// zerolatency: no B-frames, no lookahead, sliced threads.
		args = append(args, "-preset", v.Preset, "-tune", "zerolatency", "-profile:v", v.Profile, "-pix_fmt", "yuv420p")
	case profiles.EncoderNVENC:
		args = append(args, "-preset", v.Preset, "-tune", "ll", "-zerolatency", "1", "-profile:v", v.Profile,
			"-pix_fmt", "yuv420p", "-rc", "cbr", "-bf", "0")
	case profiles.EncoderQSV:
		args = append(args, "-preset", v.Preset, "-profile:v", v.Profile, "-pix_fmt", "nv12", "-bf", "0", "-async_depth", "1")
	case profiles.EncoderVAAPI:
		args = append(args, "-profile:v", vaapiProfile(v.Profile), "-rc_mode", "CBR", "-bf", "0")
	}
	// The chroma siting of an MJPEG camera (centre) would change the SPS; H.264's default is left.
	args = append(args, "-chroma_sample_location", "left")
	args = append(args,
		"-b:v", rate,
		"-maxrate", rate,
		"-bufsize", strconv.FormatInt(2*int64(v.Bitrate), 10),
		"-g", gop)
	switch v.Encoder {
	case profiles.EncoderX264:
		args = append(args, "-keyint_min", gop, "-sc_threshold", "0")
	case profiles.EncoderNVENC:
		args = append(args, "-no-scenecut", "1")
	case profiles.EncoderQSV:
		args = append(args, "-adaptive_i", "0")
	}
	return args
}

// normalize returns the filters that make every input of a channel (its source, its backups,
// its slate) come out of the encoder with the same SPS, so that the destinations see one stream
// across a switch: the channel's frame rate; its size, with the picture fitted and black bars
// rather than stretched (an input of unknown size is first brought to square pixels); limited
// range; square pixels; and colour tags cleared, since x264 writes them into the SPS. The
// colours are not converted (a matrix conversion costs a third more CPU at 720p): players
// take untagged HD for BT.709, as they did before. Inputs whose size and rate liveinject
// chose need none of the scaling and cost nothing measurable; others about 3 % (BENCHMARKS.md).
func normalize(v profiles.Video, in input) []string {
	var vf []string
	if in.fps != v.FPS {
		vf = append(vf, "fps="+strconv.Itoa(v.FPS))
	}
	if in.size != v.Size {
		w, h := v.Size.Width, v.Size.Height
		if in.size == (profiles.Size{}) {
			vf = append(vf, "scale=w='trunc(iw*sar/2)*2':h=ih")
		}
		vf = append(vf,
			fmt.Sprintf("scale=%d:%d:force_original_aspect_ratio=decrease:out_range=tv", w, h),
			fmt.Sprintf("pad=%d:%d:-1:-1", w, h))
	}
	format := "yuv420p"
	if v.Encoder == profiles.EncoderQSV || v.Encoder == profiles.EncoderVAAPI {
		format = "nv12"
	}
	vf = append(vf, "format="+format, "setsar=1",
		"setparams=range=tv:color_primaries=unknown:color_trc=unknown:colorspace=unknown")
	if v.Encoder == profiles.EncoderVAAPI {
		vf = append(vf, "hwupload")
	}
	return vf
}

// vaapiProfile names an H.264 profile as h264_vaapi does: it has only the constrained
// baseline profile, which every baseline decoder plays.
func vaapiProfile(profile string) string {
	if profile == "baseline" {
		return "constrained_baseline"
	}
	return profile
}

// audioArgs returns the audio encoder's part, with the alarms' detect filters; a copied stream
// has neither.
func audioArgs(a profiles.Audio, detect []string) []string {
	if a.Encoder == profiles.EncoderCopy {
		return []string{"-c:a", "copy"}
	}
	var args []string
	if len(detect) > 0 {
		args = append(args, "-af", strings.Join(detect, ","))
	}
	return append(args,
		"-c:a", a.Encoder,
		"-b:a", strconv.FormatInt(int64(a.Bitrate), 10),
		"-ar", strconv.Itoa(a.SampleRate),
		"-ac", strconv.Itoa(a.Channels),
	)
}
