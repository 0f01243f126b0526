package demux

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
)

// makeTS has ffmpeg encode a test TS (see fftest.TS) and returns its path and its bytes.
func makeTS(tb testing.TB, seconds string, extra ...string) (string, []byte) {
	tb.Helper()
	file := fftest.TS(tb, seconds, extra...)
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	return file, data
}

type collected struct {
	video, audio []*Frame
	audioAUs     int
}

func readAll(t *testing.T, data []byte) (*Reader, collected, error) {
	t.Helper()
	var c collected
	r := &Reader{R: bytes.NewReader(data)}
	if err := r.Initialize(); err != nil {
		return r, c, err
	}
	err := r.Run(func(f *Frame) error {
		if f.Kind == Video {
			c.video = append(c.video, f)
		} else {
			c.audio = append(c.audio, f)
			c.audioAUs += len(f.Data)
		}
		return nil
	})
	return r, c, err
}

// ffprobeCount returns the number of packets ffprobe reads from the stream selected by sel.
func ffprobeCount(t *testing.T, file, sel string) int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", sel, "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe: %v", err)
	}
	// The stream is listed once for the program and once on its own: both lines carry the count.
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	n, err := strconv.Atoi(line)
	if err != nil {
		t.Fatalf("ffprobe count %q: %v", out, err)
	}
	return n
}

func TestReaderH264AAC(t *testing.T) {
	file, data := makeTS(t, "2")
	r, c, err := readAll(t, data)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v, want io.EOF", err)
	}
	if !r.HasVideo() || !r.HasAudio() {
		t.Fatalf("tracks: video %v audio %v, want both", r.HasVideo(), r.HasAudio())
	}

	if want := ffprobeCount(t, file, "v:0"); len(c.video) != want {
		t.Errorf("video access units: %d, ffprobe counts %d", len(c.video), want)
	}
	first := c.video[0]
	if !first.Key {
		t.Errorf("first video frame is not an IDR")
	}
	p := first.Params
	if len(p.SPS) == 0 || len(p.PPS) == 0 || p.SPS[0]&0x1f != 7 || p.PPS[0]&0x1f != 8 {
		t.Fatalf("parameter sets not taken from the stream: SPS %x PPS %x", p.SPS, p.PPS)
	}
	if p.Audio == nil || p.Audio.SampleRate != 48000 || p.Audio.ChannelCount != 2 {
		t.Fatalf("audio config %+v, want 48000 Hz stereo", p.Audio)
	}
	keys := 0
	for i, f := range c.video {
		if f.Key {
			keys++
		}
		if f.Params != p {
			t.Fatalf("frame %d: params changed although the stream's did not", i)
		}
		if i > 0 && f.DTS <= c.video[i-1].DTS {
			t.Fatalf("frame %d: DTS %d after %d", i, f.DTS, c.video[i-1].DTS)
		}
		if i > 0 && f.DTS-c.video[i-1].DTS != 3600 {
			t.Fatalf("frame %d: DTS step %d, want 3600 (25 fps)", i, f.DTS-c.video[i-1].DTS)
		}
	}
	if keys != 1 {
		t.Errorf("IDRs: %d, want 1 in 2 s with GOP 50", keys)
	}

	// The audio before the first IDR is dropped, so at most a frame or two fewer than ffprobe's.
	want := ffprobeCount(t, file, "a:0")
	if c.audioAUs > want || c.audioAUs < want-3 {
		t.Errorf("AAC access units: %d, ffprobe counts %d", c.audioAUs, want)
	}
	for _, f := range c.audio {
		for _, au := range f.Data {
			if len(au) > 1 && au[0] == 0xff && au[1]&0xf0 == 0xf0 {
				t.Fatalf("audio AU still has an ADTS header")
			}
		}
	}
}

func TestReaderStartsAtIDRWithParameterSets(t *testing.T) {
	_, data := makeTS(t, "3")
	// Cut the head of the stream: the reader must skip to the next IDR and drop audio until then.
	// The PMT is repeated, so it is found again after the cut.
	cut := len(data) / 3
	cut -= cut % 188
	_, c, err := readAll(t, data[cut:])
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v, want io.EOF", err)
	}
	if len(c.video) == 0 || !c.video[0].Key {
		t.Fatalf("first of %d video frames is not an IDR", len(c.video))
	}
	if len(c.audio) > 0 && c.audio[0].PTS < c.video[0].DTS-9000 {
		t.Errorf("audio at %d emitted long before the first IDR at %d", c.audio[0].PTS, c.video[0].DTS)
	}
}

func TestReaderVideoOnly(t *testing.T) {
	_, data := makeTS(t, "1", "-map", "0:v", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25")
	r, c, err := readAll(t, data)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v", err)
	}
	if r.HasAudio() || len(c.audio) != 0 || len(c.video) != 25 {
		t.Fatalf("video-only: audio track %v, %d audio and %d video frames, want 0 and 25",
			r.HasAudio(), len(c.audio), len(c.video))
	}
	if c.video[0].Params.Audio != nil {
		t.Fatalf("video-only stream has an audio config")
	}
}

func TestReaderGarbage(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":   nil,
		"garbage": bytes.Repeat([]byte("not a transport stream "), 100),
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := readAll(t, data); err == nil {
				t.Fatalf("no error for %s input", name)
			}
		})
	}
}
