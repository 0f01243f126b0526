package inject

import (
	"net"
	"os"
	"syscall"
	"unsafe"
)

// unsent returns how many of the bytes written to a TCP connection the kernel still holds: not
// sent yet, or sent and not acknowledged by the peer (SIOCOUTQ, which is TIOCOUTQ). ok is false
// when it cannot tell.
func unsent(nc net.Conn) (n int, ok bool) {
	sc, isConn := nc.(syscall.Conn)
	if !isConn {
		return 0, false
	}
	return ioctlCount(sc, syscall.TIOCOUTQ)
}

// pipeQueued returns the bytes in the pipe of f that its reader has not read (FIONREAD, which
// is TIOCINQ, and which Linux answers on either end of a pipe).
func pipeQueued(f *os.File) (int, bool) {
	return ioctlCount(f, syscall.TIOCINQ)
}

// ioctlCount asks the kernel a count of the bytes in the queue of a socket or pipe that req
// names; ok is false when it does not tell.
func ioctlCount(sc syscall.Conn, req uintptr) (n int, ok bool) {
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var v int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		// never blocks: raw, as rawio's calls are, to wake no sysmon
		_, _, errno = syscall.RawSyscall(syscall.SYS_IOCTL, fd, req, uintptr(unsafe.Pointer(&v)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(v), true
}
