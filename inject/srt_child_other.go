//go:build !linux

package inject

import (
	"os"
	"syscall"
)

func childProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

func waitExited(int) {}

func pipeQueued(*os.File) (int, bool) { return 0, false }
