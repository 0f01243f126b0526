package profiles

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDecodeSourceKinds decodes a profile of each source kind and encoder and checks what the
// supervisor gets: the keys given, and the defaults that depend on the kind or the encoder.
func TestDecodeSourceKinds(t *testing.T) {
	const dest = "[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	x264 := builtinDefaults().Video
	x264.Preset = "veryfast"
	tests := []struct {
		name   string
		src    string
		source Source
		video  Video
		audio  string // the audio encoder
		ffmpeg FFmpeg
	}{{
		name: "v4l2 with every key",
		src: `[source]
kind = "v4l2"
device = "/dev/v4l/by-id/usb-cam"
input_format = "mjpeg"
size = "1920x1080"
fps = 30
audio = "alsa:hw:1,0"
`,
		source: Source{Kind: "v4l2", Device: "/dev/v4l/by-id/usb-cam", InputFormat: "mjpeg", Size: Size{1920, 1080}, FPS: 30, Audio: "alsa:hw:1,0"},
		video:  x264,
		audio:  "aac",
	}, {
		name:   "v4l2 defaults",
		src:    "[source]\nkind = \"v4l2\"\n",
		source: Source{Kind: "v4l2", Device: "/dev/video0"},
		video:  x264,
		audio:  "aac",
	}, {
		name:   "v4l2 camera that encodes, copied",
		src:    "[source]\nkind = \"v4l2\"\ninput_format = \"h264\"\naudio = \"pulse:default\"\n[video]\nencoder = \"copy\"\n",
		source: Source{Kind: "v4l2", Device: "/dev/video0", InputFormat: "h264", Audio: "pulse:default"},
		video:  Video{Encoder: "copy", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25},
		audio:  "aac",
	}, {
		name:   "rtsp camera copied, with credentials in the URL",
		src:    "[source]\nkind = \"rtsp\"\nurl = \"rtsp://admin:secret@cam.example/stream1\"\n[video]\nencoder = \"copy\"\n[audio]\nencoder = \"copy\"\n",
		source: Source{Kind: "rtsp", URL: "rtsp://admin:secret@cam.example/stream1", Timeout: Duration(5 * time.Second)},
		video:  Video{Encoder: "copy", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25},
		audio:  "copy",
	}, {
		name:   "rtsp transcoded with nvenc",
		src:    "[source]\nkind = \"rtsp\"\nurl = \"rtsps://cam.example/s\"\ntimeout = \"2s\"\n[video]\nencoder = \"h264_nvenc\"\nprofile = \"main\"\n",
		source: Source{Kind: "rtsp", URL: "rtsps://cam.example/s", Timeout: Duration(2 * time.Second)},
		video:  Video{Encoder: "h264_nvenc", Preset: "p3", Profile: "main", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25},
		audio:  "aac",
	}, {
		name:   "file relative to the profile, vaapi",
		src:    "[source]\nkind = \"file\"\npath = \"../media/loop.mp4\"\n[video]\nencoder = \"h264_vaapi\"\n",
		source: Source{Kind: "file", Path: "/etc/liveinject/media/loop.mp4"},
		video:  Video{Encoder: "h264_vaapi", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25, VAAPIDevice: "/dev/dri/renderD128"},
		audio:  "aac",
	}, {
		name:   "absolute file, qsv with its preset",
		src:    "[source]\nkind = \"file\"\npath = \"/srv/loop.ts\"\n[video]\nencoder = \"h264_qsv\"\npreset = \"fast\"\n[audio]\nencoder = \"none\"\n",
		source: Source{Kind: "file", Path: "/srv/loop.ts"},
		video:  Video{Encoder: "h264_qsv", Preset: "fast", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25},
		audio:  "none",
	}, {
		name: "ffmpeg escape hatch",
		src: `[source]
kind = "ffmpeg"
[ffmpeg]
input_args = ["-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"]
extra_output_args = ["-vf", "yadif"]
[video]
vaapi_device = "/dev/dri/renderD129"
encoder = "h264_vaapi"
`,
		source: Source{Kind: "ffmpeg"},
		video:  Video{Encoder: "h264_vaapi", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second), Size: Size{1280, 720}, FPS: 25, VAAPIDevice: "/dev/dri/renderD129"},
		audio:  "aac",
		ffmpeg: FFmpeg{InputArgs: []string{"-re", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25"}, ExtraOutputArgs: []string{"-vf", "yadif"}},
	}, {
		name:   "empty arrays are no arrays",
		src:    "[source]\nkind = \"testsrc\"\n[ffmpeg]\nextra_output_args = []\n",
		source: Source{Kind: "testsrc"},
		video:  x264,
		audio:  "aac",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, errs := decodeTest("/etc/liveinject/profiles/p.toml", "p", []byte(tt.src+dest), "")
			if len(errs) > 0 {
				t.Fatalf("errors: %v", errs)
			}
			if !reflect.DeepEqual(ch.Source, tt.source) {
				t.Errorf("source %+v\nwant   %+v", ch.Source, tt.source)
			}
			if ch.Video != tt.video {
				t.Errorf("video %+v\nwant  %+v", ch.Video, tt.video)
			}
			if ch.Audio.Encoder != tt.audio {
				t.Errorf("audio encoder %q, want %q", ch.Audio.Encoder, tt.audio)
			}
			// the stop and stall timings are not the point here: their defaults
			tt.ffmpeg.StopGrace, tt.ffmpeg.StallTimeout = defaultStopGrace, defaultStallTimeout
			if !reflect.DeepEqual(ch.FFmpeg, tt.ffmpeg) {
				t.Errorf("ffmpeg %#v, want %#v", ch.FFmpeg, tt.ffmpeg)
			}
		})
	}
}

func TestDecodeSourceErrors(t *testing.T) {
	const dest = "[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{{
		name: "key of another kind",
		src:  "[source]\nkind = \"testsrc\"\ndevice = \"/dev/video0\"\nurl = \"rtsp://cam/x\"\n",
		want: []string{
			`p.toml:3: source.device: not used by source kind "testsrc" (it is a key of kind "v4l2")`,
			`p.toml:4: source.url: not used by source kind "testsrc" (it is a key of kind "rtsp")`,
		},
	}, {
		name: "misspelt source key",
		src:  "[source]\nkind = \"v4l2\"\ndevcie = \"/dev/video0\"\n",
		want: []string{`p.toml:3: unknown key "source.devcie" (did you mean "device"?)`},
	}, {
		name: "v4l2 values",
		src:  "[source]\nkind = \"v4l2\"\ndevice = \"video0\"\nsize = \"1281x720\"\nfps = 500\naudio = \"jack:system\"\n",
		want: []string{
			`p.toml:3: source.device: "video0" is not an absolute path such as "/dev/video0"`,
			`p.toml:4: source.size: 1281x720: width and height must be even and greater than 0`,
			`p.toml:5: source.fps: 500 is out of range 1..120`,
			`p.toml:6: source.audio: "jack:system" is not "alsa:DEVICE" (e.g. "alsa:hw:1,0") or "pulse:DEVICE" (e.g. "pulse:default")`,
		},
	}, {
		name: "rtsp without url",
		src:  "[source]\nkind = \"rtsp\"\ntimeout = \"0s\"\n",
		want: []string{`p.toml:1: source.url: missing: source kind "rtsp" pulls from a URL, e.g. "rtsp://camera.example/stream1"`},
	}, {
		name: "rtsp url, password redacted",
		src:  "[source]\nkind = \"rtsp\"\nurl = \"http://admin:secret@cam.example/x\"\ntimeout = \"-1s\"\n",
		want: []string{
			`p.toml:3: source.url: http://admin:xxxxx@cam.example/x: scheme must be rtsp or rtsps`,
			`p.toml:4: source.timeout: -1s must be greater than 0`,
		},
	}, {
		name: "file without path",
		src:  "[source]\nkind = \"file\"\n",
		want: []string{`p.toml:1: source.path: missing: source kind "file" plays a file`},
	}, {
		name: "ffmpeg without input_args",
		src:  "[source]\nkind = \"ffmpeg\"\n",
		want: []string{`p.toml:2: source.kind: kind "ffmpeg" needs [ffmpeg] input_args`},
	}, {
		name: "input_args for another kind",
		src:  "[source]\nkind = \"testsrc\"\n[ffmpeg]\ninput_args = [\"-i\", \"x\"]\n",
		want: []string{`p.toml:4: ffmpeg.input_args: used by source kind "ffmpeg" only, not "testsrc"`},
	}, {
		name: "input_args without an input",
		src:  "[source]\nkind = \"ffmpeg\"\n[ffmpeg]\ninput_args = [\"-re\"]\n",
		want: []string{`p.toml:4: ffmpeg.input_args: has no "-i": give the whole input part, e.g. ["-f", "lavfi", "-i", "testsrc2"]`},
	}, {
		name: "input_args empty",
		src:  "[source]\nkind = \"ffmpeg\"\n[ffmpeg]\ninput_args = []\n",
		want: []string{`p.toml:4: ffmpeg.input_args: has no "-i": give the whole input part, e.g. ["-f", "lavfi", "-i", "testsrc2"]`},
	}, {
		name: "input_args not strings",
		src:  "[source]\nkind = \"ffmpeg\"\n[ffmpeg]\ninput_args = [\n  \"-i\",\n  5,\n]\nextra_output_args = \"-vf yadif\"\n",
		want: []string{
			`p.toml:6: ffmpeg.input_args: want a string, got integer 5`,
			`p.toml:8: ffmpeg.extra_output_args: want an array of strings, got string "-vf yadif"`,
		},
	}, {
		name: "unknown ffmpeg key",
		src:  "[source]\nkind = \"testsrc\"\n[ffmpeg]\noutput_args = []\n",
		want: []string{`p.toml:4: unknown key "ffmpeg.output_args"`},
	}, {
		name: "copy with encoding settings",
		src:  "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[video]\nencoder = \"copy\"\nsize = \"640x360\"\nfps = 25\npreset = \"fast\"\n[audio]\nencoder = \"copy\"\nbitrate = \"64k\"\n",
		want: []string{
			`p.toml:6: video.size: not used by encoder "copy", which passes the source's stream on as it is`,
			`p.toml:7: video.fps: not used by encoder "copy", which passes the source's stream on as it is`,
			`p.toml:8: video.preset: not used by encoder "copy", which passes the source's stream on as it is`,
			`p.toml:11: audio.bitrate: not used by encoder "copy", which passes the source's stream on as it is`,
		},
	}, {
		name: "copy of a test pattern",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nencoder = \"copy\"\n[audio]\nencoder = \"copy\"\n",
		want: []string{
			`p.toml:4: video.encoder: video encoder "copy" passes H.264 on, but a testsrc source is raw video: choose an encoder such as libx264`,
			`p.toml:6: audio.encoder: audio encoder "copy" passes AAC on, but a testsrc source's sound is raw: use "aac"`,
		},
	}, {
		name: "copy of a camera that does not encode",
		src:  "[source]\nkind = \"v4l2\"\ninput_format = \"mjpeg\"\n[video]\nencoder = \"copy\"\n",
		want: []string{`p.toml:5: video.encoder: video encoder "copy" passes H.264 on: it needs source.input_format = "h264" (a camera that encodes), else choose an encoder such as libx264`},
	}, {
		name: "preset of another encoder",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nencoder = \"h264_nvenc\"\npreset = \"veryfast\"\n",
		want: []string{`p.toml:5: video.preset: "veryfast" is not a h264_nvenc preset (p1, p2, p3, p4, p5, p6, p7)`},
	}, {
		name: "preset of an encoder without presets",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nencoder = \"h264_vaapi\"\npreset = \"fast\"\n",
		want: []string{`p.toml:5: video.preset: encoder "h264_vaapi" has no preset`},
	}, {
		name: "vaapi_device without vaapi, and a bad profile",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nvaapi_device = \"/dev/dri/renderD128\"\nprofile = \"high10\"\n",
		want: []string{
			`p.toml:4: video.vaapi_device: used by encoder "h264_vaapi" only, not "libx264"`,
			`p.toml:5: video.profile: "high10" is not one of baseline, main, high`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decodeTest("p.toml", "p", []byte(tt.src+dest), "")
			if got := errorStrings(errs); !slices.Equal(got, tt.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestDecodeSourceOverDefaults checks the encoder settings a profile inherits from the main
// config: those the profile's encoder has no use for are ignored, and a preset that does not
// suit it is blamed on the profile's encoder.
func TestDecodeSourceOverDefaults(t *testing.T) {
	const src = "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[video]\nencoder = \"%s\"\n[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	cfg := &Config{Path: "main.toml", Defaults: builtinDefaults()}
	cfg.Defaults.Video.Preset = "fast"
	for _, tc := range []struct {
		encoder, preset string
		err             string
	}{
		{encoder: "libx264", preset: "fast"},
		{encoder: "copy", preset: "fast"}, // ignored: nothing in the argv
		{encoder: "h264_vaapi", preset: "fast"},
		{encoder: "h264_nvenc", err: `p.toml:5: video.encoder: the preset of the defaults: "fast" is not a h264_nvenc preset (p1, p2, p3, p4, p5, p6, p7); set preset here too`},
	} {
		res := decodeChannel("p.toml", "p", []byte(strings.Replace(src, "%s", tc.encoder, 1)), cfg)
		if got := errorStrings(res.errs); tc.err == "" && len(got) > 0 || tc.err != "" && !slices.Equal(got, []string{tc.err}) {
			t.Errorf("%s: errors %q, want %q", tc.encoder, got, tc.err)
		}
		if tc.err == "" && res.channel.Video.Preset != tc.preset {
			t.Errorf("%s: preset %q, want %q", tc.encoder, res.channel.Video.Preset, tc.preset)
		}
	}
}

// TestDefaultsCopyErrors checks that [defaults.video] is held to the same rules as a profile's
// [video].
func TestDefaultsCopyErrors(t *testing.T) {
	_, errs := decodeConfig("c.toml", []byte("[defaults.video]\nencoder = \"copy\"\nbitrate = \"1M\"\n[defaults.audio]\nencoder = \"copy\"\nchannels = 1\n"))
	want := []string{
		`c.toml:3: defaults.video.bitrate: not used by encoder "copy", which passes the source's stream on as it is`,
		`c.toml:6: defaults.audio.channels: not used by encoder "copy", which passes the source's stream on as it is`,
	}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDiffSources checks that every new setting restarts ffmpeg when it changes.
func TestDiffSources(t *testing.T) {
	base := Channel{Name: "cam", Source: Source{Kind: "rtsp", URL: "rtsp://cam/1", Timeout: Duration(time.Second)},
		Video: Video{Encoder: "copy"}, Audio: Audio{Encoder: "copy"}}
	for name, change := range map[string]func(*Channel){
		"url":               func(c *Channel) { c.Source.URL = "rtsp://cam/2" },
		"timeout":           func(c *Channel) { c.Source.Timeout = Duration(2 * time.Second) },
		"preset":            func(c *Channel) { c.Video.Preset = "fast" },
		"extra_output_args": func(c *Channel) { c.FFmpeg.ExtraOutputArgs = []string{"-vf", "yadif"} },
		"input_args":        func(c *Channel) { c.FFmpeg.InputArgs = []string{"-i", "x"} },
	} {
		changed := base
		change(&changed)
		if c := Diff([]Channel{base}, []Channel{changed}); len(c.Restart) != 1 {
			t.Errorf("%s changed: %+v, want a restart", name, c)
		}
	}
}

func TestDecodeStopAndStall(t *testing.T) {
	const base = "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\n"
	ch, errs := decodeTest("p.toml", "p", []byte(base+"[ffmpeg]\nstop_grace = \"500ms\"\nstall_timeout = \"30s\"\n"), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ch.FFmpeg.StopGrace != Duration(500*time.Millisecond) || ch.FFmpeg.StallTimeout != Duration(30*time.Second) {
		t.Errorf("ffmpeg %+v, want stop_grace 500ms, stall_timeout 30s", ch.FFmpeg)
	}
	_, errs = decodeTest("p.toml", "p", []byte(base+"[ffmpeg]\nstop_grace = \"0s\"\nstall_timeout = \"200ms\"\n"), "")
	want := []string{
		`p.toml:6: ffmpeg.stop_grace: 0s is too short: at least 100ms`,
		`p.toml:7: ffmpeg.stall_timeout: 200ms is too short: at least 1s`,
	}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
