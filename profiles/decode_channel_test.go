package profiles

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// validProfile is the smallest profile that loads: everything else has a default.
const validProfile = `[source]
kind = "testsrc"

[[destination]]
url = "rtsp://dss.example/{channel}.sdp"
`

// errorStrings renders errs as the operator sees them.
func errorStrings(errs Errors) []string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return s
}

func TestDecodeChannelDefaults(t *testing.T) {
	ch, errs := decodeTest("dir/lobby.toml", "lobby", []byte(validProfile), "")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := Channel{
		Name:   "lobby",
		File:   "dir/lobby.toml",
		Hold:   Duration(time.Second),
		Source: Source{Kind: "testsrc"},
		// no backups, but a slate: it goes on air when the source alone fails
		FailoverAfter: Duration(3 * time.Second),
		ReturnAfter:   Duration(10 * time.Second),
		SlateAfter:    Duration(10 * time.Second),
		Slate:         Slate{Text: "Back soon"},
		Alarms: Alarms{BlackAfter: Duration(5 * time.Second), BlackThreshold: 0.10, BlackRatio: 0.98,
			FrozenAfter: Duration(10 * time.Second), FrozenNoise: -60, SilentAfter: Duration(10 * time.Second), SilentLevel: -60},
		Video: Video{
			Encoder: "libx264",
			Preset:  "veryfast",
			Profile: "high",
			Bitrate: 2_500_000,
			GOP:     Duration(2 * time.Second),
			Size:    Size{Width: 1280, Height: 720},
			FPS:     25,
		},
		Audio:  Audio{Encoder: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
		FFmpeg: FFmpeg{StopGrace: Duration(3 * time.Second), StallTimeout: Duration(10 * time.Second)},
		Destinations: []Destination{
			{URL: "rtsp://dss.example/lobby.sdp", Transport: "tcp", Verify: true},
		},
	}
	if !reflect.DeepEqual(ch, want) {
		t.Errorf("got  %+v\nwant %+v", ch, want)
	}
}

func TestDecodeChannelValues(t *testing.T) {
	src := `[source]
kind = "testsrc"
[video]
bitrate = 4000000
gop = "500ms"
size = "640x360"
fps = 30
[audio]
encoder = "none"
bitrate = "64k"
sample_rate = 44100
channels = 1
[[destination]]
url = "rtsp://user:secret@a.example:554/live/{channel}.sdp"
transport = "udp"
[[destination]]
url = "rtsps://b.example/{channel}/{channel}.sdp"
transport = "auto"
[[destination]]
url = "rtsp://{relay}/{channel}.sdp"
`
	ch, errs := decodeTest("cam.toml", "cam", []byte(src), ":7554")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	wantVideo := Video{Encoder: "libx264", Preset: "veryfast", Profile: "high", Bitrate: 4_000_000, GOP: Duration(500 * time.Millisecond), Size: Size{640, 360}, FPS: 30}
	if ch.Video != wantVideo {
		t.Errorf("video = %+v, want %+v", ch.Video, wantVideo)
	}
	wantAudio := Audio{Encoder: "none", Bitrate: 64_000, SampleRate: 44100, Channels: 1}
	if ch.Audio != wantAudio {
		t.Errorf("audio = %+v, want %+v", ch.Audio, wantAudio)
	}
	wantDests := []Destination{
		{URL: "rtsp://user:secret@a.example:554/live/cam.sdp", Transport: "udp", Verify: true},
		{URL: "rtsps://b.example/cam/cam.sdp", Transport: "auto", Verify: true},
		// {relay} stays: the relay's port is known only once it listens.
		{URL: "rtsp://{relay}/cam.sdp", Transport: "tcp", Verify: true},
	}
	if !slices.Equal(ch.Destinations, wantDests) {
		t.Errorf("destinations = %+v, want %+v", ch.Destinations, wantDests)
	}
}

func TestDecodeChannelInlineDestinations(t *testing.T) {
	src := `source = { kind = "testsrc" }
destination = [
  { url = "rtsp://a.example/x.sdp" },
  { url = "rtsp://b.example/x.sdp", transport = "carrier-pigeon" },
]
`
	_, errs := decodeTest("x.toml", "x", []byte(src), "")
	want := []string{`x.toml:4: destination.transport: unknown transport "carrier-pigeon" (known: tcp, udp, auto)`}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestDecodeChannelErrors(t *testing.T) {
	// Each case is a profile with the line numbers of its mistakes; dest is appended to cases
	// that are not about destinations, after their own lines.
	const dest = "[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	tests := []struct {
		name  string
		src   string
		relay string
		want  []string
	}{{
		name: "syntax",
		src:  "[source]\nkind = \"testsrc\"\nfps = = 3\n" + dest,
		want: []string{`p.toml:3: expected value but found '=' instead`},
	}, {
		name: "duplicate key",
		src:  "[source]\nkind = \"testsrc\"\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:3: Key 'source.kind' has already been defined.`},
	}, {
		name: "unknown key",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nbitrat = \"1M\"\n" + dest,
		want: []string{`p.toml:4: unknown key "video.bitrat" (did you mean "bitrate"?)`},
	}, {
		name: "unknown dotted key",
		src:  "video.bitrat = \"1M\"\n[source]\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: unknown key "video.bitrat" (did you mean "bitrate"?)`},
	}, {
		name: "misspelt table",
		src:  "[source]\nkind = \"testsrc\"\n[vidoe]\nfps = 30\n" + dest,
		want: []string{`p.toml:3: unknown key "vidoe" (did you mean "video"?)`},
	}, {
		name: "misspelt key with two edits",
		src:  "[source]\nkind = \"testsrc\"\n[audio]\nsamplerate = 44100\n" + dest,
		want: []string{`p.toml:4: unknown key "audio.samplerate" (did you mean "sample_rate"?)`},
	}, {
		name: "unknown table reported once",
		src:  "[source]\nkind = \"testsrc\"\n\n[encoder]\nname = \"x\"\npreset = \"fast\"\n" + dest,
		want: []string{`p.toml:4: unknown key "encoder"`},
	}, {
		name: "unknown key is case-sensitive",
		src:  "[source]\nKind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: source.kind: missing (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`, `p.toml:2: unknown key "source.Kind" (did you mean "kind"?)`},
	}, {
		name: "unknown key in second destination",
		src: "[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtsp://a.example/x.sdp\"\n" +
			"[[destination]]\nurl = \"rtsp://b.example/x.sdp\"\nusr = \"me\"\n",
		want: []string{`p.toml:7: unknown key "destination.usr" (did you mean "user"?)`},
	}, {
		name: "bitrate not a number",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nbitrate = \"abc\"\n" + dest,
		want: []string{`p.toml:4: video.bitrate: invalid bitrate "abc" (want bits per second, e.g. "2500k", "2.5M" or "128000")`},
	}, {
		name: "bitrate zero",
		src:  "[source]\nkind = \"testsrc\"\n[audio]\nbitrate = 0\n" + dest,
		want: []string{`p.toml:4: audio.bitrate: 0 is outside 8k..512k (bits per second: "2500k", "4M")`},
	}, {
		name: "video bitrate of 300 bits per second",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nbitrate = \"300\"\n" + dest,
		want: []string{`p.toml:4: video.bitrate: 300 is outside 16k..800M (bits per second: "2500k", "4M")`},
	}, {
		name: "size beyond H.264",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nsize = \"16384x720\"\n" + dest,
		want: []string{`p.toml:4: video.size: 16384x720: at most 8192 in either dimension (H.264's largest levels)`},
	}, {
		name: "stop_grace absurd",
		src:  "[source]\nkind = \"testsrc\"\n[ffmpeg]\nstop_grace = \"1000000h\"\n" + dest,
		want: []string{`p.toml:4: ffmpeg.stop_grace: 41666d16h0m0s is too long: at most 1h0m0s`},
	}, {
		name: "destination port",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example:70000/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://dss.example:70000/x.sdp: port 70000 is outside 1..65535`},
	}, {
		name: "user with CRLF",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\nuser = \"me\\r\\nX-Evil: 1\"\n",
		want: []string{`p.toml:5: destination.user: holds a control character`},
	}, {
		name: "URL user with CRLF, percent-encoded",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://u%0D%0AX-Injected%3A%201%0D%0AX-Pad%3A%20x:pw@127.0.0.1:5554/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://u%0D%0AX-Injected%3A%201%0D%0AX-Pad%3A%20x:xxxxx@127.0.0.1:5554/x.sdp: the user holds a control character`},
	}, {
		name: "URL password with LF, percent-encoded",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://u:p%0Aw@h.example/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://u:xxxxx@h.example/x.sdp: the password holds a control character`},
	}, {
		name: "URL user with a quote, percent-encoded",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://u%22@h.example/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://u%22@h.example/x.sdp: the user holds '"': a Digest user name is sent between quotes, as it is`},
	}, {
		name: "user with a quote",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\nuser = 'u\", realm=\"evil'\n",
		want: []string{`p.toml:5: destination.user: holds '"': a Digest user name is sent between quotes, as it is`},
	}, {
		name: "user with a backslash",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\nuser = 'u\\'\n",
		want: []string{`p.toml:5: destination.user: holds '\': a Digest user name is sent between quotes, as it is`},
	}, {
		name: "user with a colon",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\nuser = \"bcast:1\"\n",
		want: []string{`p.toml:5: destination.user: holds ':', which Basic authentication takes for the end of the user name`},
	}, {
		name: "password with a control character",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\nuser = \"u\"\npassword = \"p\\tw\"\n",
		want: []string{`p.toml:6: destination.password: holds a control character`},
	}, {
		name: "source URL user with LF",
		src:  "[source]\nkind = \"rtsp\"\nurl = \"rtsp://u%0A@cam.example/x\"\n" + dest,
		want: []string{`p.toml:3: source.url: rtsp://u%0A@cam.example/x: the user holds a control character`},
	}, {
		name: "hold not a duration",
		src:  "hold = \"forever\"\n[source]\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: hold: time: invalid duration "forever": want "off" or a duration such as "1s"`},
	}, {
		name: "hold too short",
		src:  "hold = \"10ms\"\n[source]\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: hold: 10ms is too short: at least 100ms: want "off" or a duration such as "1s"`},
	}, {
		name: "name ..",
		src:  "name = \"..\"\n[source]\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: name: ".." is not a name`},
	}, {
		name: "bitrate float",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nbitrate = 2.5\n" + dest,
		want: []string{`p.toml:4: video.bitrate: want a string, got float 2.5`},
	}, {
		name: "size not WxH",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nsize = \"big\"\n" + dest,
		want: []string{`p.toml:4: video.size: invalid size "big" (want WIDTHxHEIGHT, e.g. "1280x720")`},
	}, {
		name: "size odd",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nsize = \"1281x720\"\n" + dest,
		want: []string{`p.toml:4: video.size: 1281x720: width and height must be even and greater than 0`},
	}, {
		name: "size zero",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nsize = \"0x720\"\n" + dest,
		want: []string{`p.toml:4: video.size: 0x720: width and height must be even and greater than 0`},
	}, {
		name: "gop without unit",
		src:  "[source]\nkind = \"testsrc\"\n[video]\ngop = 5\n" + dest,
		want: []string{`p.toml:4: video.gop: want a string, got integer 5`},
	}, {
		name: "gop bad string",
		src:  "[source]\nkind = \"testsrc\"\n[video]\ngop = \"5\"\n" + dest,
		want: []string{`p.toml:4: video.gop: invalid duration "5" (want a number with a unit, e.g. "2s" or "500ms")`},
	}, {
		name: "gop zero",
		src:  "[source]\nkind = \"testsrc\"\n[video]\ngop = \"0s\"\n" + dest,
		want: []string{`p.toml:4: video.gop: 0s must be greater than 0`},
	}, {
		name: "fps string",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nfps = \"25\"\n" + dest,
		want: []string{`p.toml:4: video.fps: want an integer, got string "25"`},
	}, {
		name: "fps zero",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nfps = 0\n" + dest,
		want: []string{`p.toml:4: video.fps: 0 is out of range 1..120`},
	}, {
		name: "fps too high",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nfps = 121\n" + dest,
		want: []string{`p.toml:4: video.fps: 121 is out of range 1..120`},
	}, {
		name: "video encoder",
		src:  "[source]\nkind = \"testsrc\"\n[video]\nencoder = \"libx265\"\n" + dest,
		want: []string{`p.toml:4: video.encoder: unsupported encoder "libx265" (supported: libx264, h264_nvenc, h264_vaapi, h264_qsv, copy)`},
	}, {
		name: "audio encoder",
		src:  "[source]\nkind = \"testsrc\"\n[audio]\nencoder = \"mp3\"\n" + dest,
		want: []string{`p.toml:4: audio.encoder: unsupported encoder "mp3" (supported: aac, copy, none)`},
	}, {
		name: "sample rate",
		src:  "[source]\nkind = \"testsrc\"\n[audio]\nsample_rate = 44000\n" + dest,
		want: []string{`p.toml:4: audio.sample_rate: 44000 is not an AAC sample rate (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200 or 96000)`},
	}, {
		name: "audio channels",
		src:  "[source]\nkind = \"testsrc\"\n[audio]\nchannels = 6\n" + dest,
		want: []string{`p.toml:4: audio.channels: 6 is not 1 (mono) or 2 (stereo)`},
	}, {
		name: "source kind unknown",
		src:  "[source]\nkind = \"hdmi\"\n" + dest,
		want: []string{`p.toml:2: source.kind: unknown kind "hdmi" (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`},
	}, {
		name: "source kind missing, at its table",
		src:  "# lobby\n[source]\n" + dest,
		want: []string{`p.toml:2: source.kind: missing (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`},
	}, {
		name: "source missing",
		src:  dest,
		want: []string{`p.toml: source.kind: missing (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`},
	}, {
		name: "section not a table",
		src:  "video = \"hd\"\n[source]\nkind = \"testsrc\"\n" + dest,
		want: []string{`p.toml:1: video: want a table, got string "hd"`},
	}, {
		name: "no destination",
		src:  "[source]\nkind = \"testsrc\"\n",
		want: []string{`p.toml: no [[destination]]: a channel needs at least one`},
	}, {
		name: "empty destination array",
		src:  "destination = []\n[source]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:1: no [[destination]]: a channel needs at least one`},
	}, {
		name: "destination not a table",
		src:  "destination = \"rtsp://h.example/x.sdp\"\n[source]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:1: destination: want an array of tables ([[destination]]), got string "rtsp://h.example/x.sdp"`},
	}, {
		name: "destination array of strings",
		src:  "destination = [\n  \"rtsp://h.example/x.sdp\",\n]\n[source]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:2: destination: want a table, got string "rtsp://h.example/x.sdp"`},
	}, {
		name: "url missing",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\ntransport = \"tcp\"\n",
		want: []string{`p.toml:3: destination.url: missing`},
	}, {
		name: "url scheme",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"http://h.example/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: http://h.example/x.sdp: scheme must be rtsp, rtsps, rtmp, rtmps or srt`},
	}, {
		name: "url without host",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp:///x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp:///x.sdp has no host`},
	}, {
		name: "url unparsable, password redacted",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://me:pa/ss@h.example/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://me:xxxxx@h.example/x.sdp is not a valid URL`},
	}, {
		name: "url bad port",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example:rtsp/x.sdp\"\n",
		want: []string{`p.toml:4: destination.url: not a valid URL: parse "rtsp://h.example:rtsp/x.sdp": invalid port ":rtsp" after host`},
	}, {
		name: "url with a fragment",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://me:pw@h.example/x.sdp#live\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://me:xxxxx@h.example/x.sdp#live has a fragment (#...): RTSP URLs have none, and the connection would be refused at every try (write a '#' in a password as %23)`},
	}, {
		name: "url with an empty fragment",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/x.sdp#\"\n",
		want: []string{`p.toml:4: destination.url: rtsp://h.example/x.sdp# has a fragment (#...): RTSP URLs have none, and the connection would be refused at every try (write a '#' in a password as %23)`},
	}, {
		name: "url with a query",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/x?jwt=abc\"\n",
	}, {
		name: "url unknown placeholder",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/{chanel}.sdp\"\n",
		want: []string{`p.toml:4: destination.url: unknown placeholder "{chanel}" in rtsp://h.example/{chanel}.sdp (known: {channel}, {relay})`},
	}, {
		name: "relay placeholder without relay",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://{relay}/{channel}.sdp\"\n",
		want: []string{`p.toml:4: destination.url: {relay} needs relay.listen in the main config`},
	}, {
		name:  "relay placeholder with relay",
		src:   "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://{relay}/{channel}.sdp\"\n",
		relay: "127.0.0.1:0",
	}, {
		name: "transport",
		src:  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\ntransport = \"quic\"\n",
		want: []string{`p.toml:5: destination.transport: unknown transport "quic" (known: tcp, udp, auto)`},
	}, {
		name: "second destination's line",
		src: "[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtsp://a.example/x.sdp\"\ntransport = \"udp\"\n" +
			"[[destination]]\nurl = \"ftp://b.example/x.sdp\"\ntransport = \"ucp\"\n",
		want: []string{
			`p.toml:7: destination.url: ftp://b.example/x.sdp: scheme must be rtsp, rtsps, rtmp, rtmps or srt`,
			`p.toml:8: destination.transport: unknown transport "ucp" (known: tcp, udp, auto)`,
		},
	}, {
		name: "all mistakes of a file, in line order",
		src: `nam = "lobby"
[source]
kind = "hdmi"
[video]
bitrate = "fast"
size = "big"
fps = 0
gop = 5
[audio]
channels = 3
[[destination]]
url = "rtsp://a.example/x.sdp"
transport = "quic"
`,
		want: []string{
			`p.toml:1: unknown key "nam" (did you mean "name"?)`,
			`p.toml:3: source.kind: unknown kind "hdmi" (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`,
			`p.toml:5: video.bitrate: invalid bitrate "fast" (want bits per second, e.g. "2500k", "2.5M" or "128000")`,
			`p.toml:6: video.size: invalid size "big" (want WIDTHxHEIGHT, e.g. "1280x720")`,
			`p.toml:7: video.fps: 0 is out of range 1..120`,
			`p.toml:8: video.gop: want a string, got integer 5`,
			`p.toml:10: audio.channels: 3 is not 1 (mono) or 2 (stereo)`,
			`p.toml:13: destination.transport: unknown transport "quic" (known: tcp, udp, auto)`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decodeTest("p.toml", "p", []byte(tt.src), tt.relay)
			if got := errorStrings(errs); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestDecodeChannelName(t *testing.T) {
	for _, name := range []string{"lobby", "cam-2", "hall_A", "v1.2"} {
		if _, errs := decodeTest(name+".toml", name, []byte(validProfile), ""); len(errs) > 0 {
			t.Errorf("%s: %v", name, errs)
		}
	}
	_, errs := decodeTest("my cam.toml", "my cam", []byte(validProfile), "")
	want := []string{`my cam.toml: channel name (the file name) "my cam" may hold only letters, digits, '-', '_' and '.'; rename the file or set name`}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestDecodeChannelChannelPlaceholder(t *testing.T) {
	src := strings.Replace(validProfile, "{channel}.sdp", "live/{channel}/{channel}.sdp", 1)
	ch, errs := decodeTest("hall.toml", "hall", []byte(src), "")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if got, want := ch.Destinations[0].URL, "rtsp://dss.example/live/hall/hall.sdp"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
}

func TestNearest(t *testing.T) {
	known := []string{"encoder", "bitrate", "gop", "size", "fps"}
	for _, tc := range []struct{ key, want string }{
		{"bitrat", "bitrate"},
		{"birtate", "bitrate"}, // two neighbours swapped
		{"Encoder", "encoder"},
		{"ENCODER", "encoder"},
		{"gpo", "gop"},
		{"fsp", "fps"},
		{"fp", "fps"},
		{"gopp", "gop"},
		{"g", ""},                // too short to guess from
		{"bitrates2", "bitrate"}, // two edits in nine characters are allowed
		{"bitrates22", ""},       // three are not
		{"resolution", ""},
	} {
		if got := nearest(tc.key, known); got != tc.want {
			t.Errorf("nearest(%q) = %q, want %q", tc.key, got, tc.want)
		}
	}
}

// decodeTest decodes a profile on top of the built-in defaults, with relay.listen set to relay.
func decodeTest(file, name string, src []byte, relay string) (Channel, Errors) {
	cfg := &Config{Path: "main.toml", Relay: Relay{Listen: relay}, Defaults: builtinDefaults()}
	res := decodeChannel(file, name, src, cfg)
	return res.channel, res.errs
}
