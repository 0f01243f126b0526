package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

// runSynthetic demuxes ts with a Reader and returns its frames and decode errors.
func runSynthetic(t *testing.T, ts []byte) (*Reader, []*Frame, []error) {
	t.Helper()
	var errs []error
	r := &Reader{R: bytes.NewReader(ts), OnDecodeError: func(err error) { errs = append(errs, err) }}
	if err := r.Initialize(); err != nil {
		t.Fatalf("Initialize: %v", err)
	}
	var frames []*Frame
	err := r.Run(func(f *Frame) error {
		frames = append(frames, f)
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatalf("Run: %v", err)
	}
	return r, frames, errs
}

// TestReaderFollowsProgramChanges changes the PMT (video moves to another PID) and then the PAT
// (the PMT moves, and the video again): the reader follows, and leaves the old PIDs alone.
func TestReaderFollowsProgramChanges(t *testing.T) {
	w := newTSWriter()
	idr := annexB(testSPS, testPPS, slice(5, 3000, 1))
	p := func(n byte) []byte { return annexB(slice(1, 400, n)) }
	ts := w.header()
	ts = append(ts, w.pes(testAudio, 0xc0, 0, adts(200, 1), pesOptions{dts: -1})...)
	ts = append(ts, w.pes(testVideo, 0xe0, 3600, idr, pesOptions{dts: -1})...)
	ts = append(ts, w.pes(testVideo, 0xe0, 7200, p(2), pesOptions{dts: -1})...)

	// PMT version 1: video on 0x102
	ts = append(ts, w.pmt(testPMT, 1, esInfo{pid: 0x102, streamType: streamTypeH264}, testStreams[1])...)
	ts = append(ts, w.pes(0x102, 0xe0, 10800, p(3), pesOptions{dts: -1})...)
	ts = append(ts, w.pes(testVideo, 0xe0, 99999, p(99), pesOptions{dts: -1})...) // old PID: ignored
	ts = append(ts, w.pes(testAudio, 0xc0, 10000, adts(200, 2), pesOptions{dts: -1})...)

	// PAT version 1: the PMT on 0x1001, listing video on 0x103
	ts = append(ts, w.pat(1, 0x1001)...)
	ts = append(ts, w.pmt(0x1001, 0, esInfo{pid: 0x103, streamType: streamTypeH264}, testStreams[1])...)
	ts = append(ts, w.pes(0x103, 0xe0, 14400, p(4), pesOptions{dts: -1})...)
	ts = append(ts, w.pes(0x102, 0xe0, 99999, p(98), pesOptions{dts: -1})...) // old PID: ignored

	r, frames, errs := runSynthetic(t, ts)
	if !r.HasVideo() || !r.HasAudio() {
		t.Fatalf("tracks: video %v audio %v", r.HasVideo(), r.HasAudio())
	}
	var got []string
	for _, f := range frames {
		got = append(got, fmt.Sprintf("%v@%d", f.Kind, f.PTS))
	}
	// counted from the first timestamp in the stream, the audio's at 0
	want := []string{"video@3600", "video@7200", "video@10800", "audio@10000", "video@14400"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("frames %v, want %v", got, want)
	}
	if !bytes.Equal(frames[2].Data[0], slice(1, 400, 3)) || !bytes.Equal(frames[4].Data[0], slice(1, 400, 4)) {
		t.Errorf("frames after the changes carry other bytes")
	}
	if len(errs) != 0 {
		t.Errorf("decode errors: %v", errs)
	}
}

// TestReaderFrameUnits checks what a video frame carries: its NAL units without start codes and
// without the access unit delimiter, the parameter sets in Params, and bytes of its own.
func TestReaderFrameUnits(t *testing.T) {
	w := newTSWriter()
	idr := slice(5, 5000, 1)
	ts := append(w.pat(0, testPMT), w.pmt(testPMT, 0, testStreams[0])...)
	ts = append(ts, w.pes(testVideo, 0xe0, 3600, annexB(testSPS, testPPS, idr), pesOptions{dts: 0})...)
	ts = append(ts, w.pes(testVideo, 0xe0, 7200, annexB(), pesOptions{dts: 3600})...) // a delimiter alone
	ts = append(ts, w.pes(testVideo, 0xe0, 10800, []byte{0xde, 0xad}, pesOptions{dts: 7200})...)
	ts = append(ts, w.pes(testVideo, 0xe0, 14400, annexB(slice(1, 100, 2)), pesOptions{dts: 10800})...)

	r := &Reader{R: bytes.NewReader(ts)}
	var errs []error
	r.OnDecodeError = func(err error) { errs = append(errs, err) }
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	var frames []*Frame
	err := r.Run(func(f *Frame) error {
		frames = append(frames, f)
		// The reader reuses its buffers: a frame's bytes must not change after it is handed on.
		for _, f := range frames {
			if f.Data[len(f.Data)-1][0]&0x1f == 5 && !bytes.Equal(f.Data[2], idr) {
				t.Fatalf("the IDR's bytes changed after it was handed on")
			}
		}
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Fatal(err)
	}
	if r.HasAudio() || len(frames) != 2 {
		t.Fatalf("audio %v, %d frames: want video only, the IDR and the last", r.HasAudio(), len(frames))
	}
	f := frames[0]
	// counted from the first timestamp, the IDR's PTS
	if !f.Key || f.PTS != 0 || f.DTS != -3600 || len(f.Data) != 3 || !bytes.Equal(f.Data[0], testSPS) ||
		!bytes.Equal(f.Data[1], testPPS) || !bytes.Equal(f.Params.SPS, testSPS) || !bytes.Equal(f.Params.PPS, testPPS) {
		t.Fatalf("IDR frame key %v pts %d dts %d, %d units, params %x %x", f.Key, f.PTS, f.DTS, len(f.Data),
			f.Params.SPS, f.Params.PPS)
	}
	if frames[1].Key || frames[1].Params != f.Params || len(frames[1].Data) != 1 {
		t.Errorf("P frame: key %v, same params %v, %d units", frames[1].Key, frames[1].Params == f.Params,
			len(frames[1].Data))
	}
	text := fmt.Sprint(errs)
	if len(errs) != 2 || !strings.Contains(text, "empty H.264 access unit dropped") || !strings.Contains(text, "start code") {
		t.Errorf("decode errors %v, want the empty unit and the one without a start code", errs)
	}
}

// TestReaderAudioWaitsForTheIDR checks that audio is dropped until the first IDR with parameter
// sets, when it starts before the IDR's DTS, wherever it comes in the stream; audio that comes
// before the IDR in the stream but starts at its DTS goes out right after it.
func TestReaderAudioWaitsForTheIDR(t *testing.T) {
	type pes struct {
		video bool
		pts   int64
	}
	for _, tc := range []struct {
		name   string
		stream []pes // video PES: a non-IDR at PTS 1000, then the IDR (DTS 3600)
		want   string
	}{
		{"audio after the IDR starts before it", []pes{{false, 0}, {true, 1000}, {true, 7200}, {false, 1920}, {false, 5760}},
			"[video@7200 audio@5760]"},
		{"audio before the IDR starts at it", []pes{{false, 0}, {true, 1000}, {false, 3600}, {true, 7200}, {false, 5760}},
			"[video@7200 audio@3600 audio@5760]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newTSWriter()
			ts := w.header()
			seeds := map[int64]byte{}
			for i, p := range tc.stream {
				switch {
				case !p.video:
					seeds[p.pts] = byte(i * 2)
					ts = append(ts, w.pes(testAudio, 0xc0, p.pts, append(adts(100, byte(i*2)), adts(50, byte(i*2+1))...),
						pesOptions{dts: -1})...)
				case p.pts == 1000:
					ts = append(ts, w.pes(testVideo, 0xe0, p.pts, annexB(slice(1, 100, 1)), pesOptions{dts: -1})...)
				default:
					ts = append(ts, w.pes(testVideo, 0xe0, p.pts, annexB(testSPS, testPPS, slice(5, 100, 2)),
						pesOptions{dts: 3600})...)
				}
			}
			_, frames, _ := runSynthetic(t, ts)
			var got []string
			for _, f := range frames {
				got = append(got, fmt.Sprintf("%v@%d", f.Kind, f.PTS))
			}
			if fmt.Sprint(got) != tc.want {
				t.Fatalf("frames %v, want %v", got, tc.want)
			}
			for _, a := range frames[1:] {
				seed := seeds[a.PTS]
				if len(a.Data) != 2 || !bytes.Equal(a.Data[0], adts(100, seed)[7:]) || !bytes.Equal(a.Data[1], adts(50, seed+1)[7:]) ||
					a.Params != frames[0].Params || a.Params.Audio.SampleRate != 48000 || a.Params.Audio.ChannelCount != 2 {
					t.Fatalf("audio frame at %d: %d units, params %+v", a.PTS, len(a.Data), a.Params.Audio)
				}
			}
		})
	}
}

// TestReaderProbeByteBound lists an audio track whose data never comes: Initialize gives up after
// 1 MiB with ErrProbeLimit.
func TestReaderProbeByteBound(t *testing.T) {
	w := newTSWriter()
	ts := w.header()
	for len(ts) < 1<<20+100_000 {
		ts = append(ts, w.pes(testVideo, 0xe0, 0, pattern(60000, 1), pesOptions{dts: -1})...)
	}
	r := &Reader{R: bytes.NewReader(ts)}
	err := r.Initialize()
	if !errors.Is(err, ErrProbeLimit) || !strings.Contains(err.Error(), "within 10") {
		t.Fatalf("Initialize: %v, want ErrProbeLimit within 1 MiB", err)
	}
}

// TestReaderCrossesPTSWrap runs video and audio across the wrap of MPEG-TS's 33-bit timestamps
// (every 26.5 hours of a channel): the frames' times go on counting up, on both tracks, and
// their DTS with them.
func TestReaderCrossesPTSWrap(t *testing.T) {
	const wrap = int64(1) << 33
	start := wrap - 5*3600 // five frames before the wrap
	w := newTSWriter()
	ts := w.header()
	for i := range int64(10) {
		pts, dts := (start+i*3600+3600)%wrap, (start+i*3600)%wrap
		nalus := [][]byte{slice(1, 300, byte(i))}
		if i == 0 {
			nalus = [][]byte{testSPS, testPPS, slice(5, 2000, 1)}
		}
		ts = append(ts, w.pes(testVideo, 0xe0, pts, annexB(nalus...), pesOptions{dts: dts})...)
		ts = append(ts, w.pes(testAudio, 0xc0, (start+i*3600+1800)%wrap, adts(100, byte(i)), pesOptions{dts: -1})...)
	}
	_, frames, errs := runSynthetic(t, ts)
	if len(errs) != 0 {
		t.Errorf("decode errors: %v", errs)
	}
	var video, audio []int64
	for _, f := range frames {
		switch f.Kind {
		case Video:
			video = append(video, f.PTS)
			if f.PTS-f.DTS != 3600 {
				t.Errorf("video frame at %d has DTS %d, want a frame before", f.PTS, f.DTS)
			}
		case Audio:
			audio = append(audio, f.PTS)
		}
	}
	// counted from the stream's first timestamp, the first PTS
	for i, pts := range video {
		if want := int64(i) * 3600; pts != want {
			t.Errorf("video frames at %v, want every 3600 from 0 across the wrap", video)
			break
		}
	}
	if len(video) != 10 || len(audio) < 9 {
		t.Fatalf("%d video and %d audio frames, want 10 and at least 9", len(video), len(audio))
	}
	for i := 1; i < len(audio); i++ {
		if audio[i]-audio[i-1] != 3600 {
			t.Errorf("audio frames at %v, want every 3600 across the wrap", audio)
			break
		}
	}
}
