// Package rawio reads and writes the non-blocking descriptors of the hot path (an ffmpeg child's
// pipe, a destination's TCP connection) with raw system calls, through the runtime's poller as
// os.File and net.Conn do, but without telling the runtime that a system call is under way.
//
// Why: a goroutine that enters a system call while every P is idle wakes the runtime's sysmon
// thread, which then polls every 20 µs until the process is idle again. liveinject's process is
// idle between frames and wakes for each one, so every frame cost sysmon a few context switches:
// 22–27 % of the Go process's CPU pushing one 1080p30 channel (BENCHMARKS.md, "Fast path").
// read(2) and write(2) on a non-blocking descriptor never block, which is what the runtime's
// bookkeeping is for; waiting for readiness still goes through the poller, with its deadlines.
package rawio

import (
	"io"
	"syscall"
	"unsafe"
)

// Read reads into b from the non-blocking descriptor behind rc, waiting in the poller until
// something is there. It returns io.EOF at the end of the stream, and the poller's error (closed,
// deadline) as rc.Read gives it.
func Read(rc syscall.RawConn, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	var n int
	var errno syscall.Errno
	err := rc.Read(func(fd uintptr) bool {
		for {
			r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
			switch e {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false // wait until readable
			}
			n, errno = int(r), e
			return true
		}
	})
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, errno
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// Write writes all of b to the non-blocking descriptor behind rc, waiting in the poller while
// its buffer is full. It returns the bytes written and, when it stopped short, why: the poller's
// error (closed, deadline) as rc.Write gives it, or the system call's.
func Write(rc syscall.RawConn, b []byte) (int, error) {
	var n int
	var errno syscall.Errno
	err := rc.Write(func(fd uintptr) bool {
		for n < len(b) {
			p := b[n:]
			r, _, e := syscall.RawSyscall(syscall.SYS_WRITE, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
			switch e {
			case 0:
				n += int(r)
			case syscall.EINTR:
			case syscall.EAGAIN:
				return false // wait until writable
			default:
				errno = e
				return true
			}
		}
		return true
	})
	if err == nil && errno != 0 {
		err = errno
	}
	return n, err
}

// Conn returns the raw connection of c (an *os.File of a pipe, a *net.TCPConn) when its
// descriptor is non-blocking, as the runtime makes those it polls; ok is false otherwise, and
// then c must be read and written as usual: a raw read(2) of a blocking descriptor would hold
// its thread and its P.
func Conn(c any) (rc syscall.RawConn, ok bool) {
	sc, isConn := c.(syscall.Conn)
	if !isConn || !enabled {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	var flags uintptr
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		flags, _, errno = syscall.RawSyscall(syscall.SYS_FCNTL, fd, syscall.F_GETFL, 0)
	}); err != nil || errno != 0 || flags&syscall.O_NONBLOCK == 0 {
		return nil, false
	}
	return rc, true
}

// Reader reads r with Read when it is a non-blocking descriptor, with its own Read otherwise.
type Reader struct {
	r  io.Reader
	rc syscall.RawConn // nil: r.Read
}

// NewReader returns a Reader of r, usually an *os.File of a pipe.
func NewReader(r io.Reader) *Reader {
	rc, _ := Conn(r)
	return &Reader{r: r, rc: rc}
}

func (r *Reader) Read(b []byte) (int, error) {
	if r.rc == nil {
		return r.r.Read(b)
	}
	n, err := Read(r.rc, b)
	if _, isErrno := err.(syscall.Errno); err != nil && err != io.EOF && !isErrno {
		// The poller's: closed, or past a deadline. The descriptor's own Read returns at once
		// too, and says it as it would have (os.ErrClosed, os.ErrDeadlineExceeded, in an
		// *os.PathError naming the file).
		return r.r.Read(b)
	}
	return n, err
}
