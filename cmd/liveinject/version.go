package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

func (m *Main) version() int {
	version, revision := buildVersion()
	if revision != "" {
		version += " commit " + revision
	}
	fmt.Fprintf(m.Stdout, "liveinject %s %s\n", version, runtime.Version())
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-version").Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		fmt.Fprintln(m.Stdout, first)
	} else {
		fmt.Fprintln(m.Stdout, "ffmpeg: not found in PATH")
	}
	return exitOK
}

// buildVersion returns the module version the binary was built as ("(devel)" for a build from a
// work tree) and the VCS revision it was built from ("" when the build did not record it).
func buildVersion() (version, revision string) {
	version = "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return version, ""
	}
	if bi.Main.Version != "" {
		version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return version, revision
}
