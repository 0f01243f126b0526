package inject

import (
	"net"
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
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0, false
	}
	var v int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		// never blocks: raw, as rawio's calls are, to wake no sysmon
		_, _, errno = syscall.RawSyscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(v), true
}
