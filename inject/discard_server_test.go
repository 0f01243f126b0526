package inject

import (
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"
)

// discardServer is a gortsplib server that takes every push, over TCP, and only counts its RTP
// packets, per path.
type discardServer struct {
	srv  *gortsplib.Server
	addr string

	mu      sync.Mutex
	packets map[string]*atomic.Uint64
}

// newDiscardServer starts a server on 127.0.0.1:0, with TLS when tlsConfig is not nil.
func newDiscardServer(tlsConfig *tls.Config) (*discardServer, error) {
	s := &discardServer{packets: map[string]*atomic.Uint64{}}
	s.srv = &gortsplib.Server{
		Handler:     s,
		RTSPAddress: "127.0.0.1:0",
		TLSConfig:   tlsConfig,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err == nil {
				s.addr = l.Addr().String()
			}
			return l, err
		},
	}
	return s, s.srv.Start()
}

// startDiscardServer starts a server for a test, closed when it ends.
func startDiscardServer(t testing.TB, tlsConfig *tls.Config) *discardServer {
	t.Helper()
	s, err := newDiscardServer(tlsConfig)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.srv.Close)
	return s
}

// received returns the RTP packets received for a path (without its leading slash).
func (s *discardServer) received(path string) uint64 {
	return s.counter(path).Load()
}

func (s *discardServer) counter(path string) *atomic.Uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.packets[path]
	if c == nil {
		c = new(atomic.Uint64)
		s.packets[path] = c
	}
	return c
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce.
func (s *discardServer) OnAnnounce(*gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (s *discardServer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord.
func (s *discardServer) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	c := s.counter(ctx.Path[1:])
	ctx.Session.OnPacketRTPAny(func(*description.Media, format.Format, *rtp.Packet) { c.Add(1) })
	return &base.Response{StatusCode: base.StatusOK}, nil
}
