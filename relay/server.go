// Package relay is liveinject's built-in RTSP server: publishers push a stream to a path with
// ANNOUNCE/SETUP/RECORD, players read it with DESCRIBE/SETUP/PLAY over TCP or UDP. Each path keeps
// its last GOP, so a player that joins late starts at once, at an IDR with SPS/PPS. It is the
// quickstart's destination and the tests' receiver, not a server for production fan-out.
package relay

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4"
)

// Size of each session's write queue. A player that joins late gets the whole cached GOP queued at
// once, before the queue starts draining, so it must hold a full GOP with room to spare.
const writeQueueSize = 4096

// Server is the built-in RTSP relay.
type Server struct {
	Address        string // RTSP TCP listen address; "127.0.0.1:0" works
	UDPRTPAddress  string // optional; with UDPRTCPAddress enables UDP for players (both or neither)
	UDPRTCPAddress string
	Logger         *slog.Logger // nil = discard
	// GOPMemory bounds the payload bytes that the GOP caches of all paths hold together.
	// Default 64 MiB.
	GOPMemory int64
	// PublishUser and PublishPassword, when PublishUser is set, are the credentials every
	// publisher must give (Basic or Digest): without them ANNOUNCE answers 401, so nobody else
	// can replace a publisher. Players need none.
	PublishUser, PublishPassword string

	// Optional hooks for callers and tests, called from the server's goroutines; they must not
	// block.
	OnPublish   func(path string)
	OnUnpublish func(path string, teardown bool) // teardown: the publisher sent TEARDOWN (vs. dropped/timed out)

	// senderReports is the period of the players' RTCP sender reports; tests shorten it.
	senderReports time.Duration

	log       *slog.Logger
	srv       *gortsplib.Server
	addr      string
	gopBudget *gopBudget

	mu    sync.Mutex
	paths map[string]*path
	// unpublished is closed, and replaced, whenever a path loses its publisher.
	unpublished chan struct{}
}

// PathInfo is one path in Server.Paths.
type PathInfo struct {
	Path       string
	Publishing bool // a publisher has started RECORD
	Readers    int  // players that have started PLAY, liveinject's return checks not counted
	// Checks are liveinject's return checks playing the path: a destination of a channel that
	// plays its stream back from the relay to see that it is served (inject's verifier).
	Checks  int
	Packets uint64 // RTP packets received from the publisher
}

// Initialize binds the listeners and starts serving.
func (s *Server) Initialize() error {
	if s.Address == "" {
		return errors.New("relay: no listen address")
	}
	if (s.UDPRTPAddress == "") != (s.UDPRTCPAddress == "") {
		return errors.New("relay: UDP RTP and RTCP addresses must be set together")
	}
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.paths = make(map[string]*path)
	s.unpublished = make(chan struct{})
	s.gopBudget = &gopBudget{max: cmp.Or(max(s.GOPMemory, 0), 64<<20)}
	s.senderReports = cmp.Or(s.senderReports, senderReportPeriod)
	srv := &gortsplib.Server{
		Handler:        &handler{s: s},
		RTSPAddress:    s.Address,
		UDPRTPAddress:  s.UDPRTPAddress,
		UDPRTCPAddress: s.UDPRTCPAddress,
		WriteQueueSize: writeQueueSize,
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err == nil {
				s.addr = l.Addr().String()
			}
			return l, err
		},
	}
	// The handler uses s.srv as soon as a publisher comes, which can be before Start returns.
	s.srv = srv
	if err := srv.Start(); err != nil {
		s.srv = nil
		return fmt.Errorf("relay: listening on %s: %w", s.Address, err)
	}
	attrs := []any{"address", s.addr}
	if s.UDPRTPAddress != "" {
		attrs = append(attrs, "udp_rtp", s.UDPRTPAddress, "udp_rtcp", s.UDPRTCPAddress)
	}
	s.log.Info("relay listening", attrs...)
	return nil
}

// Addr returns the bound RTSP address, such as "127.0.0.1:7554". It is valid after Initialize.
func (s *Server) Addr() string {
	return s.addr
}

// Close stops the server: publishers and players are disconnected, and every goroutine has ended
// when it returns.
func (s *Server) Close() {
	if s.srv == nil {
		return
	}
	// Closing the sessions closes their paths, through the handler.
	s.srv.Close()

	s.mu.Lock()
	left := s.paths
	s.paths = make(map[string]*path)
	s.mu.Unlock()
	for _, p := range left {
		p.close()
	}
	s.log.Info("relay closed", "address", s.addr)
}

// WaitUnpublished waits until no path has a publisher, or ctx ends. A process that pushes into
// its own relay calls it after stopping its publishers, so that their TEARDOWNs are served
// before Close cuts the connections.
func (s *Server) WaitUnpublished(ctx context.Context) error {
	for {
		s.mu.Lock()
		n, changed := len(s.paths), s.unpublished
		s.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-changed:
		}
	}
}

// Paths returns the paths that have a publisher, sorted by name.
func (s *Server) Paths() []PathInfo {
	s.mu.Lock()
	ps := make([]*path, 0, len(s.paths))
	for _, p := range s.paths {
		ps = append(ps, p)
	}
	s.mu.Unlock()

	out := make([]PathInfo, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info())
	}
	slices.SortFunc(out, func(a, b PathInfo) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// pathKey names a path from a request's path, which gortsplib gives without the query.
func pathKey(p string) string {
	return strings.TrimSuffix(strings.TrimPrefix(p, "/"), "/")
}

// lookup returns the path's current publication, or nil.
func (s *Server) lookup(name string) *path {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paths[name]
}

// publish makes p the path's publication and returns the one it replaces, if any.
func (s *Server) publish(p *path) (old *path) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old = s.paths[p.name]
	s.paths[p.name] = p
	return old
}

// unpublish removes p from its path and reports whether it was still the path's publication.
func (s *Server) unpublish(p *path) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.paths[p.name] != p {
		return false
	}
	delete(s.paths, p.name)
	close(s.unpublished)
	s.unpublished = make(chan struct{})
	return true
}

func (s *Server) onPublish(name string) {
	if s.OnPublish != nil {
		s.OnPublish(name)
	}
}

func (s *Server) onUnpublish(name string, teardown bool) {
	if s.OnUnpublish != nil {
		s.OnUnpublish(name, teardown)
	}
}
