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

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

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
	fr := demuxtest.Frames(t, "1")
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
