package demux

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
)

// probedPacket is one packet as ffprobe -show_packets sees it, in 90 kHz units.
type probedPacket struct {
	pts, dts int64
	key      bool
}

// probePackets returns the packets of the stream selected by sel ("v:0", "a:0") in file order.
func probePackets(t *testing.T, file, sel string) []probedPacket {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", sel, "-show_packets",
		"-show_entries", "packet=pts,dts,flags", "-of", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var res struct {
		Packets []struct {
			PTS   *int64 `json:"pts"`
			DTS   *int64 `json:"dts"`
			Flags string `json:"flags"`
		} `json:"packets"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	pkts := make([]probedPacket, len(res.Packets))
	for i, p := range res.Packets {
		if p.PTS != nil {
			pkts[i].pts = *p.PTS
		}
		if p.DTS != nil {
			pkts[i].dts = *p.DTS
		}
		pkts[i].key = len(p.Flags) > 0 && p.Flags[0] == 'K'
	}
	return pkts
}

// concatTS makes one TS of two encodes, as a channel's pipe carries it when an encoder restarts
// with other settings: the second part starts with new parameter sets.
func concatTS(t testing.TB, a, b string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "concat.ts")
	var data []byte
	for _, f := range []string{a, b} {
		d, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		data = append(data, d...)
	}
	if err := os.WriteFile(out, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestReaderFixtures demuxes TS files that ffmpeg makes with the settings a box meets and
// compares every video access unit's timestamps and the audio frame count with ffprobe's.
func TestReaderFixtures(t *testing.T) {
	x264 := func(extra ...string) []string {
		return append([]string{"-c:v", "libx264", "-g", "25"}, extra...)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		video      bool
		audioRate  int
		audioChans int
	}{
		{"B-frames", append(x264("-bf", "3"), "-c:a", "aac", "-ac", "2"), true, 48000, 2},
		{"zerolatency, GOP 12", []string{"-c:v", "libx264", "-tune", "zerolatency", "-g", "12", "-c:a", "aac", "-ac", "2"}, true, 48000, 2},
		{"44.1 kHz mono", append(x264("-tune", "zerolatency"), "-c:a", "aac", "-ar", "44100", "-ac", "1"), true, 44100, 1},
		{"audio only", []string{"-map", "1:a", "-c:a", "aac", "-ac", "2"}, false, 48000, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, data := makeTS(t, "2", tc.args...)
			r, c, err := readAll(t, data)
			if !errors.Is(err, io.EOF) {
				t.Fatalf("Run: %v", err)
			}
			if r.HasVideo() != tc.video || !r.HasAudio() {
				t.Fatalf("tracks: video %v audio %v", r.HasVideo(), r.HasAudio())
			}
			if tc.video {
				want := probePackets(t, file, "v:0")
				if len(c.video) != len(want) {
					t.Fatalf("%d video access units, ffprobe reads %d", len(c.video), len(want))
				}
				// ffprobe's timestamps are the file's; ours start from the stream's first one.
				base := want[0].dts - c.video[0].DTS
				for i, f := range c.video {
					if f.PTS+base != want[i].pts || f.DTS+base != want[i].dts || f.Key != want[i].key {
						t.Fatalf("access unit %d: pts %d dts %d key %v, ffprobe pts %d dts %d key %v", i,
							f.PTS+base, f.DTS+base, f.Key, want[i].pts, want[i].dts, want[i].key)
					}
				}
			}
			cfg := c.audio[0].Params.Audio
			if cfg.SampleRate != tc.audioRate || cfg.ChannelCount != tc.audioChans {
				t.Errorf("audio config %+v, want %d Hz %d channels", cfg, tc.audioRate, tc.audioChans)
			}
			want := len(probePackets(t, file, "a:0"))
			// with video, the audio before the first IDR is dropped: a frame or two
			if c.audioAUs > want || c.audioAUs < want-3 {
				t.Errorf("%d AAC access units, ffprobe reads %d", c.audioAUs, want)
			}
		})
	}
}

// TestReaderParameterChange demuxes two encodes of different sizes one after the other: the
// frames of the second carry new Params, from its first IDR on.
func TestReaderParameterChange(t *testing.T) {
	a := fftest.TS(t, "1")
	b := fftest.TS(t, "1", "-s", "320x180", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-c:a", "aac", "-ac", "2")
	data, err := os.ReadFile(concatTS(t, a, b))
	if err != nil {
		t.Fatal(err)
	}
	_, c, err := readAll(t, data)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v", err)
	}
	// go-astits dropped the last frame of the first encode: the continuity counters jump at the
	// join, and it still held that frame then.
	if want := len(probePackets(t, a, "v:0")) + len(probePackets(t, b, "v:0")); len(c.video) != want {
		t.Errorf("%d video frames, ffprobe reads %d", len(c.video), want)
	}
	var changes []int
	for i := 1; i < len(c.video); i++ {
		if c.video[i].Params != c.video[i-1].Params {
			changes = append(changes, i)
		}
	}
	if len(changes) != 1 {
		t.Fatalf("params changed at frames %v, want once", changes)
	}
	i := changes[0]
	if !c.video[i].Key || c.video[i].Params.Equal(c.video[i-1].Params) {
		t.Errorf("frame %d: key %v, params equal %v: want a new IDR with other parameter sets", i,
			c.video[i].Key, c.video[i].Params.Equal(c.video[i-1].Params))
	}
	if i < 20 || len(c.video)-i < 20 {
		t.Errorf("change at frame %d of %d, want near the middle", i, len(c.video))
	}
}

// TestReaderRefusesWhatItCannotPush checks that a codec liveinject does not push is named, with
// what to set in the profile, also when the other track is fine.
func TestReaderRefusesWhatItCannotPush(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"HEVC with AAC", []string{"-c:v", "libx265", "-x265-params", "log-level=error", "-c:a", "aac"},
			"the video is H.265/HEVC: liveinject pushes H.264: set video.encoder to libx264"},
		{"MPEG-2 with MP2", []string{"-c:v", "mpeg2video", "-c:a", "mp2"},
			"the video is MPEG-1/2 video: liveinject pushes H.264"},
		{"H.264 with Opus", []string{"-c:v", "libx264", "-c:a", "libopus", "-ac", "2"},
			"the audio is Opus: liveinject pushes AAC: set audio.encoder to aac, or to none"},
		{"H.264 with AC-3", []string{"-c:v", "libx264", "-c:a", "ac3"},
			"the audio is AC-3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, data := makeTS(t, "1", tc.args...)
			_, _, err := readAll(t, data)
			if !errors.Is(err, ErrUnsupportedCodec) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want ErrUnsupportedCodec saying %q", err, tc.want)
			}
		})
	}
}
