package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/liveinject/liveinject/internal/benchrig"
)

// cpuTimes returns the machine's busy and total CPU time so far, in clock ticks (/proc/stat).
func cpuTimes() (busy, total uint64) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	for i, v := range f[1:] {
		n, _ := strconv.ParseUint(v, 10, 64)
		if i == 7 || i == 8 { // guest and guest_nice are in user and nice already
			continue
		}
		total += n
		if i != 3 && i != 4 { // idle, iowait
			busy += n
		}
	}
	return busy, total
}

// runWait returns how long the threads of a running process, and of its children and theirs,
// have waited for a CPU while runnable so far (/proc/PID/task/*/schedstat).
func runWait(pid int) time.Duration {
	var d time.Duration
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		if f := strings.Fields(string(b)); len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			d += time.Duration(n)
		}
	}
	for _, c := range benchrig.Children(pid) {
		d += runWait(c)
	}
	return d
}
