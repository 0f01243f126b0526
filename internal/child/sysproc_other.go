//go:build !linux

package child

import "syscall"

func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}

// waitExited returns at once: Wait reaps the child as soon as it exits, and a signal that comes
// between that and Process.reaped being set may reach a process that took its group's id.
func waitExited(int) {}
