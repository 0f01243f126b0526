package supervisor

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
)

// ffmpegTimeout bounds every ffmpeg the slate and input tests run. Each has an end of its own
// as well (-t or -frames:v on its output): a lavfi input read with -re never ends.
const ffmpegTimeout = 30 * time.Second

// runFFmpeg runs ffmpeg with args, and env ("KEY=value") added to its environment, and returns
// what it wrote on stdout.
func runFFmpeg(t *testing.T, env []string, args ...string) []byte {
	t.Helper()
	fftest.Require(t)
	ctx, cancel := context.WithTimeout(t.Context(), ffmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin", "-loglevel", "error"}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg %s: %v (%v)\n%s", strings.Join(args, " "), err, context.Cause(ctx), stderr.String())
	}
	return stdout.Bytes()
}

// renderGray draws one frame of a lavfi graph and returns its pixels, 8-bit gray.
func renderGray(t *testing.T, env []string, graph string) []byte {
	t.Helper()
	return runFFmpeg(t, env, "-f", "lavfi", "-i", graph, "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
}

// textBox is where the tests draw a line of text: black, wide enough for the longest.
const textBox = "color=c=black:size=800x60:rate=1,"

// TestSlateTextDrawnAsWritten draws texts that mean something to one of the parsers a filter's
// arguments go through (filtergraph, option, drawtext's expansion) with the slate's escaping,
// and the same texts read by drawtext from a file, which no parser touches: the pictures are
// the same.
func TestSlateTextDrawnAsWritten(t *testing.T) {
	for i, text := range []string{
		`It's 50% \ done: [a],b;c — ünï`,
		`'`,
		`''`,
		`\\`,
		`\`,
		`\'`,
		`%{localtime}`,
		`%%`,
		`a:b=c`,
		`,;[]`,
		`  spaced  `,
		`"quoted" 'twice'`,
	} {
		t.Run(strconv.Itoa(i), func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "text")
			if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
				t.Fatal(err)
			}
			got := renderGray(t, nil, textBox+drawText(text, 24, "10"))
			want := renderGray(t, nil, textBox+"drawtext=expansion=none:textfile="+file+":fontcolor=white:fontsize=24:x=(w-text_w)/2:y=10")
			if !bytes.Equal(got, want) {
				t.Errorf("%q is drawn otherwise than the same text read from a file", text)
			}
			if bytes.Count(want, []byte{0}) == len(want) {
				t.Errorf("%q draws nothing: the comparison proves nothing", text)
			}
		})
	}
}

// TestSlateClock draws the card's clock and, at the same second, the time as Go formats it:
// the clock shows HH:MM:SS of the local time.
func TestSlateClock(t *testing.T) {
	env := []string{"TZ=UTC"}
	for range 5 {
		before := time.Now().UTC().Format("15:04:05")
		got := renderGray(t, env, textBox+drawClock(24))
		if after := time.Now().UTC().Format("15:04:05"); after != before {
			continue // the second changed meanwhile: draw again
		}
		file := filepath.Join(t.TempDir(), "time")
		if err := os.WriteFile(file, []byte(before), 0o644); err != nil {
			t.Fatal(err)
		}
		want := renderGray(t, env, textBox+"drawtext=expansion=none:textfile="+file+":fontcolor=0xa0a8b0:fontsize=24:x=(w-text_w)/2:y=h-2*text_h")
		if !bytes.Equal(got, want) {
			t.Errorf("the clock does not show %s", before)
		}
		return
	}
	t.Fatal("every drawing took a second boundary")
}

// slateChannel is a 640x360 channel, of another shape than the test images.
func slateChannel() profiles.Channel {
	ch := testProfile()
	ch.Name = "lobby"
	ch.Video.Size = profiles.Size{Width: 640, Height: 360}
	ch.Video.Bitrate = 500_000
	ch.Slate.Text = "Back soon"
	return ch
}

// image writes a one-colour picture of size in the format its name's extension says, as a
// camera or an editor would, and returns its path.
func image(t *testing.T, name, size string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), name)
	runFFmpeg(t, nil, "-f", "lavfi", "-i", "color=c=white:size="+size, "-frames:v", "1", "-y", out)
	return out
}

// runInput runs ch's command line for a second and returns the MPEG-TS it wrote.
func runInput(t *testing.T, ch profiles.Channel) string {
	t.Helper()
	// An output option: ffmpeg ends after a second of output, at -re's pace.
	ch.FFmpeg.ExtraOutputArgs = append(slices.Clip(ch.FFmpeg.ExtraOutputArgs), "-t", "1")
	args, err := Args(ch)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.ts")
	if err := os.WriteFile(out, runFFmpeg(t, nil, args...), 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSlateRuns runs the slates of a channel through the channel's command line: the card,
// with and without its text line, and images of other shapes and sizes. Each gives H.264 at
// the channel's size and AAC silence; an image is fitted with black bars, not stretched.
func TestSlateRuns(t *testing.T) {
	fftest.Require(t)
	for _, tc := range []struct {
		name   string
		change func(*testing.T, *profiles.Channel)
		size   profiles.Size
		bars   bool // the picture is a white 4:3 image: black bars left and right
	}{
		{name: "card", change: func(*testing.T, *profiles.Channel) {}},
		{name: "card without text", change: func(_ *testing.T, ch *profiles.Channel) { ch.Slate.Text = "" }},
		{name: "png 800x600", bars: true, change: func(t *testing.T, ch *profiles.Channel) {
			ch.Slate = profiles.Slate{Image: image(t, "slate.png", "800x600")}
		}},
		{name: "jpeg 1024x768", bars: true, change: func(t *testing.T, ch *profiles.Channel) {
			ch.Slate = profiles.Slate{Image: image(t, "slate.jpg", "1024x768")}
		}},
		{name: "png named with quotes and separators", bars: true, change: func(t *testing.T, ch *profiles.Channel) {
			img := image(t, "slate.png", "800x600")
			named := filepath.Join(filepath.Dir(img), `it's a, [slate]; 100% \ ü:x=y.png`)
			if err := os.Rename(img, named); err != nil {
				t.Fatal(err)
			}
			ch.Slate = profiles.Slate{Image: named}
		}},
		{name: "channel that copies", size: slateVideo.Size, change: func(_ *testing.T, ch *profiles.Channel) {
			ch.Source = profiles.Source{Kind: "rtsp", URL: "rtsp://cam.example/s"}
			ch.Video = profiles.Video{Encoder: profiles.EncoderCopy}
			ch.Audio = profiles.Audio{Encoder: profiles.EncoderCopy}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := slateChannel()
			tc.change(t, &ch)
			size := tc.size
			if size == (profiles.Size{}) {
				size = ch.Video.Size
			}
			ts := runInput(t, slateProfile(ch))
			streams, err := fftest.Probe(ts)
			if err != nil {
				t.Fatal(err)
			}
			fftest.CheckAV(t, streams, fftest.AV{Width: size.Width, Height: size.Height, SampleRate: 48000, Channels: 2})

			pcm := runFFmpeg(t, nil, "-i", ts, "-map", "0:a", "-f", "s16le", "pipe:1")
			if len(pcm) == 0 {
				t.Errorf("no sound decoded")
			}
			if n := len(pcm) - bytes.Count(pcm, []byte{0}); n != 0 {
				t.Errorf("%d of %d bytes of the sound are not zero: not silence", n, len(pcm))
			}

			if tc.bars {
				// A 4:3 picture in 16:9 is 480 pixels wide, between bars of 80.
				frame := runFFmpeg(t, nil, "-i", ts, "-map", "0:v", "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
				row := frame[size.Width*size.Height/2 : size.Width*(size.Height/2+1)]
				for _, p := range []struct {
					x     int
					white bool
				}{{10, false}, {70, false}, {90, true}, {320, true}, {550, true}, {570, false}, {630, false}} {
					if white := row[p.x] > 200; white != p.white || (!white && row[p.x] > 40) {
						t.Errorf("pixel %d of the middle row is %d: want the image fitted between black bars (%v)", p.x, row[p.x], row)
					}
				}
			}
		})
	}
}

// TestCheckSlate decodes slate images as liveinject check does: a damaged file, one that
// passes the profile's check of its first bytes, is a problem naming the channel, its profile
// and the image.
func TestCheckSlate(t *testing.T) {
	fftest.Require(t)
	good := image(t, "good.png", "800x600")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string // in the problem; "" for none
	}{
		{"png", b, ""},
		{"truncated png", b[:len(b)/3], "does not decode ("},
		{"png header only", b[:16], "does not decode ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch := slateChannel()
			ch.File = "/etc/liveinject/profiles/lobby.toml"
			ch.Slate = profiles.Slate{Image: filepath.Join(t.TempDir(), "slate.png")}
			if err := os.WriteFile(ch.Slate.Image, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			p := CheckSlate(t.Context(), ch, "ffmpeg")
			switch {
			case tc.want == "" && p != nil:
				t.Errorf("problem %v, want none", p)
			case tc.want != "" && p == nil:
				t.Errorf("no problem, want one saying %q", tc.want)
			case tc.want != "":
				msg := p.Error()
				for _, want := range []string{`channel "lobby" (/etc/liveinject/profiles/lobby.toml)`, ch.Slate.Image, tc.want} {
					if !strings.Contains(msg, want) {
						t.Errorf("problem %q lacks %q", msg, want)
					}
				}
				if strings.Contains(msg, " @ 0x") {
					t.Errorf("problem %q shows ffmpeg's addresses", msg)
				}
			}
		})
	}
	ch := slateChannel()
	if p := CheckSlate(t.Context(), ch, "ffmpeg"); p != nil {
		t.Errorf("card: problem %v, want none", p)
	}
}

// TestSlateImageDecodedOnce runs an image slate with a tiny picture and with a large one that
// takes milliseconds to decode and scale: the large one costs ffmpeg about as much CPU as the
// tiny one, since the picture is decoded and fitted once rather than for every frame (which
// costs a 1080p PNG a fifth of a core at 25 fps, see slateImage).
func TestSlateImageDecodedOnce(t *testing.T) {
	fftest.Require(t)
	dir := t.TempDir()
	cpu := func(size string) time.Duration {
		ch := slateChannel()
		ch.Slate = profiles.Slate{Image: filepath.Join(dir, size+".png")}
		runFFmpeg(t, nil, "-f", "lavfi", "-i", "testsrc2=size="+size, "-frames:v", "1", "-y", ch.Slate.Image)
		ch.FFmpeg.ExtraOutputArgs = []string{"-t", "2"} // an output option: 50 frames
		args, err := Args(slateProfile(ch))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), ffmpegTimeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "ffmpeg", args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("slate with a %s image: %v\n%s", size, err, b)
		}
		return cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	tiny, large := cpu("16x16"), cpu("1920x1080")
	// 50 decodes and scalings of the large picture take 0.3 s or more of CPU.
	if large-tiny > 150*time.Millisecond {
		t.Errorf("a slate of a 1920x1080 image took %v of CPU for 2 s, one of 16x16 %v: the image is decoded again and again", large, tiny)
	}
	t.Logf("CPU for 2 s of slate: 16x16 image %v, 1920x1080 image %v", tiny, large)
}
