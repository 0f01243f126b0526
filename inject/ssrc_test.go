package inject

import (
	"bytes"
	"encoding/binary"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
)

func TestStableSSRC(t *testing.T) {
	v := stableSSRC("lobby", "rtsp://dss/lobby.sdp", demux.Video)
	a := stableSSRC("lobby", "rtsp://dss/lobby.sdp", demux.Audio)
	if v == 0 || a == 0 || v == a {
		t.Errorf("video %x, audio %x: want two different, non-zero", v, a)
	}
	if v != stableSSRC("lobby", "rtsp://dss/lobby.sdp", demux.Video) {
		t.Errorf("not the same for the same names")
	}
	for _, other := range []uint32{
		stableSSRC("lobby2", "rtsp://dss/lobby.sdp", demux.Video),
		stableSSRC("lobby", "rtsp://dss2/lobby.sdp", demux.Video),
		stableSSRC("lobb", "yrtsp://dss/lobby.sdp", demux.Video),
	} {
		if other == v {
			t.Errorf("another channel or destination has the same SSRC %x", v)
		}
	}
}

// interleaved frames a packet as RTSP interleaved data on channel ch.
func interleaved(ch byte, p []byte) []byte {
	return append([]byte{'$', ch, byte(len(p) >> 8), byte(len(p))}, p...)
}

// recordingConn is a net.Conn that keeps what is written to it, and how many writes.
type recordingConn struct {
	net.Conn
	mu     sync.Mutex
	out    bytes.Buffer
	writes int
	err    error // returned by every Write when set
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	c.writes++
	return c.out.Write(p)
}

func (c *recordingConn) Close() error { return nil }

// written returns what was written so far and in how many writes.
func (c *recordingConn) written() ([]byte, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.out.Bytes()), c.writes
}

// TestSSRCConn writes what gortsplib writes, an RTSP request and interleaved RTP and RTCP
// frames each with a Write of their own, and one frame split over two: the RTP and the RTCP leave
// with the stable SSRCs, the rest byte for byte, and the caller's bytes are not touched.
func TestSSRCConn(t *testing.T) {
	r := newSSRCRewriter("ch", "rtsp://dss/ch.sdp")
	video := func(ssrc uint32) []byte {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: 7, SSRC: ssrc},
			Payload: []byte{1, 2, 3}}).Marshal()
		return b
	}
	audio, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 97, SSRC: 0xaaaa}, Payload: []byte{9}}).Marshal()
	report, _ := rtcp.Marshal([]rtcp.Packet{
		&rtcp.SenderReport{SSRC: 0x1111, PacketCount: 3},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{
			{Source: 0x1111, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "cname of some length"}}},
			{Source: 0xaaaa, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "x"}}},
			{Source: 0x5555, Items: []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: "not ours"}}},
		}},
		&rtcp.Goodbye{Sources: []uint32{0x1111, 0xaaaa}},
	})
	request := []byte("OPTIONS rtsp://dss/ch.sdp RTSP/1.0\r\nCSeq: 9\r\n\r\n")
	split := interleaved(0, video(0x1111))

	rc := &recordingConn{}
	c := &wireConn{Conn: rc, r: r}
	writes := [][]byte{request, interleaved(0, video(0x1111)), interleaved(2, audio), interleaved(1, report),
		split[:10], split[10:], interleaved(0, video(0x1111))}
	for _, w := range writes {
		before := bytes.Clone(w)
		if n, err := c.Write(w); n != len(w) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		if !bytes.Equal(w, before) {
			t.Fatalf("Write changed the caller's bytes")
		}
	}

	// the last packet, without the marker bit, waits for the timer
	var out []byte
	fftest.WaitFor(t, 5*time.Second, "the last frame written", func() bool {
		out, _ = rc.written()
		return bytes.HasSuffix(out, interleaved(0, video(r.video)))
	})
	if !bytes.HasPrefix(out, request) {
		t.Fatalf("the request was changed: %q", out[:len(request)])
	}
	out = out[len(request):]
	frame := func() (byte, []byte) {
		ch, size := out[1], int(binary.BigEndian.Uint16(out[2:4]))
		p := out[4 : 4+size]
		out = out[4+size:]
		return ch, p
	}
	var p rtp.Packet
	_, b := frame()
	if p.Unmarshal(b) != nil || p.SSRC != r.video || p.SequenceNumber != 7 || !bytes.Equal(p.Payload, []byte{1, 2, 3}) {
		t.Errorf("video packet %+v, want SSRC %x", p.Header, r.video)
	}
	_, b = frame()
	if p.Unmarshal(b) != nil || p.SSRC != r.audio {
		t.Errorf("audio packet SSRC %x, want %x", p.SSRC, r.audio)
	}
	_, b = frame()
	pkts, err := rtcp.Unmarshal(b)
	if err != nil || len(pkts) != 3 {
		t.Fatalf("RTCP: %v, %v", pkts, err)
	}
	if sr := pkts[0].(*rtcp.SenderReport); sr.SSRC != r.video || sr.PacketCount != 3 {
		t.Errorf("sender report %+v, want SSRC %x", sr, r.video)
	}
	sdes := pkts[1].(*rtcp.SourceDescription)
	if got := []uint32{sdes.Chunks[0].Source, sdes.Chunks[1].Source, sdes.Chunks[2].Source}; got[0] != r.video ||
		got[1] != r.audio || got[2] != 0x5555 || sdes.Chunks[0].Items[0].Text != "cname of some length" {
		t.Errorf("SDES chunks %x, want %x %x 5555", got, r.video, r.audio)
	}
	if bye := pkts[2].(*rtcp.Goodbye); bye.Sources[0] != r.video || bye.Sources[1] != r.audio {
		t.Errorf("BYE %x", bye.Sources)
	}
	// The split frame passes as it is; the next one is rewritten again.
	if _, b = frame(); !bytes.Equal(b, video(0x1111)) {
		t.Errorf("split frame changed")
	}
	if _, b = frame(); p.Unmarshal(b) != nil || p.SSRC != r.video || len(out) != 0 {
		t.Errorf("after the split frame: SSRC %x, %d bytes left", p.SSRC, len(out))
	}
}

// TestSSRCConnDamagedRTCP feeds the RTCP rewriter packets that lie about their lengths: it
// rewrites the SSRCs it can reach, leaves the rest, and never reads out of bounds.
func TestSSRCConnDamagedRTCP(t *testing.T) {
	r := newSSRCRewriter("ch", "rtsp://dss/ch.sdp")
	r.rtp(rtpPacketBytes(t, 0x1111))
	for _, tc := range []struct {
		name    string
		pkt     []byte
		swapped bool // the SSRC at bytes 4-7 becomes the stable one
	}{
		{"length past the end", []byte{0x80, 200, 0xff, 0xff, 0, 0, 0x11, 0x11}, false},
		{"item past the end", []byte{0x81, 202, 0, 2, 0, 0, 0x11, 0x11, 1, 200, 'x', 0}, true},
		{"31 chunks, one there", []byte{0x9f, 202, 0, 1, 0, 0, 0x11, 0x11}, true},
		{"31 BYE sources, one there", []byte{0x9f, 203, 0, 1, 0, 0, 0x11, 0x11}, true},
		{"not version 2", []byte{0x40, 200, 0, 1, 0, 0, 0x11, 0x11}, false},
	} {
		b := bytes.Clone(tc.pkt)
		r.rtcp(b)
		want := bytes.Clone(tc.pkt)
		if tc.swapped {
			binary.BigEndian.PutUint32(want[4:8], r.video)
		}
		if !bytes.Equal(b, want) {
			t.Errorf("%s: % x, want % x", tc.name, b, want)
		}
	}
}

func rtpPacketBytes(t *testing.T, ssrc uint32) []byte {
	b, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: videoPayloadType, SSRC: ssrc}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
