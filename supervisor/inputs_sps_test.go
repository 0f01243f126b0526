package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
)

// TestInputsSameSPS runs every kind of input of one channel through its command line and
// compares what the destinations would see: the SPS, the PPS and the AudioSpecificConfig must
// be those of the source, byte for byte, or a switch between inputs would need a new
// ANNOUNCE. The inputs differ in every way normalize undoes: size and shape, pixel aspect,
// colour tags, full-range MJPEG with centred chroma, frame rate, sample rate and channels.
// When an ffmpeg upgrade changes what normalize relies on, this test says which input
// differs, and in which fields.
func TestInputsSameSPS(t *testing.T) {
	fftest.Require(t)
	dir := t.TempDir()
	media := func(name string, args ...string) string {
		out := filepath.Join(dir, name)
		runFFmpeg(t, nil, append(append([]string{"-f", "lavfi", "-i", "testsrc2=size=" + args[0] + ":rate=25",
			"-f", "lavfi", "-i", "sine=sample_rate=" + args[1], "-t", "2"}, args[2:]...), "-y", out)...)
		return out
	}
	ch := slateChannel()
	ch.Backups = []profiles.Source{
		{Kind: "file", Path: media("tagged.mp4", "480x270", "44100", "-c:v", "libx264", "-pix_fmt", "yuv420p",
			"-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709", "-c:a", "aac", "-ac", "1")},
		{Kind: "file", Path: media("pal.mp4", "720x576", "32000", "-vf", "setsar=16/15", "-c:v", "libx264", "-pix_fmt", "yuv420p",
			"-color_primaries", "bt470bg", "-color_trc", "gamma28", "-colorspace", "bt470bg", "-c:a", "aac", "-ac", "2")},
		{Kind: "file", Path: media("camera.avi", "800x600", "22050", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p",
			"-c:a", "pcm_s16le", "-ac", "1")},
		{Kind: "ffmpeg", InputArgs: []string{"-re", "-f", "lavfi", "-i",
			"testsrc2=size=320x240:rate=30[out0];sine=sample_rate=44100[out1]"}},
	}
	inputs, names := InputProfiles(ch), InputNames(ch)
	for _, ext := range []string{"png", "jpg"} {
		withImage := ch
		withImage.Slate = profiles.Slate{Image: image(t, "slate."+ext, "800x600")}
		inputs = append(inputs, slateProfile(withImage))
		names = append(names, ext+" slate")
	}
	if len(names) != 8 || len(inputs) != 8 {
		t.Fatalf("inputs %q, want the source, 4 backups and 3 slates", names)
	}

	source := inputParams(t, names[0], inputs[0])
	for i := 1; i < len(inputs); i++ {
		got := inputParams(t, names[i], inputs[i])
		if got == nil || source == nil {
			continue
		}
		describe := fmt.Sprintf("input %q (%s)", names[i], inputKind(inputs[i]))
		if !bytes.Equal(got.SPS, source.SPS) {
			t.Errorf("%s: SPS differs from the source's: %s\n got %x\nwant %x", describe, spsDiff(got.SPS, source.SPS), got.SPS, source.SPS)
		}
		if !bytes.Equal(got.PPS, source.PPS) {
			t.Errorf("%s: PPS differs from the source's\n got %x\nwant %x", describe, got.PPS, source.PPS)
		}
		if got.Audio == nil || source.Audio == nil || *got.Audio != *source.Audio {
			t.Errorf("%s: AudioSpecificConfig differs from the source's: %s", describe,
				strings.Join(fieldDiff("", reflect.ValueOf(got.Audio), reflect.ValueOf(source.Audio)), ", "))
		}
	}
}

// inputKind says what an input of the test is made of.
func inputKind(ch profiles.Channel) string {
	switch {
	case ch.Source.Kind == sourceSlate && ch.Slate.Image != "":
		return "slate image " + filepath.Base(ch.Slate.Image)
	case ch.Source.Kind == sourceSlate:
		return "slate card"
	case ch.Source.Kind == profiles.SourceFile:
		return "file " + filepath.Base(ch.Source.Path)
	case ch.Source.Kind == profiles.SourceFFmpeg:
		return "ffmpeg " + strings.Join(ch.FFmpeg.InputArgs, " ")
	}
	return ch.Source.Kind
}

// inputParams runs input name of a channel for half a second and returns the parameters its
// stream carries, read by the demuxer the channel uses; nil, with the test failed, when there
// are none or they change.
func inputParams(t *testing.T, name string, ch profiles.Channel) *demux.Params {
	t.Helper()
	// An output option: ffmpeg ends after half a second of output, at -re's pace.
	ch.FFmpeg.ExtraOutputArgs = append(slices.Clip(ch.FFmpeg.ExtraOutputArgs), "-t", "0.5")
	args, err := Args(ch)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), ffmpegTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var seen []*demux.Params
	r := &demux.Reader{R: stdout}
	err = r.Initialize()
	if err == nil {
		err = r.Run(func(f *demux.Frame) error {
			if len(seen) == 0 || !seen[len(seen)-1].Equal(f.Params) {
				seen = append(seen, f.Params)
			}
			return nil
		})
	}
	if !errors.Is(err, io.EOF) {
		cancel() // the reader failed: ffmpeg must end too
	}
	if waitErr := cmd.Wait(); waitErr != nil || !errors.Is(err, io.EOF) {
		t.Errorf("input %q: ffmpeg %v, demuxer %v\n%s", name, waitErr, err, stderr.String())
		return nil
	}
	switch {
	case len(seen) == 0:
		t.Errorf("input %q: no frames", name)
	case len(seen) > 1:
		t.Errorf("input %q: the parameters change within one run: %+v", name, seen)
	case seen[0].SPS == nil || seen[0].Audio == nil:
		t.Errorf("input %q: video or audio missing: %+v", name, seen[0])
	default:
		return seen[0]
	}
	return nil
}

// spsDiff names the fields in which two SPS differ.
func spsDiff(got, want []byte) string {
	var g, w h264.SPS
	if err := g.Unmarshal(got); err != nil {
		return fmt.Sprintf("unreadable: %v", err)
	}
	if err := w.Unmarshal(want); err != nil {
		return fmt.Sprintf("the source's is unreadable: %v", err)
	}
	if d := fieldDiff("", reflect.ValueOf(g), reflect.ValueOf(w)); len(d) > 0 {
		return strings.Join(d, ", ")
	}
	return "in bits the parser does not read"
}

// fieldDiff lists the exported fields, nested ones by their path, in which got differs from
// want, with both values.
func fieldDiff(path string, got, want reflect.Value) []string {
	switch got.Kind() {
	case reflect.Pointer:
		if got.IsNil() || want.IsNil() {
			if got.IsNil() != want.IsNil() {
				return []string{fmt.Sprintf("%s %v, the source's %v", path, got.Interface(), want.Interface())}
			}
			return nil
		}
		return fieldDiff(path, got.Elem(), want.Elem())
	case reflect.Struct:
		var out []string
		for i := range got.NumField() {
			if f := got.Type().Field(i); f.IsExported() {
				out = append(out, fieldDiff(strings.TrimPrefix(path+"."+f.Name, "."), got.Field(i), want.Field(i))...)
			}
		}
		return out
	}
	if !reflect.DeepEqual(got.Interface(), want.Interface()) {
		return []string{fmt.Sprintf("%s %v, the source's %v", path, got.Interface(), want.Interface())}
	}
	return nil
}
