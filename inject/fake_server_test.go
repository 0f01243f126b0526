package inject

import (
	"bufio"
	"bytes"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/conn"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// fakeServer is a scripted RTSP server for the behaviours of real servers such as Darwin
// Streaming Server that the built-in relay does not have: refusals, drops, silence.
type fakeServer struct {
	l net.Listener
	// respond answers a request on the n-th connection (0-based); nil answers as a server
	// that accepts everything would. drop asks to close the connection instead after that many
	// RTP packets (0: never), over TCP or UDP.
	respond   func(n int, req *base.Request) *base.Response
	dropAfter func(n int) int
	// stallAfter asks the n-th connection to stop reading after that many RTP packets (0:
	// never), as a server that hangs does.
	stallAfter func(n int) int
	// resume, when set, has a stalled connection read again once it is closed.
	resume chan struct{}
	// afterRecord, when set, writes to the n-th connection once RECORD is answered, as a
	// server that sends the client interleaved data of its own.
	afterRecord func(n int, c *conn.Conn)
	// udp takes RTP over UDP; without it a UDP SETUP gets 461, as from a TCP-only server.
	udp bool
	// dss, when set, makes the server answer and reflect as Darwin Streaming Server 6.0.3 does.
	dss *fakeDSS
	// respondCheck answers a request of a return check's connection (see serveCheck); nil
	// answers DESCRIBE with 404 Not Found, as a server that plays nothing.
	respondCheck func(req *base.Request) *base.Response
	// afterPlay, when set, is started in a goroutine of its own once a return check's PLAY is
	// answered 200, to serve it; it must return when the connection fails or done is closed.
	afterPlay func(c *conn.Conn)

	wg    sync.WaitGroup
	done  chan struct{} // closed by close
	mu    sync.Mutex
	conns []net.Conn
	udps  []net.PacketConn
	reqs  []fakeRequest
	// checks are the return checks' connections, and checkReqs their requests: apart from the
	// pushes', whose connections are numbered in the order they come.
	checks    []net.Conn
	checkReqs []fakeRequest
	packets   map[int][]fakePacket
	// reports are the RTCP sender reports received, by interleaved channel
	reports map[int][]rtcp.SenderReport
}

type fakeRequest struct {
	conn int
	req  *base.Request
	at   time.Time
}

type fakePacket struct {
	channel int
	pkt     rtp.Packet
}

// recordRTCP keeps the sender reports of an RTCP compound packet.
func (s *fakeServer) recordRTCP(channel int, payload []byte) {
	pkts, err := rtcp.Unmarshal(payload)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range pkts {
		if sr, ok := p.(*rtcp.SenderReport); ok {
			s.reports[channel] = append(s.reports[channel], *sr)
		}
	}
}

// senderReports returns the sender reports received on an interleaved channel.
func (s *fakeServer) senderReports(channel int) []rtcp.SenderReport {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.reports[channel])
}

// newFakeServer starts a server; configure, if not nil, sets its script first.
func newFakeServer(t *testing.T, configure func(*fakeServer)) *fakeServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{l: l, packets: map[int][]fakePacket{}, reports: map[int][]rtcp.SenderReport{},
		done: make(chan struct{})}
	if configure != nil {
		configure(s)
	}
	if s.dss != nil && s.dss.own == nil {
		s.dss.own = []net.IP{l.Addr().(*net.TCPAddr).IP}
	}
	t.Cleanup(s.close)
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *fakeServer) url(path string) string { return "rtsp://" + s.l.Addr().String() + path }

func (s *fakeServer) close() {
	s.l.Close()
	close(s.done)
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	for _, c := range s.checks {
		c.Close()
	}
	for _, c := range s.udps {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		raw, err := s.l.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer raw.Close()
			nc := &peekedConn{Conn: raw, r: bufio.NewReader(raw)}
			s.mu.Lock()
			s.checks = append(s.checks, raw) // until it shows what it is, for close
			s.mu.Unlock()
			check, err := isCheck(nc.r)
			if err != nil {
				return
			}
			if check {
				s.serveCheck(nc)
				return
			}
			s.mu.Lock()
			n := len(s.conns)
			s.conns = append(s.conns, raw)
			s.mu.Unlock()
			s.serve(n, nc)
			if s.dss != nil {
				s.dss.closed(n)
			}
		}()
	}
}

func (s *fakeServer) serve(n int, nc net.Conn) {
	c := conn.NewConn(nc)
	drop, stall := 0, 0
	if s.dropAfter != nil {
		drop = s.dropAfter(n)
	}
	if s.stallAfter != nil {
		if stall = s.stallAfter(n); stall > 0 {
			// so that the client's writes block soon after the server stops reading
			nc.(interface{ SetReadBuffer(int) error }).SetReadBuffer(4096) //nolint:errcheck
		}
	}
	for {
		what, err := c.Read()
		if err != nil {
			return
		}
		switch x := what.(type) {
		case *base.InterleavedFrame:
			if x.Channel%2 != 0 {
				s.recordRTCP(x.Channel, x.Payload)
				continue
			}
			var p rtp.Packet
			if p.Unmarshal(bytes.Clone(x.Payload)) != nil {
				continue
			}
			count := s.record(n, x.Channel, p)
			if drop > 0 && count >= drop {
				return
			}
			if stall > 0 && count >= stall {
				select {
				case <-s.resume: // nil: never
					stall = 0
				case <-s.done:
					return
				}
			}
		case *base.Request:
			s.mu.Lock()
			s.reqs = append(s.reqs, fakeRequest{conn: n, req: x, at: time.Now()})
			s.mu.Unlock()
			var res *base.Response
			if s.respond != nil {
				res = s.respond(n, x)
			}
			if res == nil && s.dss != nil {
				res = s.dss.answer(n, x)
			}
			if res == nil {
				res = s.answer(n, x)
			}
			if res.Header == nil {
				res.Header = base.Header{}
			}
			res.Header["CSeq"] = x.Header["CSeq"]
			if c.WriteResponse(res) != nil {
				return
			}
			if x.Method == base.Record && res.StatusCode == base.StatusOK && s.afterRecord != nil {
				s.afterRecord(n, c)
			}
		}
	}
}

// peekedConn is a connection whose first bytes were looked at.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *peekedConn) SetReadBuffer(n int) error { return c.Conn.(*net.TCPConn).SetReadBuffer(n) }

// isCheck reads ahead to the end of a connection's first request and tells whether it comes
// from a destination's return check, by its User-Agent: the tests of the push count its
// connections, to which the check's would add.
func isCheck(r *bufio.Reader) (bool, error) {
	for n := 1; n <= 8192; n++ {
		b, err := r.Peek(n)
		if err != nil {
			return false, err
		}
		if bytes.HasSuffix(b, []byte("\r\n\r\n")) {
			return bytes.Contains(b, []byte("User-Agent: "+checkUserAgent+"\r\n")), nil
		}
	}
	return false, nil
}

// serveCheck answers a return check's connection with respondCheck.
func (s *fakeServer) serveCheck(nc net.Conn) {
	c := conn.NewConn(nc)
	for {
		what, err := c.Read()
		if err != nil {
			return
		}
		req, ok := what.(*base.Request)
		if !ok {
			continue
		}
		s.mu.Lock()
		s.checkReqs = append(s.checkReqs, fakeRequest{req: req, at: time.Now()})
		s.mu.Unlock()
		var res *base.Response
		if s.respondCheck != nil {
			res = s.respondCheck(req)
		}
		if res == nil {
			res = &base.Response{StatusCode: base.StatusOK, Header: base.Header{}}
			switch req.Method {
			case base.Options:
				res.Header["Public"] = base.HeaderValue{"DESCRIBE, SETUP, PLAY, TEARDOWN"}
			case base.Describe:
				res.StatusCode = base.StatusNotFound
			}
		}
		if res.Header == nil {
			res.Header = base.Header{}
		}
		res.Header["CSeq"] = req.Header["CSeq"]
		if c.WriteResponse(res) != nil {
			return
		}
		if req.Method == base.Play && res.StatusCode == base.StatusOK && s.afterPlay != nil {
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.afterPlay(c)
			}()
		}
	}
}

// checkRequests returns the requests of the return checks, with their time, in order.
func (s *fakeServer) checkRequests() []fakeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.checkReqs)
}

// record keeps an RTP packet received on the n-th connection and returns how many it has.
func (s *fakeServer) record(n, channel int, p rtp.Packet) int {
	if s.dss != nil {
		s.dss.reflect(n, channel, p)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets[n] = append(s.packets[n], fakePacket{channel: channel, pkt: p})
	return len(s.packets[n])
}

// answer answers the n-th connection's request as a server that takes the push. Its Session
// header has no timeout, which leaves the client's keepalive period to the client.
func (s *fakeServer) answer(n int, req *base.Request) *base.Response {
	res := &base.Response{StatusCode: base.StatusOK, Header: base.Header{}}
	switch req.Method {
	case base.Options:
		res.Header["Public"] = base.HeaderValue{"ANNOUNCE, SETUP, RECORD, TEARDOWN"}
	case base.Setup:
		res.Header["Transport"] = req.Header["Transport"]
		res.Header["Session"] = base.HeaderValue{"12345678"}
		var th headers.Transport
		if th.Unmarshal(req.Header["Transport"]) != nil {
			return &base.Response{StatusCode: base.StatusBadRequest}
		}
		if th.Protocol == headers.TransportProtocolUDP {
			if !s.udp {
				return &base.Response{StatusCode: base.StatusUnsupportedTransport}
			}
			// RTP of track N is kept as interleaved channel 2N would be.
			track, _ := strconv.Atoi(req.URL.Path[strings.LastIndexByte(req.URL.Path, '=')+1:])
			th.ServerPorts = &[2]int{s.listenUDP(n, 2*track), s.listenUDP(n, 2*track+1)}
			res.Header["Transport"] = th.Marshal()
		}
	}
	return res
}

// listenUDP opens a UDP port that keeps what it gets as the n-th connection's would be on an
// interleaved channel: RTP packets on an even one, sender reports on an odd one.
func (s *fakeServer) listenUDP(n, channel int) int {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	// Room for a test's whole push sent at once: with the default 208 KB a reader slowed by
	// the race detector on a busy machine lost some of 168 packets.
	pc.(*net.UDPConn).SetReadBuffer(4 << 20) //nolint:errcheck
	s.mu.Lock()
	s.udps = append(s.udps, pc)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 2048)
		for {
			k, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if channel%2 == 1 {
				s.recordRTCP(channel, bytes.Clone(buf[:k]))
				continue
			}
			var p rtp.Packet
			if p.Unmarshal(bytes.Clone(buf[:k])) != nil {
				continue
			}
			// dropAfter ends the RTSP connection, as a server that goes away would
			if count := s.record(n, channel, p); s.dropAfter != nil && count == s.dropAfter(n) {
				s.mu.Lock()
				s.conns[n].Close()
				s.mu.Unlock()
			}
		}
	}()
	return pc.LocalAddr().(*net.UDPAddr).Port
}

// cut closes the n-th connection, as a network cut or a kill -9 of the client would end it.
func (s *fakeServer) cut(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.conns[n].Close()
}

// requests returns the methods received, as "conn:METHOD".
func (s *fakeServer) requests() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = strconv.Itoa(r.conn) + ":" + string(r.req.Method)
	}
	return out
}

// requestsOf returns the requests received with this method, in order.
func (s *fakeServer) requestsOf(method base.Method) []*base.Request {
	var out []*base.Request
	for _, r := range s.requestsWith(method) {
		out = append(out, r.req)
	}
	return out
}

// requestsWith returns the requests received with this method, with their connection and
// time, in order.
func (s *fakeServer) requestsWith(method base.Method) []fakeRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []fakeRequest
	for _, r := range s.reqs {
		if r.req.Method == method {
			out = append(out, r)
		}
	}
	return out
}

func (s *fakeServer) received(n int) []fakePacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fakePacket(nil), s.packets[n]...)
}
