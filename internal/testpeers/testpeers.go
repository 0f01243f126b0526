// Package testpeers starts real servers from Debian packages for tests, on loopback ports: nginx
// with its RTMP module (nginx.go) and SRT listeners (srt.go). .ci/run installs them; without them
// a test fails under CI and skips, naming the packages, elsewhere.
package testpeers

import (
	"os"
	"os/exec"
	"testing"
)

// Need stops the test unless every program in bins is found: it fails when the CI variable is
// set, where .ci/run has installed them, and skips otherwise, saying what to install.
func Need(t testing.TB, packages string, bins ...string) {
	t.Helper()
	for _, bin := range bins {
		if _, err := exec.LookPath(bin); err == nil {
			continue
		}
		msg := bin + " not found: apt-get install -y " + packages + " (.ci/run installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
}
