package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

func (m *Main) version() int {
	version, commit := "(devel)", ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				commit = " commit " + s.Value
			}
		}
	}
	fmt.Fprintf(m.Stdout, "liveinject %s%s %s\n", version, commit, runtime.Version())
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-version").Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		fmt.Fprintln(m.Stdout, first)
	} else {
		fmt.Fprintln(m.Stdout, "ffmpeg: not found in PATH")
	}
	return exitOK
}
