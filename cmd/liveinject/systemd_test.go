package main

import (
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestSystemdNotify runs with NOTIFY_SOCKET and WATCHDOG_USEC set, as systemd starts a unit of
// Type=notify with WatchdogSec, and reads what run tells it on that socket: READY once it
// serves, WATCHDOG pings at half the interval, STOPPING when it stops.
func TestSystemdNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")

	var told fftest.Buffer // what systemd was told, one state per line
	received := make(chan struct{})
	go func() {
		defer close(received)
		buf := make([]byte, 1024)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			told.Write(append(buf[:n:n], '\n')) //nolint:errcheck
		}
	}()

	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp")
	r := startRun(t, config)
	told.WaitFor(t, "READY=1")
	fftest.WaitFor(t, 5*time.Second, "three watchdog pings", func() bool {
		return strings.Count(told.String(), "WATCHDOG=1") >= 3
	})
	r.stop(t)
	told.WaitFor(t, "STOPPING=1")
	conn.Close()
	<-received

	lines := strings.Split(strings.TrimSpace(told.String()), "\n")
	if lines[0] != "READY=1" || lines[len(lines)-1] != "STOPPING=1" || slices.Index(lines, "STOPPING=1") != len(lines)-1 {
		t.Errorf("systemd was told %q: want READY=1 first, STOPPING=1 last", lines)
	}
}
