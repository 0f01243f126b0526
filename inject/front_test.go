package inject

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// front stands before a server and forwards each connection to it: with TLS before a server
// without (as a TLS front end of an RTMP server does), and able to stop reading from its
// clients, as a server that hangs does.
type front struct {
	l       net.Listener
	backend string
	tls     *tls.Config

	mu     sync.Mutex
	conns  []net.Conn
	paused chan struct{} // closed while not paused
	closed chan struct{}
	wg     sync.WaitGroup
}

// frontBufferSize is the receive buffer of a front's client connections: small, so that a
// client's writes fill it soon once the front stops reading.
const frontBufferSize = 16 << 10

// startFront starts a front of backend on 127.0.0.1:0, with TLS when tlsConfig is not nil; it
// is closed when the test ends.
func startFront(t *testing.T, backend string, tlsConfig *tls.Config) *front {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &front{l: l, backend: backend, tls: tlsConfig, paused: make(chan struct{}), closed: make(chan struct{})}
	close(f.paused)
	f.wg.Go(f.accept)
	t.Cleanup(f.close)
	return f
}

func (f *front) addr() string { return f.l.Addr().String() }

// pause stops reading from the clients, resume reads again.
func (f *front) pause() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.paused = make(chan struct{})
}

func (f *front) resume() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.paused)
}

func (f *front) accept() {
	for {
		nc, err := f.l.Accept()
		if err != nil {
			return
		}
		nc.(*net.TCPConn).SetReadBuffer(frontBufferSize) //nolint:errcheck // a larger one only slows the test
		client := nc
		if f.tls != nil {
			client = tls.Server(nc, f.tls)
		}
		server, err := net.Dial("tcp", f.backend)
		if err != nil {
			nc.Close()
			continue
		}
		f.mu.Lock()
		f.conns = append(f.conns, nc, server)
		f.mu.Unlock()
		f.wg.Go(func() {
			io.Copy(client, server) //nolint:errcheck // ends with either connection
			nc.Close()
		})
		f.wg.Go(func() {
			defer server.Close()
			buf := make([]byte, 4096)
			for {
				f.mu.Lock()
				paused := f.paused
				f.mu.Unlock()
				select {
				case <-paused:
				case <-f.closed:
					return
				}
				n, err := client.Read(buf)
				if _, werr := server.Write(buf[:n]); werr != nil || err != nil {
					if err != nil && !errors.Is(err, io.EOF) {
						nc.Close()
					}
					return
				}
			}
		})
	}
}

// close closes the listener and every connection, and waits for the front's goroutines.
func (f *front) close() {
	close(f.closed)
	f.l.Close()
	f.mu.Lock()
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}
