package child

import (
	"syscall"
	"unsafe"
)

func procAttr() *syscall.SysProcAttr {
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
