package inject

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
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

// TestWireConnCoalesces writes what gortsplib writes for a frame of three RTP packets, an audio
// packet, an RTCP report and an RTSP request: the frame leaves in one write at its marker, the
// rest in order, each flushing what waits first; a write that fails is returned by the next Write.
func TestWireConnCoalesces(t *testing.T) {
	r := newSSRCRewriter("ch", "rtsp://dss/ch.sdp")
	pkt := func(pt uint8, seq uint16, marker bool) []byte {
		b, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: pt, SequenceNumber: seq, Marker: marker,
			SSRC: 0x1111}, Payload: []byte{byte(seq)}}).Marshal()
		return interleaved(0, b)
	}
	report, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.SenderReport{SSRC: 0x1111}})
	request := []byte("GET_PARAMETER rtsp://dss/ch.sdp RTSP/1.0\r\nCSeq: 9\r\n\r\n")
	rc := &recordingConn{}
	c := &wireConn{Conn: rc, r: r}
	defer c.Close()
	var want []byte
	check := func(what string, writes int) {
		t.Helper()
		out, n := rc.written()
		if n != writes || !bytes.Equal(out, want) {
			t.Errorf("%s: %d writes of %d bytes, want %d of %d", what, n, len(out), writes, len(want))
		}
	}
	write := func(b []byte) {
		t.Helper()
		if n, err := c.Write(b); n != len(b) || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
	}
	r.video = 0x1111 // the SSRC stays as it is, so that the bytes can be compared
	for seq := range uint16(3) {
		write(pkt(96, seq, seq == 2))
		if _, n := rc.written(); seq < 2 && n != 0 {
			t.Errorf("%d writes before the frame's last packet", n)
		}
		want = append(want, pkt(96, seq, seq == 2)...)
	}
	check("at the frame's last packet", 1)

	// a packet, then RTCP: both in one write, the packet first; the same with an RTSP request
	write(pkt(96, 3, false))
	write(interleaved(1, report))
	want = append(append(want, pkt(96, 3, false)...), interleaved(1, report)...)
	check("at RTCP", 2)
	write(pkt(96, 4, false))
	write(request)
	want = append(append(want, pkt(96, 4, false)...), request...)
	check("at a request", 3)

	// a frame whose last packet never comes leaves after coalesceFor
	write(pkt(96, 5, false))
	want = append(want, pkt(96, 5, false)...)
	fftest.WaitFor(t, 5*time.Second, "the timer's write", func() bool { _, n := rc.written(); return n == 4 })
	check("after the timer", 4)

	// a failed write of a waiting frame is the next Write's error
	rc.mu.Lock()
	rc.err = errors.New("broken pipe")
	rc.mu.Unlock()
	write(pkt(96, 6, false))
	fftest.WaitFor(t, 5*time.Second, "the failed write kept", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.err != nil
	})
	if _, err := c.Write(pkt(96, 7, true)); err == nil || err.Error() != "broken pipe" {
		t.Errorf("Write after a failed flush: %v, want broken pipe", err)
	}
}

// writesConn keeps every Write of a connection as it was given.
type writesConn struct {
	net.Conn
	mu     sync.Mutex
	writes [][]byte
}

func (c *writesConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	c.writes = append(c.writes, bytes.Clone(p))
	c.mu.Unlock()
	return c.Conn.Write(p)
}

// TestSSRCConnWrites checks what wireConn relies on in gortsplib: its client writes every
// interleaved frame with one Write of its own, whole, and RTSP messages apart from them. An
// upgrade that splits or joins them would leave the SSRCs as the library chose them and the
// frames of a picture written one by one.
func TestSSRCConnWrites(t *testing.T) {
	fr := frames(t, "1")
	s := newFakeServer(t, nil)
	sess, err := newSession("test", Metadata{}, fr[0].Params)
	if err != nil {
		t.Fatal(err)
	}
	var wc *writesConn
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{Transport: &tcp, DisableRTCPSenderReports: true,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
			if err == nil {
				wc = &writesConn{Conn: nc}
				return wc, nil
			}
			return nil, err
		}}
	if err := c.StartRecording(s.url("/w.sdp"), sess.desc); err != nil {
		t.Fatal(err)
	}
	// RTP packets of a picture in several packets, of all sizes, and an RTCP report
	enc := &rtph264.Encoder{PayloadType: videoPayloadType, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	pkts, err := enc.Encode(withParameterSets(fr[0].Data, fr[0].Params))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := c.WritePacketRTP(sess.video, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.WritePacketRTCP(sess.video, &rtcp.SenderReport{SSRC: 1}); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "the packets at the server", func() bool {
		return len(s.received(0)) == len(pkts)
	})
	c.Close()

	wc.mu.Lock()
	defer wc.mu.Unlock()
	frames := 0
	for i, w := range wc.writes {
		if w[0] != '$' {
			if !bytes.HasPrefix(w, []byte("OPTIONS ")) && !bytes.HasPrefix(w, []byte("ANNOUNCE ")) &&
				!bytes.HasPrefix(w, []byte("SETUP ")) && !bytes.HasPrefix(w, []byte("RECORD ")) &&
				!bytes.HasPrefix(w, []byte("TEARDOWN ")) {
				t.Errorf("write %d is neither a request nor a frame: %q", i, w[:min(len(w), 20)])
			}
			continue
		}
		if len(w) < 4 || 4+int(binary.BigEndian.Uint16(w[2:4])) != len(w) {
			t.Errorf("write %d is not one whole interleaved frame: %d bytes", i, len(w))
		}
		frames++
	}
	if frames != len(pkts)+1 {
		t.Errorf("%d interleaved frames written, want %d packets and a report, one write each", frames, len(pkts)+1)
	}
}

// TestWireConnWritesRaw: over a real TCP connection the wrapper writes with raw system calls
// (internal/rawio), and what it writes arrives whole, rewritten.
func TestWireConnWritesRaw(t *testing.T) {
	nc, peer := fftest.TCPPair(t)
	r := newSSRCRewriter("ch", "rtsp://dss/ch.sdp")
	c := newWireConn(nc, r)
	defer c.Close()
	if c.raw == nil {
		t.Fatal("a TCP connection is not written with raw system calls")
	}
	pkt, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, Marker: true, SSRC: 0x1111},
		Payload: bytes.Repeat([]byte{7}, 1000)}).Marshal()
	frame := interleaved(0, pkt)
	if n, err := c.Write(frame); n != len(frame) || err != nil {
		t.Fatalf("Write: %d, %v", n, err)
	}
	got := make([]byte, len(frame))
	if _, err := io.ReadFull(peer, got); err != nil {
		t.Fatal(err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(got[4:]); err != nil || p.SSRC != r.video || len(p.Payload) != 1000 {
		t.Fatalf("arrived %+v (%v), want SSRC %x and the payload", p.Header, err, r.video)
	}
}
