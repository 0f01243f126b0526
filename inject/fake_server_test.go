package inject

import (
	"bytes"
	"net"
	"strconv"
	"sync"
	"testing"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/conn"
	"github.com/pion/rtp"
)

// fakeServer is a scripted RTSP server for the behaviours of real servers such as Darwin
// Streaming Server that the built-in relay does not have: refusals, drops, silence.
type fakeServer struct {
	l net.Listener
	// respond answers a request on the n-th connection (0-based); nil answers as a server
	// that accepts everything would. drop asks to close the connection instead after that many
	// RTP packets (0: never).
	respond   func(n int, req *base.Request) *base.Response
	dropAfter func(n int) int

	wg      sync.WaitGroup
	mu      sync.Mutex
	conns   []net.Conn
	reqs    []fakeRequest
	packets map[int][]fakePacket
}

type fakeRequest struct {
	conn int
	req  *base.Request
}

type fakePacket struct {
	channel int
	pkt     rtp.Packet
}

// newFakeServer starts a server; configure, if not nil, sets its script first.
func newFakeServer(t *testing.T, configure func(*fakeServer)) *fakeServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{l: l, packets: map[int][]fakePacket{}}
	if configure != nil {
		configure(s)
	}
	t.Cleanup(s.close)
	s.wg.Add(1)
	go s.accept()
	return s
}

func (s *fakeServer) url(path string) string { return "rtsp://" + s.l.Addr().String() + path }

func (s *fakeServer) close() {
	s.l.Close()
	s.mu.Lock()
	for _, c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

func (s *fakeServer) accept() {
	defer s.wg.Done()
	for {
		nc, err := s.l.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		n := len(s.conns)
		s.conns = append(s.conns, nc)
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer nc.Close()
			s.serve(n, nc)
		}()
	}
}

func (s *fakeServer) serve(n int, nc net.Conn) {
	c := conn.NewConn(nc)
	drop := 0
	if s.dropAfter != nil {
		drop = s.dropAfter(n)
	}
	for {
		what, err := c.Read()
		if err != nil {
			return
		}
		switch x := what.(type) {
		case *base.InterleavedFrame:
			var p rtp.Packet
			if x.Channel%2 != 0 || p.Unmarshal(bytes.Clone(x.Payload)) != nil {
				continue // RTCP
			}
			s.mu.Lock()
			s.packets[n] = append(s.packets[n], fakePacket{channel: x.Channel, pkt: p})
			count := len(s.packets[n])
			s.mu.Unlock()
			if drop > 0 && count >= drop {
				return
			}
		case *base.Request:
			s.mu.Lock()
			s.reqs = append(s.reqs, fakeRequest{conn: n, req: x})
			s.mu.Unlock()
			var res *base.Response
			if s.respond != nil {
				res = s.respond(n, x)
			}
			if res == nil {
				res = accept(x)
			}
			if res.Header == nil {
				res.Header = base.Header{}
			}
			res.Header["CSeq"] = x.Header["CSeq"]
			if c.WriteResponse(res) != nil {
				return
			}
		}
	}
}

// accept answers as a server that takes the push.
func accept(req *base.Request) *base.Response {
	res := &base.Response{StatusCode: base.StatusOK, Header: base.Header{}}
	switch req.Method {
	case base.Options:
		res.Header["Public"] = base.HeaderValue{"ANNOUNCE, SETUP, RECORD, TEARDOWN"}
	case base.Setup:
		res.Header["Transport"] = req.Header["Transport"]
		res.Header["Session"] = base.HeaderValue{"12345678"}
	}
	return res
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
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*base.Request
	for _, r := range s.reqs {
		if r.req.Method == method {
			out = append(out, r.req)
		}
	}
	return out
}

func (s *fakeServer) received(n int) []fakePacket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]fakePacket(nil), s.packets[n]...)
}
