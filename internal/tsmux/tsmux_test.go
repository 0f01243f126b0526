package tsmux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// unit is a frame as a reader gives it back: kind, timestamps and units.
type unit struct {
	kind     demux.Kind
	pts, dts int64
	data     [][]byte
}

func (u unit) String() string {
	var sizes []string
	for _, d := range u.data {
		sizes = append(sizes, fmt.Sprint(len(d)))
	}
	return fmt.Sprintf("%v pts %d dts %d units [%s]", u.kind, u.pts, u.dts, strings.Join(sizes, " "))
}

func sameUnits(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// channelBase puts the frames at a channel time past 2^33 ticks, as a channel's is (it counts
// from the Unix epoch): the 33-bit timestamps wrap.
const channelBase = 1<<33 + 12345

// lacksParameterSets reports whether an IDR's access unit au lacks the SPS or the PPS and p has
// both, as the recorder and the SRT destinations ask before they put them in front.
func lacksParameterSets(au [][]byte, p *demux.Params) bool {
	hasSPS, hasPPS := demux.ParameterSetsIn(au)
	return !(hasSPS && hasPPS) && p.SPS != nil && p.PPS != nil
}

// writeTS writes frs at channel time base on, parameter sets in front of keyframes that lack
// them, and returns the stream's bytes and the frames as they should read back.
func writeTS(t *testing.T, frs []*demux.Frame, base int64) ([]byte, []unit) {
	t.Helper()
	var buf bytes.Buffer
	w, err := New(&buf, frs[0].Params.SPS != nil, frs[0].Params.Audio)
	if err != nil {
		t.Fatal(err)
	}
	var want []unit
	for _, fr := range frs {
		u := unit{kind: fr.Kind, pts: fr.PTS + base, dts: fr.DTS + base, data: fr.Data}
		switch fr.Kind {
		case demux.Video:
			var sps, pps []byte
			if fr.Key && lacksParameterSets(fr.Data, fr.Params) {
				sps, pps = fr.Params.SPS, fr.Params.PPS
				u.data = [][]byte{sps, pps}
				for _, n := range fr.Data {
					if typ := n[0] & 0x1f; typ != 7 && typ != 8 {
						u.data = append(u.data, n)
					}
				}
			}
			err = w.WriteH264(u.pts, u.dts, sps, pps, fr.Data)
		case demux.Audio:
			err = w.WriteAAC(u.pts, fr.Data)
		}
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, u)
	}
	if buf.Len()%PacketSize != 0 {
		t.Fatalf("%d bytes: not whole packets", buf.Len())
	}
	return buf.Bytes(), want
}

// readMediacommon reads ts with mediacommon's Reader: raw 33-bit timestamps, one unit per PES
// (one per ADTS frame for audio, as our writer puts a frame's AUs in one PES).
func readMediacommon(t *testing.T, ts []byte) []unit {
	t.Helper()
	r := &mpegts.Reader{R: bytes.NewReader(ts)}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	r.OnDecodeError(func(err error) { t.Errorf("mediacommon: %v", err) })
	var out []unit
	for _, tr := range r.Tracks() {
		switch tr.Codec.(type) {
		case *mpegts.CodecH264:
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				out = append(out, unit{demux.Video, pts, dts, au})
				return nil
			})
		case *mpegts.CodecMPEG4Audio:
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				out = append(out, unit{demux.Audio, pts, pts, aus})
				return nil
			})
		default:
			t.Fatalf("track %T", tr.Codec)
		}
	}
	for {
		if err := r.Read(); err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			return out
		}
	}
}

// readDemux reads ts with the channel's demuxer: timestamps from the first. The last video
// frame's PES has no length, and the demuxer drops it at the end of the stream, as it may be
// cut short.
func readDemux(t *testing.T, ts []byte) []unit {
	t.Helper()
	onErr := func(err error) {
		if !strings.Contains(err.Error(), "dropped at the end of the stream") {
			t.Errorf("demux: %v", err)
		}
	}
	r := &demux.Reader{R: bytes.NewReader(ts), OnDecodeError: onErr}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var out []unit
	err := r.Run(func(fr *demux.Frame) error {
		out = append(out, unit{fr.Kind, fr.PTS, fr.DTS, fr.Data})
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	return out
}

// withoutLastVideo is us without its last video frame (see readDemux).
func withoutLastVideo(us []unit) []unit {
	for i := len(us) - 1; i >= 0; i-- {
		if us[i].kind == demux.Video {
			return append(us[:i:i], us[i+1:]...)
		}
	}
	return us
}

// checkSame checks that got holds the frames of want, in order per track, with the same units
// and timestamps: mod 2^33 if wrapped, else counted from the first video DTS (the first DTS
// without video).
func checkSame(t *testing.T, reader string, got, want []unit, wrapped bool) {
	t.Helper()
	norm := func(us []unit) map[demux.Kind][]unit {
		m := map[demux.Kind][]unit{}
		var origin int64
		if len(us) > 0 {
			origin = us[0].dts // audio only
		}
		for _, u := range us {
			if u.kind == demux.Video {
				origin = u.dts
				break
			}
		}
		for _, u := range us {
			if wrapped {
				u.pts, u.dts = u.pts&(tsWrap-1), u.dts&(tsWrap-1)
			} else {
				u.pts, u.dts = u.pts-origin, u.dts-origin
			}
			m[u.kind] = append(m[u.kind], u)
		}
		return m
	}
	g, w := norm(got), norm(want)
	for _, k := range []demux.Kind{demux.Video, demux.Audio} {
		if len(g[k]) != len(w[k]) {
			t.Errorf("%s: %d %v frames, want %d", reader, len(g[k]), k, len(w[k]))
		}
		for i := range min(len(g[k]), len(w[k])) {
			a, b := g[k][i], w[k][i]
			if a.pts != b.pts || a.dts != b.dts || !sameUnits(a.data, b.data) {
				t.Fatalf("%s: %v frame %d is %v, want %v", reader, k, i, a, b)
			}
		}
	}
}

// TestWriterDifferential writes the frames of an ffmpeg-made TS, their timestamps wrapping
// 2^33 a second in, and reads them back with mediacommon's Reader and with our demuxer: the
// same NALUs, AAC frames, PTS and DTS. ffprobe reads the file as h264 + aac, a keyframe first,
// every frame there.
func TestWriterDifferential(t *testing.T) {
	frs := demuxtest.Frames(t, "4")
	base := int64(tsWrap - 90000)
	ts, want := writeTS(t, frs, base)
	checkSame(t, "mediacommon", readMediacommon(t, ts), want, true)
	checkSame(t, "demux", readDemux(t, ts), withoutLastVideo(want), false)

	path := filepath.Join(t.TempDir(), "s.ts")
	if err := os.WriteFile(path, ts, 0o644); err != nil {
		t.Fatal(err)
	}
	p := fftest.ProbePackets(t, path)
	fftest.CheckAV(t, p.Streams, fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2})
	var video, audio, wantVideo, wantAudio int
	for _, fr := range frs {
		if fr.Kind == demux.Video {
			wantVideo++
		} else {
			wantAudio += len(fr.Data)
		}
	}
	for _, pk := range p.Packets {
		if pk.CodecType == "video" {
			if video == 0 && !strings.HasPrefix(pk.Flags, "K") {
				t.Errorf("first video frame not a keyframe (flags %q)", pk.Flags)
			}
			video++
		} else {
			audio++
		}
	}
	if video != wantVideo || audio != wantAudio {
		t.Errorf("ffprobe: %d video and %d audio frames, want %d and %d", video, audio, wantVideo, wantAudio)
	}
}

// TestWriterSizes writes frames of every size around the edges of TS packets: a PES that
// fills its packets exactly, one byte over, one short (a single byte of stuffing), tiny audio,
// video with and without PCR; both readers must get them back whole.
func TestWriterSizes(t *testing.T) {
	real := demuxtest.Frames(t, "1")
	p := real[0].Params
	key := real[0]
	var frs []*demux.Frame
	frs = append(frs, key)
	ts := key.DTS
	// first packet of an audio PES: 184 - 2 (adaptation field) - 14 (PES header) = 168 bytes,
	// 161 of AAC after its ADTS header; of a video PES without PCR, 184 - 14 - 6 (AUD) - 4
	// (start code) = 160 bytes of NALU; the next packets take 184.
	for size := 1; size < 600; size += 1 {
		ts += 1500
		nalu := make([]byte, size)
		for i := range nalu {
			nalu[i] = byte(i*7 + size)
		}
		nalu[0] = 0x41
		frs = append(frs, &demux.Frame{Kind: demux.Video, PTS: ts + 3000, DTS: ts, Data: [][]byte{nalu}, Params: p})
		aac := make([]byte, size%400+1)
		for i := range aac {
			aac[i] = byte(i + size)
		}
		frs = append(frs, &demux.Frame{Kind: demux.Audio, PTS: ts, DTS: ts, Data: [][]byte{aac}, Params: p})
	}
	b, want := writeTS(t, frs, channelBase)
	checkSame(t, "mediacommon", readMediacommon(t, b), want, true)
	checkSame(t, "demux", readDemux(t, b), withoutLastVideo(want), false)
}

// TestWriterAllocs checks that a frame costs no allocation once the buffers have grown.
func TestWriterAllocs(t *testing.T) {
	src := demuxtest.StreamSecond()
	w, err := New(io.Discard, true, src[0].Params.Audio)
	if err != nil {
		t.Fatal(err)
	}
	var base int64
	write := func() {
		for _, fr := range src {
			var err error
			if fr.Kind == demux.Video {
				var sps, pps []byte
				if fr.Key {
					sps, pps = fr.Params.SPS, fr.Params.PPS
				}
				err = w.WriteH264(base+fr.PTS, base+fr.DTS, sps, pps, fr.Data)
			} else {
				err = w.WriteAAC(base+fr.PTS, fr.Data)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		base += 90000
	}
	write()
	if n := testing.AllocsPerRun(20, write); n != 0 {
		t.Errorf("%v allocations per second of stream (%d frames), want 0", n, len(src))
	}
}

// TestWriterOneTrack writes a channel with video only and one with audio only (the PCR then
// on the audio PID): both readers get every frame back.
func TestWriterOneTrack(t *testing.T) {
	frs := demuxtest.Frames(t, "2")
	for _, kind := range []demux.Kind{demux.Video, demux.Audio} {
		t.Run(kind.String(), func(t *testing.T) {
			p := *frs[0].Params
			if kind == demux.Video {
				p.Audio = nil
			} else {
				p.SPS, p.PPS = nil, nil
			}
			var only []*demux.Frame
			for _, fr := range frs {
				if fr.Kind == kind {
					c := *fr
					c.Params = &p
					only = append(only, &c)
				}
			}
			b, want := writeTS(t, only, channelBase)
			checkSame(t, "mediacommon", readMediacommon(t, b), want, true)
			if kind == demux.Video {
				want = withoutLastVideo(want)
			}
			checkSame(t, "demux", readDemux(t, b), want, false)
		})
	}
}

// TestWriterTimestamps writes frames with PTS and DTS on every bit of the 33 and back: a
// stream's few seconds only move the low bits, so the high ones get a test of their own.
func TestWriterTimestamps(t *testing.T) {
	real := demuxtest.Frames(t, "1")
	var frs []*demux.Frame
	vals := []int64{0, tsWrap - 1, 0x155555555, 0x0aaaaaaaa, 1 << 40, -1}
	for k := range 33 {
		vals = append(vals, 1<<k, tsWrap-1-1<<k)
	}
	for i, v := range vals {
		for _, fr := range real[:2] {
			c := *fr
			c.PTS, c.DTS = v+int64(i), v-int64(k33(i))
			if c.Kind == demux.Audio {
				c.DTS = c.PTS
			}
			frs = append(frs, &c)
		}
	}
	b, want := writeTS(t, frs, 0)
	checkSame(t, "mediacommon", readMediacommon(t, b), want, true)
}

// k33 is a DTS offset that moves over the bits as i grows.
func k33(i int) int64 { return int64(i) * 0x2468ace % tsWrap }
