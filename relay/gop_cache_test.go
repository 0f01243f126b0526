package relay

import (
	"bytes"
	"fmt"
	"slices"
	"testing"

	"github.com/pion/rtp"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
)

var (
	testVideo = &description.Media{Type: description.MediaTypeVideo}
	testAudio = &description.Media{Type: description.MediaTypeAudio}

	testSPS = []byte{0x67, 0x42, 0xc0, 0x1e}
	testPPS = []byte{0x68, 0xce, 0x3c, 0x80}
)

func stapA(nalus ...[]byte) []byte {
	out := []byte{0x18}
	for _, n := range nalus {
		out = append(out, byte(len(n)>>8), byte(len(n)))
		out = append(out, n...)
	}
	return out
}

func TestInspectH264(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		want    h264Info
	}{
		{"empty", nil, h264Info{}},
		{"non-IDR slice", []byte{0x41, 0x9a}, h264Info{}},
		{"IDR slice", []byte{0x65, 0x88}, h264Info{idr: true}},
		{"SPS", testSPS, h264Info{sps: testSPS}},
		{"PPS", testPPS, h264Info{pps: testPPS}},
		{"STAP-A with SPS, PPS, IDR", stapA(testSPS, testPPS, []byte{0x65, 0x88}),
			h264Info{idr: true, sps: testSPS, pps: testPPS}},
		{"STAP-A with AUD and SEI", stapA([]byte{0x09, 0xf0}, []byte{0x06, 0x05}), h264Info{}},
		{"STAP-A truncated", []byte{0x18, 0x00, 0x09, 0x65}, h264Info{}},
		{"FU-A start of IDR", []byte{0x7c, 0x85, 0x88}, h264Info{idr: true}},
		{"FU-A middle of IDR", []byte{0x7c, 0x05, 0x88}, h264Info{idr: true}},
		{"FU-A of non-IDR", []byte{0x5c, 0x81, 0x9a}, h264Info{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := inspectH264(tc.payload)
			if got.idr != tc.want.idr || !bytes.Equal(got.sps, tc.want.sps) || !bytes.Equal(got.pps, tc.want.pps) {
				t.Errorf("inspectH264(% x) = %+v, want %+v", tc.payload, got, tc.want)
			}
		})
	}
}

// step is one packet pushed into the cache: video when media is "v", audio when "a".
type step struct {
	media   string
	seq     uint16
	ts      uint32
	marker  bool
	payload []byte
}

var (
	pSlice  = []byte{0x41, 0x9a}
	idrHead = []byte{0x7c, 0x85, 0x88} // FU-A, start of an IDR
	idrTail = []byte{0x7c, 0x45, 0x88} // FU-A, end of an IDR
	aac     = []byte{0x00, 0x10, 0x01}
)

// gop is an IDR access unit with in-band SPS and PPS, seq n..n+3, then a P frame at n+4 and an
// audio packet with the same seq.
func gop(n uint16, ts uint32) []step {
	return []step{
		{"v", n, ts, false, testSPS},
		{"v", n + 1, ts, false, testPPS},
		{"v", n + 2, ts, false, idrHead},
		{"a", n + 2, ts, false, aac},
		{"v", n + 3, ts, true, idrTail},
		{"v", n + 4, ts + 3600, true, pSlice},
		{"a", n + 4, ts + 3600, false, aac},
	}
}

func TestGOPCache(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sps, pps   []byte // announced
		maxPackets int
		steps      []step
		want       []string // replayed packets: media, seq, and what parameter set it carries
		started    []uint16 // seqs of the video packets that report a new GOP
	}{
		{
			name: "nothing before the first IDR",
			steps: []step{
				{"v", 1, 0, true, pSlice},
				{"a", 1, 0, false, aac},
				{"v", 2, 3600, false, testSPS},
				{"v", 3, 3600, true, pSlice},
			},
		},
		{
			name:    "GOP from the IDR access unit with its SPS and PPS",
			steps:   append([]step{{"v", 1, 0, true, pSlice}, {"a", 1, 0, false, aac}}, gop(10, 3600)...),
			want:    []string{"v10 sps", "v11 pps", "v12", "a12", "v13", "v14", "a14"},
			started: []uint16{12},
		},
		{
			name:    "a new IDR replaces the GOP",
			steps:   append(gop(10, 0), gop(20, 7200)...),
			want:    []string{"v20 sps", "v21 pps", "v22", "a22", "v23", "v24", "a24"},
			started: []uint16{12, 22},
		},
		{
			name: "IDR in a STAP-A with its parameter sets",
			steps: []step{
				{"v", 5, 0, true, stapA(testSPS, testPPS, []byte{0x65, 0x88})},
				{"a", 9, 0, false, aac},
				{"v", 6, 3600, true, pSlice},
			},
			want:    []string{"v5", "a9", "v6"},
			started: []uint16{5},
		},
		{
			name: "parameter sets out of band go first, numbered before the IDR",
			sps:  testSPS,
			pps:  testPPS,
			steps: []step{
				{"v", 10, 0, false, idrHead},
				{"v", 11, 0, true, idrTail},
				{"a", 3, 0, false, aac},
			},
			want:    []string{"v8 sps", "v9 pps", "v10", "v11", "a3"},
			started: []uint16{10},
		},
		{
			name: "in-band parameter sets seen earlier go first too",
			steps: append([]step{
				{"v", 1, 0, false, testSPS},
				{"v", 2, 0, true, testPPS},
			}, []step{
				{"v", 10, 3600, false, idrHead},
				{"v", 11, 3600, true, idrTail},
			}...),
			want:    []string{"v8 sps", "v9 pps", "v10", "v11"},
			started: []uint16{10},
		},
		{
			name:       "a GOP over the bound is dropped until the next IDR",
			maxPackets: 7,
			steps: append(append(gop(10, 0),
				step{"v", 15, 7200, true, pSlice},
				step{"v", 16, 10800, true, pSlice},
				step{"a", 17, 10800, true, aac}),
				gop(30, 14400)...),
			want:    []string{"v30 sps", "v31 pps", "v32", "a32", "v33", "v34", "a34"},
			started: []uint16{12, 32},
		},
		{
			name:       "no GOP while the bound is exceeded",
			maxPackets: 7,
			steps: append(gop(10, 0),
				step{"v", 15, 7200, true, pSlice},
				step{"v", 16, 10800, true, pSlice}),
			started: []uint16{12},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newGOPCache(tc.sps, tc.pps, nil)
			if tc.maxPackets != 0 {
				c.maxPackets = tc.maxPackets
			}
			var started []uint16
			for _, s := range tc.steps {
				pkt := &rtp.Packet{
					Header:  rtp.Header{Version: 2, SequenceNumber: s.seq, Timestamp: s.ts, Marker: s.marker},
					Payload: s.payload,
				}
				if s.media == "v" {
					if ok, _ := c.pushVideo(testVideo, pkt); ok {
						started = append(started, s.seq)
					}
				} else {
					c.pushOther(testAudio, pkt)
				}
			}
			var got []string
			n := c.replay(func(m *description.Media, pkt *rtp.Packet) {
				s := fmt.Sprint(pkt.SequenceNumber)
				if m == testVideo {
					s = "v" + s
				} else {
					s = "a" + s
				}
				switch {
				case bytes.Equal(pkt.Payload, testSPS):
					s += " sps"
				case bytes.Equal(pkt.Payload, testPPS):
					s += " pps"
				}
				got = append(got, s)
			})
			if !slices.Equal(got, tc.want) || n != len(got) {
				t.Errorf("replay = %q (n=%d), want %q", got, n, tc.want)
			}
			if !slices.Equal(started, tc.started) {
				t.Errorf("new GOP at %v, want %v", started, tc.started)
			}
		})
	}
}

func TestGOPCacheParamsChanged(t *testing.T) {
	c := newGOPCache(testSPS, testPPS, nil)
	push := func(seq uint16, payload []byte) bool {
		_, changed := c.pushVideo(testVideo, &rtp.Packet{
			Header:  rtp.Header{SequenceNumber: seq, Timestamp: uint32(seq)},
			Payload: payload,
		})
		return changed
	}
	if push(1, testSPS) || push(2, testPPS) {
		t.Error("the announced parameter sets reported as a change")
	}
	sps2 := []byte{0x67, 0x64, 0x00, 0x1f}
	if !push(3, stapA(sps2, testPPS)) {
		t.Error("a new SPS not reported")
	}
	if !bytes.Equal(c.sps, sps2) || !bytes.Equal(c.pps, testPPS) {
		t.Errorf("latest parameter sets % x, % x", c.sps, c.pps)
	}
}

// TestGOPCachesShareABudget fills two paths' caches from one budget: the one that would take the
// budget over drops its GOP (its players wait for the next IDR), the other keeps its own, and
// what a cache drops or a closed path clears goes back to the budget.
func TestGOPCachesShareABudget(t *testing.T) {
	budget := &gopBudget{max: 3000}
	idr := func(c *gopCache, ts uint32, size int) {
		payload := append([]byte{byte(h264.NALUTypeIDR) | 0x60}, make([]byte, size-1)...)
		c.pushVideo(testVideo, &rtp.Packet{Header: rtp.Header{Timestamp: ts, Marker: true}, Payload: payload})
	}
	a, b := newGOPCache(testSPS, testPPS, budget), newGOPCache(testSPS, testPPS, budget)
	idr(a, 1, 2000)
	idr(b, 1, 2000)
	if a.bytes != 2000 || !a.active || b.active || b.bytes != 0 || budget.used.Load() != 2000 {
		t.Fatalf("a %d bytes (active %v), b %d (active %v), budget used %d; want a's GOP kept, b's dropped",
			a.bytes, a.active, b.bytes, b.active, budget.used.Load())
	}
	a.clear()
	idr(b, 2, 2000)
	if !b.active || budget.used.Load() != 2000 {
		t.Errorf("after a's clear: b active %v, budget used %d; want b's GOP kept", b.active, budget.used.Load())
	}
	idr(b, 3, 1000) // a new GOP replaces the old one in the count
	if budget.used.Load() != 1000 {
		t.Errorf("budget used %d after b's next GOP, want 1000", budget.used.Load())
	}
}
