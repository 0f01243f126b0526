package main

import (
	"fmt"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is liveinject's version as make sets it at link time from git describe
// (-ldflags "-X main.version=..."): the version of the Debian package too. Empty in a plain go
// build.
var version string

func (m *Main) version(args []string) int {
	if code, ok := m.parse(m.newFlagSet(versionCommand), versionCommand, args, false); !ok {
		return code
	}
	v, revision := buildVersion()
	if revision != "" {
		v += " commit " + revision
	}
	fmt.Fprintf(m.Stdout, "liveinject %s %s\n", v, runtime.Version())
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-version").Output(); err == nil {
		first, _, _ := strings.Cut(string(out), "\n")
		fmt.Fprintln(m.Stdout, first)
	} else {
		fmt.Fprintln(m.Stdout, "ffmpeg: not found in PATH")
	}
	return exitOK
}

// buildVersion returns the version make stamped, else the module version the binary was built as
// ("(devel)" for a build from a work tree), and the VCS revision it was built from ("" when the
// build did not record it).
func buildVersion() (v, revision string) {
	v = "(devel)"
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		bi = &debug.BuildInfo{}
	}
	if bi.Main.Version != "" {
		v = bi.Main.Version
	}
	if version != "" {
		v = version
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			revision = s.Value
		}
	}
	return v, revision
}
