package supervisor

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
)

func TestArgsTestsrc(t *testing.T) {
	got, err := Args(testProfile())
	if err != nil {
		t.Fatal(err)
	}
	want := "-hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 " +
		"-re -f lavfi -i testsrc2=size=1280x720:rate=25 " +
		"-re -f lavfi -i sine=frequency=1000:sample_rate=48000 " +
		"-map 0:v -vf format=yuv420p,setsar=1,setparams=range=tv:color_primaries=unknown:color_trc=unknown:colorspace=unknown " +
		"-c:v libx264 -preset veryfast -tune zerolatency -profile:v high -pix_fmt yuv420p " +
		"-chroma_sample_location left -b:v 2500000 -maxrate 2500000 -bufsize 5000000 -g 50 -keyint_min 50 -sc_threshold 0 " +
		"-map 1:a -c:a aac -b:a 128000 -ar 48000 -ac 2 " +
		"-f mpegts -flush_packets 1 -muxdelay 0 -muxpreload 0 -omit_video_pes_length 0 pipe:1"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("argv\n got %s\nwant %s", s, want)
	}
}

// Parts of the argv that the cases below share.
const (
	argsGlobal = "-hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1"
	argsOutput = "-f mpegts -flush_packets 1 -muxdelay 0 -muxpreload 0 -omit_video_pes_length 0 pipe:1"
	argsRate   = "-chroma_sample_location left -b:v 2500000 -maxrate 2500000 -bufsize 5000000 -g 50"
	argsX264   = "-c:v libx264 -preset veryfast -tune zerolatency -profile:v high -pix_fmt yuv420p " + argsRate + " -keyint_min 50 -sc_threshold 0"
	argsAAC    = "-c:a aac -b:a 128000 -ar 48000 -ac 2"
	// argsFit fits a picture of unknown size into 1280x720; argsYUV and argsNV12 make every
	// input's SPS the same (see normalize).
	argsFit     = "scale=w='trunc(iw*sar/2)*2':h=ih,scale=1280:720:force_original_aspect_ratio=decrease:out_range=tv,pad=1280:720:-1:-1"
	argsTags    = "setsar=1,setparams=range=tv:color_primaries=unknown:color_trc=unknown:colorspace=unknown"
	argsYUV     = "format=yuv420p," + argsTags
	argsNV12    = "format=nv12," + argsTags
	argsScale25 = "-vf fps=25," + argsFit + "," + argsYUV
)

// TestArgs checks the command line of every source kind and encoder, from the global options
// to liveinject's own output part.
func TestArgs(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*profiles.Channel)
		want   string // between argsGlobal and argsOutput
	}{{
		name: "testsrc without audio",
		change: func(ch *profiles.Channel) {
			ch.Audio.Encoder = "none"
		},
		want: "-re -f lavfi -i testsrc2=size=1280x720:rate=25 -map 0:v -vf " + argsYUV + " " + argsX264,
	}, {
		name: "v4l2 capture at another rate, alsa sound",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "v4l2", Device: "/dev/video0", InputFormat: "mjpeg",
				Size: profiles.Size{Width: 1280, Height: 720}, FPS: 30, Audio: "alsa:hw:1,0"}
		},
		want: "-f v4l2 -thread_queue_size 512 -input_format mjpeg -video_size 1280x720 -framerate 30 -i /dev/video0 " +
			"-f alsa -thread_queue_size 512 -i hw:1,0 " +
			"-map 0:v -vf fps=25," + argsYUV + " " + argsX264 + " -map 1:a " + argsAAC,
	}, {
		name: "v4l2 as the device likes, pulse sound, nvenc",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "v4l2", Device: "/dev/video1", Audio: "pulse:default"}
			ch.Video.Encoder, ch.Video.Preset = "h264_nvenc", "p3"
		},
		want: "-f v4l2 -thread_queue_size 512 -i /dev/video1 -f pulse -thread_queue_size 512 -i default " +
			"-map 0:v " + argsScale25 + " -c:v h264_nvenc -preset p3 -tune ll -zerolatency 1 -profile:v high " +
			"-pix_fmt yuv420p -rc cbr -bf 0 " + argsRate + " -no-scenecut 1 -map 1:a " + argsAAC,
	}, {
		name: "v4l2 camera that encodes, copied, sound not wanted",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "v4l2", Device: "/dev/video2", InputFormat: "h264", Audio: "alsa:hw:1,0"}
			ch.Video.Encoder, ch.Audio.Encoder = "copy", "none"
		},
		want: "-f v4l2 -thread_queue_size 512 -input_format h264 -i /dev/video2 -map 0:v -c:v copy",
	}, {
		name: "rtsp camera copied",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://admin:secret@cam.example/stream1", Timeout: profiles.Duration(5 * time.Second)}
			ch.Video.Encoder, ch.Audio.Encoder = "copy", "copy"
		},
		want: "-rtsp_transport tcp -timeout 5000000 -i rtsp://admin:secret@cam.example/stream1 " +
			"-map 0:v:0 -c:v copy -map 0:a:0? -c:a copy",
	}, {
		name: "rtsp camera transcoded with vaapi",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://cam.example/s", Timeout: profiles.Duration(2 * time.Second)}
			ch.Video.Encoder, ch.Video.Preset, ch.Video.Profile, ch.Video.VAAPIDevice = "h264_vaapi", "", "baseline", "/dev/dri/renderD128"
		},
		want: "-vaapi_device /dev/dri/renderD128 -rtsp_transport tcp -timeout 2000000 -i rtsp://cam.example/s " +
			"-map 0:v:0 -vf fps=25," + argsFit + "," + argsNV12 + ",hwupload -c:v h264_vaapi -profile:v constrained_baseline " +
			"-rc_mode CBR -bf 0 " + argsRate + " -map 0:a:0? " + argsAAC,
	}, {
		name: "file with qsv",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "file", Path: "/srv/loop.mp4"}
			ch.Video.Encoder, ch.Video.Profile = "h264_qsv", "main"
		},
		want: "-re -stream_loop -1 -i /srv/loop.mp4 -map 0:v:0 -vf fps=25," + argsFit + "," + argsNV12 +
			" -c:v h264_qsv -preset veryfast -profile:v main -pix_fmt nv12 -bf 0 -async_depth 1 " + argsRate +
			" -adaptive_i 0 -map 0:a:0? " + argsAAC,
	}, {
		name: "ffmpeg input args and extra output args",
		change: func(ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "ffmpeg"}
			ch.FFmpeg = profiles.FFmpeg{
				InputArgs:       []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"},
				ExtraOutputArgs: []string{"-vf", "yadif"},
			}
		},
		want: "-re -f lavfi -i testsrc2=size=320x240:rate=25 -map 0:v:0 " + argsScale25 + " " + argsX264 +
			" -map 0:a:0? " + argsAAC + " -vf yadif",
	}, {
		name: "testsrc with vaapi on another GPU",
		change: func(ch *profiles.Channel) {
			ch.Audio.Encoder = "none"
			ch.Video.Encoder, ch.Video.Preset, ch.Video.VAAPIDevice = "h264_vaapi", "", "/dev/dri/renderD129"
		},
		want: "-vaapi_device /dev/dri/renderD129 -re -f lavfi -i testsrc2=size=1280x720:rate=25 " +
			"-map 0:v -vf " + argsNV12 + ",hwupload -c:v h264_vaapi -profile:v high -rc_mode CBR -bf 0 " + argsRate,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			ch := testProfile()
			tc.change(&ch)
			got, err := Args(ch)
			if err != nil {
				t.Fatal(err)
			}
			if s, want := strings.Join(got, " "), argsGlobal+" "+tc.want+" "+argsOutput; s != want {
				t.Errorf("argv\n got %s\nwant %s", s, want)
			}
		})
	}
}

// TestArgsHardwareEncodersParse runs the command lines of the hardware encoders, which this
// machine cannot encode with, far enough to see that ffmpeg knows every option they give it:
// it fails at opening the GPU, not at reading its arguments.
func TestArgsHardwareEncodersParse(t *testing.T) {
	fftest.Require(t)
	for _, v := range []profiles.Video{
		{Encoder: "h264_nvenc", Preset: "p3", Profile: "high"},
		{Encoder: "h264_qsv", Preset: "veryfast", Profile: "main"},
		{Encoder: "h264_vaapi", Profile: "baseline", VAAPIDevice: "/dev/dri/renderD128"},
	} {
		t.Run(v.Encoder, func(t *testing.T) {
			ch := testProfile()
			ch.Video.Encoder, ch.Video.Preset, ch.Video.Profile, ch.Video.VAAPIDevice = v.Encoder, v.Preset, v.Profile, v.VAAPIDevice
			ch.Video.Size, ch.Video.Bitrate = profiles.Size{Width: 320, Height: 240}, 500_000
			args, err := Args(ch)
			if err != nil {
				t.Fatal(err)
			}
			// Where the hardware is there, ffmpeg encodes until the deadline ends it.
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, "ffmpeg", args...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			cmd.Run() //nolint:errcheck // it fails without the hardware; stderr says how
			for _, bad := range []string{"Unrecognized option", "Error splitting the argument list", "Error setting option"} {
				if strings.Contains(stderr.String(), bad) {
					t.Errorf("ffmpeg did not take the arguments:\n%s", stderr.String())
				}
			}
		})
	}
}

func TestArgsUnknownSource(t *testing.T) {
	p := testProfile()
	p.Source.Kind = "hdmi"
	if _, err := Args(p); err == nil || !strings.Contains(err.Error(), `source kind "hdmi"`) {
		t.Errorf("error %v, want one naming the source kind", err)
	}
}
