package demux

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
)

// stillTS encodes a still, noisy 720p picture (with a tone) that x264 at a high quality turns
// into IDRs of some hundred KiB, PES without a length, each followed by a P frame of a few bytes
// in a single TS packet: the stream that go-astits pull request 78 loses frames of.
func stillTS(tb testing.TB, seconds string) string {
	tb.Helper()
	fftest.Require(tb)
	dir := tb.TempDir()
	png := filepath.Join(dir, "still.png")
	out := filepath.Join(dir, "still.ts")
	for _, args := range [][]string{
		{"-f", "lavfi", "-i", "testsrc2=size=1280x720,noise=alls=20:allf=u", "-frames:v", "1", png},
		{"-loop", "1", "-framerate", "25", "-i", png, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
			"-t", seconds, "-c:v", "libx264", "-crf", "23", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac", "-ac", "2",
			"-f", "mpegts", "-flush_packets", "1", "-muxdelay", "0", "-muxpreload", "0", "-omit_video_pes_length", "0", out},
	} {
		args = append([]string{"-hide_banner", "-nostdin", "-loglevel", "error", "-y"}, args...)
		if b, err := exec.Command("ffmpeg", args...).CombinedOutput(); err != nil {
			tb.Fatalf("ffmpeg: %v\n%s", err, b)
		}
	}
	return out
}

type namedStream struct {
	name string
	data []byte
	file string
	// noReference is set for a stream that mediacommon's reader cannot be the reference of:
	// its frames are checked against ffprobe's counts instead (see encodeValidStreams).
	noReference bool
}

// validStreams holds makeValidStreams's streams once made: encoding them takes seconds, and the
// test and the fuzz target share them.
var validStreams struct {
	sync.Mutex
	streams []namedStream
}

// makeValidStreams encodes the streams a box meets: B-frames or not, audio only, video only, and
// the still picture with its large IDRs. (Two encodes one after the other are not a valid
// stream: the continuity counters jump at the join, where go-astits drops the last frame of the
// first; TestReaderParameterChange checks that this reader does not.)
func makeValidStreams(tb testing.TB) []namedStream {
	tb.Helper()
	validStreams.Lock()
	defer validStreams.Unlock()
	if validStreams.streams == nil {
		validStreams.streams = encodeValidStreams(tb)
	}
	return validStreams.streams
}

func encodeValidStreams(tb testing.TB) []namedStream {
	tb.Helper()
	read := func(name, file string) namedStream {
		d, err := os.ReadFile(file)
		if err != nil {
			tb.Fatal(err)
		}
		return namedStream{name: name, data: d, file: file}
	}
	// mediacommon v2.9.3 (which gortmplib v1.0.1 requires; v2.4.1 did not) hands over nothing of
	// the still picture's first access unit, 295 KB with the SPS and PPS, and says nothing of
	// it (no decode error): the reference then never starts. This reader does, as ffprobe does.
	still := read("still picture, large IDRs", stillTS(tb, "1"))
	still.noReference = true
	return []namedStream{
		read("zerolatency", fftest.TS(tb, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25",
			"-c:a", "aac", "-ac", "2")),
		read("B-frames", fftest.TS(tb, "1", "-c:v", "libx264", "-bf", "3", "-g", "12", "-c:a", "aac", "-ac", "2")),
		read("audio only", fftest.TS(tb, "1", "-map", "1:a", "-c:a", "aac", "-ac", "2")),
		read("video only", fftest.TS(tb, "1", "-map", "0:v", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25")),
		still,
	}
}

// chunkReader returns at most n bytes per read, as a pipe does when the writer is slow.
type chunkReader struct {
	r io.Reader
	n int
}

func (c *chunkReader) Read(b []byte) (int, error) {
	return c.r.Read(b[:min(len(b), c.n)])
}

// readFrames demuxes data read n bytes at a time and returns every frame in emission order.
func readFrames(data []byte, n int) ([]*Frame, error) {
	r := &Reader{R: &chunkReader{bytes.NewReader(data), n}}
	if err := r.Initialize(); err != nil {
		return nil, err
	}
	var out []*Frame
	err := r.Run(func(f *Frame) error {
		out = append(out, f)
		return nil
	})
	if !errors.Is(err, io.EOF) {
		return out, err
	}
	return out, nil
}

// compareFrames reports every way got differs from want, track by track: the same frames with
// the same timestamps, key flags, bytes, and parameters changing at the same frames.
//
// The timestamps may differ by one constant for the whole stream: both readers count from the
// stream's first timestamp, but mediacommon's first is that of the PES go-astits hands on first
// (at the start of the next PES on its PID), this reader's that of the first PES header in the
// stream. Which track's comes first may differ.
func compareFrames(t *testing.T, got, want []*Frame) {
	t.Helper()
	if len(got) == 0 || len(want) == 0 {
		t.Fatalf("%d frames, mediacommon %d", len(got), len(want))
	}
	gf, wf := ofKind(got, got[0].Kind), ofKind(want, got[0].Kind)
	if len(wf) == 0 {
		t.Fatalf("no %v frames from mediacommon", got[0].Kind)
	}
	offset := gf[0].PTS - wf[0].PTS
	if offset != 0 {
		t.Logf("timestamps %+d from mediacommon's", offset)
	}
	for _, kind := range []Kind{Video, Audio} {
		g, w := ofKind(got, kind), ofKind(want, kind)
		if kind == Audio {
			g, w = alignAudioStart(t, g, w, offset, ofKind(got, Video))
		}
		if len(g) != len(w) {
			t.Errorf("%v: %d frames, mediacommon %d", kind, len(g), len(w))
		}
		for i := range min(len(g), len(w)) {
			a, b := g[i], w[i]
			if a.PTS-offset != b.PTS || a.DTS-offset != b.DTS || a.Key != b.Key {
				t.Fatalf("%v frame %d: pts %d dts %d key %v, mediacommon pts %d dts %d key %v (%+d)",
					kind, i, a.PTS, a.DTS, a.Key, b.PTS, b.DTS, b.Key, offset)
			}
			if len(a.Data) != len(b.Data) {
				t.Fatalf("%v frame %d: %d units, mediacommon %d", kind, i, len(a.Data), len(b.Data))
			}
			for j := range a.Data {
				if !bytes.Equal(a.Data[j], b.Data[j]) {
					t.Fatalf("%v frame %d unit %d: %d bytes differ from mediacommon's %d",
						kind, i, j, len(a.Data[j]), len(b.Data[j]))
				}
			}
			if !a.Params.Equal(b.Params) {
				t.Fatalf("%v frame %d: params differ from mediacommon's", kind, i)
			}
			if i > 0 && (a.Params != g[i-1].Params) != (b.Params != w[i-1].Params) {
				t.Fatalf("%v frame %d: params change %v, mediacommon %v", kind, i,
					a.Params != g[i-1].Params, b.Params != w[i-1].Params)
			}
		}
	}
}

// alignAudioStart leaves out the first audio frames of one reader that the other dropped: both
// drop the audio before the first IDR, but mediacommon's "before" is before go-astits hands that
// IDR on, at the start of the next video PES, and this reader's is before the IDR's DTS. So with
// B-frames this reader keeps the audio of the first few frames' time that mediacommon dropped.
// The frames left out must be of that time: within 200 ms of the first IDR.
func alignAudioStart(t *testing.T, got, want []*Frame, offset int64, video []*Frame) ([]*Frame, []*Frame) {
	t.Helper()
	first := func(f []*Frame, offset int64) int64 {
		if len(f) == 0 {
			return math.MaxInt64
		}
		return f[0].PTS + offset
	}
	gi, wi := 0, 0
	for gi < len(got) && got[gi].PTS-offset < first(want, 0) {
		gi++
	}
	for wi < len(want) && want[wi].PTS+offset < first(got, 0) {
		wi++
	}
	if gi > 0 || wi > 0 {
		limit := int64(18000)
		if len(video) > 0 {
			limit += video[0].DTS
		}
		for _, f := range append(got[:gi:gi], want[:wi]...) {
			if f.PTS > limit {
				t.Fatalf("audio frame at %d in one reader only, past the start", f.PTS)
			}
		}
		t.Logf("first audio frames: %d of this reader's and %d of mediacommon's left out", gi, wi)
	}
	return got[gi:], want[wi:]
}

func ofKind(frames []*Frame, k Kind) []*Frame {
	var out []*Frame
	for _, f := range frames {
		if f.Kind == k {
			out = append(out, f)
		}
	}
	return out
}

// TestReaderMatchesMediacommon demuxes valid streams with this reader, read in pieces of several
// sizes (FuzzReaderMatchesMediacommon tries others), and with mediacommon's: the same frames come
// out.
func TestReaderMatchesMediacommon(t *testing.T) {
	for _, s := range makeValidStreams(t) {
		t.Run(s.name, func(t *testing.T) {
			if s.noReference {
				checkAgainstFFprobe(t, s)
				return
			}
			want, err := referenceRead(s.data)
			if err != nil {
				t.Fatalf("mediacommon: %v", err)
			}
			if len(want) < 20 {
				t.Fatalf("mediacommon reads only %d frames", len(want))
			}
			for _, n := range []int{1 << 20, 188 * 7, 1000, 13} {
				got, err := readFrames(s.data, n)
				if err != nil {
					t.Fatalf("reads of %d bytes: %v", n, err)
				}
				compareFrames(t, got, want)
			}
		})
	}
}

// checkAgainstFFprobe reads s with this reader, in pieces of several sizes, and requires every
// video frame and AAC frame that ffprobe counts in it.
func checkAgainstFFprobe(t *testing.T, s namedStream) {
	for _, n := range []int{1 << 20, 188 * 7, 1000, 13} {
		got, err := readFrames(s.data, n)
		if err != nil {
			t.Fatalf("reads of %d bytes: %v", n, err)
		}
		aac := 0
		for _, f := range ofKind(got, Audio) {
			aac += len(f.Data)
		}
		video, wantVideo, wantAAC := len(ofKind(got, Video)), ffprobeCount(t, s.file, "v"), ffprobeCount(t, s.file, "a")
		if video != wantVideo || aac != wantAAC {
			t.Errorf("reads of %d bytes: %d video frames and %d AAC frames, ffprobe %d and %d", n, video, aac,
				wantVideo, wantAAC)
		}
	}
}

// FuzzReaderMatchesMediacommon compares this reader with mediacommon's on valid streams: a window
// of one of makeValidStreams's, from a PAT on (a receiver that joins), cut anywhere after it at a
// packet boundary (a writer that stops), read in pieces of any size.
func FuzzReaderMatchesMediacommon(f *testing.F) {
	streams := makeValidStreams(f)
	for i := range streams {
		f.Add(uint8(i), uint16(0), uint16(0xffff), uint16(188*7))
		f.Add(uint8(i), uint16(100), uint16(300), uint16(1))
	}
	f.Fuzz(func(t *testing.T, which uint8, from, length, chunk uint16) {
		s := streams[int(which)%len(streams)]
		if s.noReference {
			return // see encodeValidStreams
		}
		data := s.data
		packets := len(data) / tsPacketSize
		start := int(from) % packets
		for start < packets && !patStart(data[start*tsPacketSize:]) {
			start++
		}
		end := min(packets, start+int(length))
		data = data[start*tsPacketSize : end*tsPacketSize]

		want, werr := referenceRead(data)
		got, err := readFrames(data, int(chunk)+1)
		if werr != nil || err != nil {
			// Both find no track in a window too short to hold a PAT, a PMT and the first audio.
			if (werr == nil) != (err == nil) {
				t.Fatalf("error %v, mediacommon %v", err, werr)
			}
			return
		}
		if len(got) == 0 && len(want) == 0 {
			return
		}
		compareFrames(t, got, want)
	})
}

// patStart tells whether the TS packet at the start of b begins a PAT.
func patStart(b []byte) bool {
	return len(b) >= tsPacketSize && b[1]&0x5f == 0x40 && b[2] == 0
}
