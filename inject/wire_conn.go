package inject

import (
	"encoding/binary"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/liveinject/liveinject/internal/rawio"
)

// How interleaved RTP is written: the packets of a frame wait for its last one (the RTP marker
// bit) and leave in one write, but no longer than coalesceFor, nor beyond coalesceMax bytes.
const (
	coalesceFor = 2 * time.Millisecond
	coalesceMax = 64 << 10
)

// wireConn is the RTSP connection of a client session over TCP. Interleaved RTP and RTCP frames
// written through it leave with the stable SSRCs, RTSP messages as they are. And the RTP packets
// of one frame leave together: gortsplib writes each packet with a write(2) of its own, which
// cost a system call per packet per destination (64 % of the process's CPU at 100 destinations);
// here they wait for the frame's last packet (the marker bit), an RTCP packet or an RTSP message,
// which all flush what waits first, so nothing is reordered; a timer flushes a frame whose last
// packet does not come (the client's queue dropped it). A failed write is returned by the next
// Write, which ends the session as the write itself would have.
//
// gortsplib writes every RTSP message and every interleaved frame with one Write of its own
// (pkg/conn), which this relies on to tell them apart; a frame split over two writes is passed
// on unchanged rather than misread (TestSSRCConnWrites checks the library still writes so).
type wireConn struct {
	net.Conn
	r *ssrcRewriter

	mu sync.Mutex
	// buf holds what waits to be written, edited: Write must not change the caller's bytes.
	buf []byte
	// skip is what is left of a frame that an earlier Write began.
	skip  int
	timer *time.Timer // flushes buf coalesceFor after it began to wait; armed while it does
	armed bool
	err   error // the error of a write that no Write returned yet
	// raw is Conn's descriptor, written with rawio (which wakes no sysmon), nil when it cannot be.
	raw syscall.RawConn
	// written counts the bytes put on the socket, for the session's stall watch.
	written atomic.Uint64
}

// newWireConn returns nc rewritten by r.
func newWireConn(nc net.Conn, r *ssrcRewriter) *wireConn {
	c := &wireConn{Conn: nc, r: r}
	c.raw, _ = rawio.Conn(nc)
	return c
}

func (c *wireConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return 0, c.err
	}
	start := len(c.buf)
	c.buf = append(c.buf, p...)
	b := c.buf[start:]
	wait := true // p is whole RTP packets of a frame that goes on
	for len(b) > 0 {
		if c.skip > 0 {
			n := min(c.skip, len(b))
			c.skip -= n
			b = b[n:]
			wait = false
			continue
		}
		if b[0] != '$' || len(b) < 4 {
			wait = false
			break // an RTSP message, written whole
		}
		end := 4 + int(binary.BigEndian.Uint16(b[2:4]))
		if end > len(b) {
			c.skip = end - len(b)
			wait = false
			break
		}
		if b[1]%2 == 0 {
			c.r.rtp(b[4:end])
			if end < 6 || b[5]&0x80 != 0 {
				wait = false // the frame's last packet
			}
		} else {
			c.r.rtcp(b[4:end])
			wait = false
		}
		b = b[end:]
	}
	if wait && len(c.buf) < coalesceMax {
		if !c.armed {
			if c.timer == nil {
				c.timer = time.AfterFunc(coalesceFor, c.timedFlush)
			} else {
				c.timer.Reset(coalesceFor)
			}
			c.armed = true
		}
		return len(p), nil
	}
	if err := c.flush(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// flush writes what waits; mu is held.
func (c *wireConn) flush() error {
	if c.armed {
		c.timer.Stop()
		c.armed = false
	}
	if len(c.buf) == 0 {
		return nil
	}
	var n int
	var err error
	if c.raw != nil {
		n, err = rawio.Write(c.raw, c.buf)
	} else {
		n, err = c.Conn.Write(c.buf)
	}
	c.written.Add(uint64(n))
	c.buf = c.buf[:0]
	if err != nil {
		c.err = err
	}
	return err
}

// timedFlush writes a frame whose last packet has not come in time.
func (c *wireConn) timedFlush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.armed && c.err == nil {
		c.flush() //nolint:errcheck // kept for the next Write
	}
}

// Close stops the timer and closes the connection; what still waits is not written.
func (c *wireConn) Close() error {
	c.mu.Lock()
	if c.timer != nil {
		c.timer.Stop()
		c.armed = false
	}
	c.mu.Unlock()
	return c.Conn.Close()
}

// sent returns the bytes put on the socket so far.
func (c *wireConn) sent() uint64 { return c.written.Load() }

// countingConn counts the bytes written to a connection that wireConn does not wrap (rtsps,
// whose packets are inside TLS records), for the session's stall watch.
type countingConn struct {
	net.Conn
	written atomic.Uint64
}

func (c *countingConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.written.Add(uint64(n))
	return n, err
}

// sent returns the bytes put on the socket so far.
func (c *countingConn) sent() uint64 { return c.written.Load() }
