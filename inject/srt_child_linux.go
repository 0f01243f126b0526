package inject

import (
	"os"
	"syscall"
	"unsafe"
)

// childProcAttr puts an SRT session's ffmpeg in a process group of its own, which a stop kills
// whole, and kills it when liveinject dies without stopping it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

// waitExited blocks until the child pid has exited, and leaves it to be reaped: until then its
// pid, which is its process group's id, cannot be given to another process.
func waitExited(pid int) {
	const pPID = 1     // waitid's P_PID
	var info [128]byte // a siginfo_t, not read
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid), uintptr(unsafe.Pointer(&info)),
			syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		if errno != syscall.EINTR {
			return
		}
	}
}

// pipeQueued returns the bytes in the pipe of f that its reader has not read (FIONREAD, which
// Linux answers on either end of a pipe).
func pipeQueued(f *os.File) (int, bool) {
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, false
	}
	var n int32
	var errno syscall.Errno
	if err := rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n)))
	}); err != nil || errno != 0 {
		return 0, false
	}
	return int(n), true
}
