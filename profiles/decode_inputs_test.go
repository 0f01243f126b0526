package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDecodeBackups decodes the backups of each kind and checks what the supervisor gets: the
// keys given, and the defaults of each kind filled in as the source's are.
func TestDecodeBackups(t *testing.T) {
	src := `failover_after = "500ms"
return_after = "1m"
slate_after = "2s"
[source]
kind = "v4l2"
audio = "pulse:default"
[[backup]]
kind = "rtsp"
url = "rtsp://admin:secret@cam2.example/stream1"
[[backup]]
kind = "v4l2"
device = "/dev/video2"
input_format = "mjpeg"
size = "640x480"
fps = 15
audio = "pulse:default"
[[backup]]
kind = "file"
path = "../media/loop.mp4"
[[backup]]
kind = "ffmpeg"
input_args = ["-f", "lavfi", "-i", "smptebars"]
[[destination]]
url = "rtsp://h.example/x.sdp"
`
	ch, errs := decodeTest("/etc/liveinject/profiles/p.toml", "p", []byte(src), "")
	if len(errs) > 0 {
		t.Fatalf("errors: %v", errs)
	}
	want := []Source{
		{Kind: "rtsp", URL: "rtsp://admin:secret@cam2.example/stream1", Timeout: Duration(5 * time.Second)},
		// a PulseAudio device is shared by its clients: the source's may be a backup's too
		{Kind: "v4l2", Device: "/dev/video2", InputFormat: "mjpeg", Size: Size{640, 480}, FPS: 15, Audio: "pulse:default"},
		{Kind: "file", Path: "/etc/liveinject/media/loop.mp4"},
		{Kind: "ffmpeg", InputArgs: []string{"-f", "lavfi", "-i", "smptebars"}},
	}
	if !reflect.DeepEqual(ch.Backups, want) {
		t.Errorf("backups\n%+v\nwant\n%+v", ch.Backups, want)
	}
	if want := (Source{Kind: "v4l2", Device: "/dev/video0", Audio: "pulse:default"}); !reflect.DeepEqual(ch.Source, want) {
		t.Errorf("source %+v, want %+v", ch.Source, want)
	}
	if ch.FailoverAfter != Duration(500*time.Millisecond) || ch.ReturnAfter != Duration(time.Minute) || ch.SlateAfter != Duration(2*time.Second) {
		t.Errorf("failover_after %s, return_after %s, slate_after %s; want 500ms, 1m, 2s", ch.FailoverAfter, ch.ReturnAfter, ch.SlateAfter)
	}

	// the inline form works as well
	ch, errs = decodeTest("p.toml", "p", []byte("backup = [{ kind = \"testsrc\" }]\n"+validProfile), "")
	if len(errs) > 0 || !reflect.DeepEqual(ch.Backups, []Source{{Kind: "testsrc"}}) {
		t.Errorf("inline backup: %+v, errors %v", ch.Backups, errs)
	}
}

func TestDecodeBackupErrors(t *testing.T) {
	const dest = "[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	const testsrc = "[source]\nkind = \"testsrc\"\n"
	tests := []struct {
		name string
		src  string
		want []string
	}{{
		name: "five backups",
		src:  testsrc + strings.Repeat("[[backup]]\nkind = \"testsrc\"\n", 6),
		want: []string{`p.toml:11: backup: at most 4 [[backup]] inputs (this profile has 6)`},
	}, {
		name: "backup not a table",
		src:  "backup = \"rtsp://cam/x\"\n" + testsrc,
		want: []string{`p.toml:1: backup: want an array of tables ([[backup]]), got string "rtsp://cam/x"`},
	}, {
		name: "kind missing, unknown and misspelt keys",
		src:  testsrc + "[[backup]]\nurl = \"rtsp://cam/x\"\n[[backup]]\nkind = \"hdmi\"\n[[backup]]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\ntimout = \"2s\"\n",
		want: []string{
			`p.toml:3: backup.kind: missing (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`,
			`p.toml:6: backup.kind: unknown kind "hdmi" (known kinds: testsrc, v4l2, rtsp, file, ffmpeg)`,
			`p.toml:10: unknown key "backup.timout" (did you mean "timeout"?)`,
		},
	}, {
		name: "key of another kind",
		src:  testsrc + "[[backup]]\nkind = \"file\"\npath = \"/srv/x.mp4\"\nurl = \"rtsp://cam/x\"\ninput_args = [\"-i\", \"x\"]\n",
		want: []string{
			`p.toml:6: backup.url: not used by source kind "file" (it is a key of kind "rtsp")`,
			`p.toml:7: backup.input_args: not used by source kind "file" (it is a key of kind "ffmpeg")`,
		},
	}, {
		name: "the checks of each kind",
		src: testsrc + "[[backup]]\nkind = \"rtsp\"\ntimeout = \"-1s\"\n[[backup]]\nkind = \"file\"\n" +
			"[[backup]]\nkind = \"v4l2\"\ndevice = \"video1\"\naudio = \"jack:x\"\n[[backup]]\nkind = \"rtsp\"\nurl = \"http://u:pw@cam/x\"\n",
		want: []string{
			`p.toml:3: backup.url: missing: source kind "rtsp" pulls from a URL, e.g. "rtsp://camera.example/stream1"`,
			`p.toml:5: backup.timeout: -1s must be greater than 0`,
			`p.toml:6: backup.path: missing: source kind "file" plays a file`,
			`p.toml:10: backup.device: "video1" is not an absolute path such as "/dev/video0"`,
			`p.toml:11: backup.audio: "jack:x" is not "alsa:DEVICE" (e.g. "alsa:hw:1,0") or "pulse:DEVICE" (e.g. "pulse:default")`,
			`p.toml:14: backup.url: http://u:xxxxx@cam/x: scheme must be rtsp or rtsps`,
		},
	}, {
		name: "ffmpeg backup without input_args",
		src:  testsrc + "[[backup]]\nkind = \"ffmpeg\"\n",
		want: []string{`p.toml:4: backup.kind: kind "ffmpeg" needs input_args: the whole input part, e.g. ["-f", "lavfi", "-i", "testsrc2"]`},
	}, {
		name: "ffmpeg backup without an input",
		src:  testsrc + "[[backup]]\nkind = \"ffmpeg\"\ninput_args = [\"-re\"]\n[[backup]]\nkind = \"ffmpeg\"\ninput_args = \"-i x\"\n",
		want: []string{
			`p.toml:5: backup.input_args: has no "-i": give the whole input part, e.g. ["-f", "lavfi", "-i", "testsrc2"]`,
			`p.toml:8: backup.input_args: want an array of strings, got string "-i x"`,
		},
	}, {
		name: "ffmpeg backup does not take [ffmpeg] input_args",
		src:  testsrc + "[[backup]]\nkind = \"ffmpeg\"\n[ffmpeg]\ninput_args = [\"-i\", \"x\"]\n",
		want: []string{
			`p.toml:4: backup.kind: kind "ffmpeg" needs input_args: the whole input part, e.g. ["-f", "lavfi", "-i", "testsrc2"]`,
			`p.toml:6: ffmpeg.input_args: used by source kind "ffmpeg" only, not "testsrc"`,
		},
	}, {
		name: "input_args in [source]",
		src:  "[source]\nkind = \"ffmpeg\"\ninput_args = [\"-i\", \"x\"]\n",
		want: []string{
			`p.toml:2: source.kind: kind "ffmpeg" needs [ffmpeg] input_args`,
			`p.toml:3: unknown key "source.input_args": in [source], input_args go in [ffmpeg]`,
		},
	}, {
		name: "input_args in a [source] of another kind",
		src:  "[source]\nkind = \"testsrc\"\ninput_args = [\"-i\", \"x\"]\n",
		want: []string{`p.toml:3: unknown key "source.input_args": in [source], input_args go in [ffmpeg]`},
	}, {
		name: "video copy of raw backups, blamed on their kind",
		src: "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[[backup]]\nkind = \"testsrc\"\n[[backup]]\nkind = \"v4l2\"\ninput_format = \"mjpeg\"\n" +
			"[[backup]]\nkind = \"v4l2\"\ndevice = \"/dev/video1\"\ninput_format = \"h264\"\n[video]\nencoder = \"copy\"\n",
		want: []string{
			`p.toml:5: backup.kind: video encoder "copy" passes H.264 on, but a testsrc source is raw video: choose an encoder such as libx264`,
			`p.toml:7: backup.kind: video encoder "copy" passes H.264 on: it needs backup.input_format = "h264" (a camera that encodes), else choose an encoder such as libx264`,
		},
	}, {
		name: "audio copy of raw sound in a backup",
		src:  "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[[backup]]\nkind = \"file\"\npath = \"/srv/x.ts\"\n[[backup]]\nkind = \"v4l2\"\n[audio]\nencoder = \"copy\"\n",
		want: []string{`p.toml:8: backup.kind: audio encoder "copy" passes AAC on, but a v4l2 source's sound is raw: use "aac"`},
	}, {
		name: "the source's v4l2 device, both by default",
		src:  "[source]\nkind = \"v4l2\"\n[[backup]]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[[backup]]\nkind = \"v4l2\"\ninput_format = \"h264\"\n",
		want: []string{`p.toml:6: backup 2: /dev/video0 (the default) is already the source's device: a capture device opens once; give each input its own`},
	}, {
		name: "an earlier backup's devices",
		src: testsrc + "[[backup]]\nkind = \"v4l2\"\ndevice = \"/dev/video1\"\naudio = \"alsa:hw:1,0\"\n" +
			"[[backup]]\nkind = \"v4l2\"\ndevice = \"/dev//video1\"\naudio = \"alsa:hw:1,0\"\n",
		want: []string{
			`p.toml:9: backup 2: /dev//video1 is already backup 1's device: a capture device opens once; give each input its own`,
			`p.toml:10: backup 2: alsa:hw:1,0 is already backup 1's audio device: a capture device opens once; give each input its own`,
		},
	}, {
		name: "the source's ALSA device",
		src:  "[source]\nkind = \"v4l2\"\naudio = \"alsa:hw:1,0\"\n[[backup]]\nkind = \"v4l2\"\ndevice = \"/dev/video1\"\naudio = \"alsa:hw:1,0\"\n",
		want: []string{`p.toml:7: backup 1: alsa:hw:1,0 is already the source's audio device: a capture device opens once; give each input its own`},
	}, {
		name: "other ALSA devices",
		src:  "[source]\nkind = \"v4l2\"\naudio = \"alsa:hw:1,0\"\n[[backup]]\nkind = \"v4l2\"\ndevice = \"/dev/video1\"\naudio = \"alsa:hw:2,0\"\n",
	}, {
		name: "timings out of range",
		src:  "failover_after = \"100ms\"\nreturn_after = \"500ms\"\nslate_after = \"2h\"\n" + testsrc,
		want: []string{
			`p.toml:1: failover_after: 100ms is too short: at least 500ms`,
			`p.toml:2: return_after: 500ms is too short: at least 1s`,
			`p.toml:3: slate_after: 2h0m0s is too long: at most 1h0m0s`,
		},
	}, {
		name: "timings not durations",
		src:  "failover_after = 3\nreturn_after = \"10\"\nslate_after = \"soon\"\n" + testsrc,
		want: []string{
			`p.toml:1: failover_after: want a string, got integer 3`,
			`p.toml:2: return_after: invalid duration "10" (want a number with a unit, e.g. "2s" or "500ms")`,
			`p.toml:3: slate_after: invalid duration "soon" (want a number with a unit, e.g. "2s" or "500ms")`,
		},
	}, {
		name: "slate before the first backup",
		src:  "failover_after = \"5s\"\nslate_after = \"4s\"\n" + testsrc + "[[backup]]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:2: slate_after: 4s is shorter than failover_after (5s): the slate would come before a backup is tried`},
	}, {
		name: "slate before the first backup, by default",
		src:  "failover_after = \"20s\"\n" + testsrc + "[[backup]]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:1: failover_after: 20s is longer than slate_after (10s, the default): the slate would come before a backup is tried; raise slate_after`},
	}, {
		name: "slate as soon as the first backup",
		src:  "failover_after = \"5s\"\nslate_after = \"5s\"\n" + testsrc + "[[backup]]\nkind = \"testsrc\"\n",
	}, {
		name: "slate early without backups",
		src:  "failover_after = \"5s\"\nslate_after = \"1s\"\n" + testsrc,
	}, {
		name: "slate early, but off",
		src:  "failover_after = \"5s\"\nslate_after = \"1s\"\nslate = \"off\"\n" + testsrc + "[[backup]]\nkind = \"testsrc\"\n",
	}, {
		name: "failover_after wrong: no second error",
		src:  "failover_after = \"2h\"\n" + testsrc + "[[backup]]\nkind = \"testsrc\"\n",
		want: []string{`p.toml:1: failover_after: 2h0m0s is too long: at most 1h0m0s`},
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

func TestInputName(t *testing.T) {
	for i, want := range []string{"source", "backup 1", "backup 2", "backup 3", "backup 4"} {
		if got := InputName(i); got != want {
			t.Errorf("InputName(%d) = %q, want %q", i, got, want)
		}
	}
}

// TestDecodeSlate reads the slate in each form, with images in a profile directory.
func TestDecodeSlate(t *testing.T) {
	dir := t.TempDir()
	profile := filepath.Join(dir, "profiles", "p.toml")
	writeFiles(t, dir, map[string]string{
		"slate.png":          "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
		"slate.jpg":          "\xff\xd8\xff\xe0\x00\x10JFIF",
		"profiles/local.png": "\x89PNG\r\n\x1a\n",
		"slate.gif":          "GIF89a",
		"short.png":          "\x89PN",
		"empty.png":          "",
	})
	if err := os.Mkdir(filepath.Join(dir, "dir.png"), 0o755); err != nil {
		t.Fatal(err)
	}
	// a FIFO would block the load that opened it until a writer came
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	const head = "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	for _, tc := range []struct {
		name string
		src  string
		want Slate
		errs []string
	}{
		{name: "none", src: "", want: Slate{Text: "Back soon"}},
		{name: "off", src: "slate = \"off\"\n", want: Slate{Off: true}},
		{name: "text", src: "[slate]\ntext = \"Wir sind gleich zurück — 5 min\"\n", want: Slate{Text: "Wir sind gleich zurück — 5 min"}},
		{name: "no text", src: "[slate]\ntext = \"\"\n", want: Slate{}},
		{name: "empty table", src: "[slate]\n", want: Slate{Text: "Back soon"}},
		{name: "inline", src: "slate = { text = \"Soon\" }\n", want: Slate{Text: "Soon"}},
		{name: "png, relative", src: "[slate]\nimage = \"../slate.png\"\n", want: Slate{Image: filepath.Join(dir, "slate.png")}},
		{name: "in the profile directory", src: "[slate]\nimage = \"local.png\"\n", want: Slate{Image: filepath.Join(dir, "profiles", "local.png")}},
		{name: "jpeg, absolute", src: "[slate]\nimage = \"" + filepath.Join(dir, "slate.jpg") + "\"\n", want: Slate{Image: filepath.Join(dir, "slate.jpg")}},
		{name: "not off", src: "slate = \"of\"\n", errs: []string{`p.toml:1: slate: want "off" or a [slate] table, got string "of"`}},
		{name: "not a string", src: "slate = false\n", errs: []string{`p.toml:1: slate: want "off" or a [slate] table, got boolean false`}},
		{name: "unknown key", src: "[slate]\ntxt = \"x\"\n", errs: []string{`p.toml:2: unknown key "slate.txt" (did you mean "text"?)`}},
		{name: "text of two lines", src: "[slate]\ntext = \"Back\\nsoon\"\n", errs: []string{`p.toml:2: slate.text: holds a control character: the text is one line`}},
		{
			name: "text too long", src: "[slate]\ntext = \"" + strings.Repeat("ü", 81) + "\"\n",
			errs: []string{`p.toml:2: slate.text: 81 characters: at most 80, one line on the card`},
		},
		{name: "80 characters", src: "[slate]\ntext = \"" + strings.Repeat("ü", 80) + "\"\n", want: Slate{Text: strings.Repeat("ü", 80)}},
		{
			name: "image and text", src: "[slate]\nimage = \"../slate.png\"\ntext = \"Back soon\"\n",
			errs: []string{`p.toml:3: slate.text: drawn on the card liveinject makes only, not over an image: give image or text`},
		},
		{name: "image missing", src: "[slate]\nimage = \"../nope.png\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "nope.png") + ` does not exist`}},
		{name: "gif", src: "[slate]\nimage = \"../slate.gif\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "slate.gif") + ` is not a PNG or JPEG image`}},
		{name: "short", src: "[slate]\nimage = \"../short.png\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "short.png") + ` is not a PNG or JPEG image`}},
		{name: "empty", src: "[slate]\nimage = \"../empty.png\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "empty.png") + ` is not a PNG or JPEG image`}},
		{name: "directory", src: "[slate]\nimage = \"../dir.png\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "dir.png") + `: a directory, not a regular file`}},
		{name: "fifo", src: "[slate]\nimage = \"../fifo.png\"\n", errs: []string{`p.toml:2: slate.image: ` + filepath.Join(dir, "fifo.png") + `: a named pipe (FIFO), not a regular file`}},
		{name: "image not a string", src: "[slate]\nimage = 1\n", errs: []string{`p.toml:2: slate.image: want a string, got integer 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := decodeChannel(profile, "p", []byte(tc.src+head), &Config{Path: "main.toml", Defaults: builtinDefaults()})
			var errs []string
			for _, e := range res.errs {
				errs = append(errs, strings.Replace(e.Error(), profile, "p.toml", 1))
			}
			if !slices.Equal(errs, tc.errs) {
				t.Errorf("errors\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(tc.errs, "\n"))
			}
			if tc.errs == nil && res.channel.Slate != tc.want {
				t.Errorf("slate %+v, want %+v", res.channel.Slate, tc.want)
			}
		})
	}
}

// TestDecodeSlateUnreadable checks that an image liveinject may not read is refused at load,
// not found when the slate is needed.
func TestDecodeSlateUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root reads any file")
	}
	dir := t.TempDir()
	image := filepath.Join(dir, "slate.png")
	writeFiles(t, dir, map[string]string{"slate.png": "\x89PNG\r\n\x1a\n"})
	if err := os.Chmod(image, 0); err != nil {
		t.Fatal(err)
	}
	src := validProfile + "[slate]\nimage = \"slate.png\"\n"
	res := decodeChannel(filepath.Join(dir, "p.toml"), "p", []byte(src), &Config{Path: "main.toml", Defaults: builtinDefaults()})
	want := []string{filepath.Join(dir, "p.toml") + ":7: slate.image: cannot read " + image + ": permission denied"}
	if got := errorStrings(res.errs); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
