package testpeers

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/benchrig"
	"github.com/liveinject/liveinject/internal/fftest"
)

// SRTListener is an SRT listener in caller-facing listener mode on 127.0.0.1, writing the
// MPEG-TS it receives to a file.
type SRTListener struct {
	Port int
	// Out is the file the received stream goes to.
	Out    string
	cmd    *exec.Cmd
	stderr *fftest.Buffer
	done   chan struct{}
	err    error
}

// FreeUDPPort returns a UDP port on 127.0.0.1 that was free a moment ago, for an SRT listener,
// which cannot be told to listen on port 0 and report it.
func FreeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

// FFmpegSRTListener starts ffmpeg as an SRT listener on port (FreeUDPPort) that takes one caller
// and copies what it sends to a file; passphrase "" for none. It waits 20 s for the caller and
// exits when the caller has gone.
func FFmpegSRTListener(t testing.TB, port int, passphrase string) *SRTListener {
	t.Helper()
	fftest.Require(t)
	q := "mode=listener&timeout=20000000&listen_timeout=20000000"
	if passphrase != "" {
		q += "&passphrase=" + passphrase
	}
	out := filepath.Join(t.TempDir(), fmt.Sprintf("srt-rx-%d.ts", port))
	return startSRTListener(t, port, out, nil, "ffmpeg", "-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
		"-i", fmt.Sprintf("srt://127.0.0.1:%d?%s", port, q), "-c", "copy", "-f", "mpegts", "-flush_packets", "1", out)
}

// SRTLiveTransmit starts srt-live-transmit (srt-tools) as an SRT listener on port that writes
// what callers send to a file, as it comes; passphrase "" for none. It goes on listening after
// a caller has gone. Call Need(t, "srt-tools", "srt-live-transmit") first.
func SRTLiveTransmit(t testing.TB, port int, passphrase string) *SRTListener {
	t.Helper()
	u := fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port)
	if passphrase != "" {
		u += "&passphrase=" + passphrase
	}
	out := filepath.Join(t.TempDir(), fmt.Sprintf("slt-rx-%d.ts", port))
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return startSRTListener(t, port, out, f, "srt-live-transmit", "-a:yes", u, "file://con")
}

func startSRTListener(t testing.TB, port int, out string, stdout *os.File, bin string, args ...string) *SRTListener {
	t.Helper()
	l := &SRTListener{Port: port, Out: out, stderr: &fftest.Buffer{}, done: make(chan struct{})}
	l.cmd = exec.Command(bin, args...)
	if stdout != nil {
		l.cmd.Stdout = stdout
	}
	l.cmd.Stderr = l.stderr
	if err := l.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		l.err = l.cmd.Wait()
		close(l.done)
	}()
	t.Cleanup(l.Kill)
	// A probe packet would start a handshake: the kernel's socket table is asked instead.
	fftest.WaitFor(t, 10*time.Second, bin+" listening on UDP port "+fmt.Sprint(port), func() bool {
		select {
		case <-l.done:
			t.Fatalf("%s exited: %v\n%s", bin, l.err, l.stderr)
		default:
		}
		return benchrig.Bound("udp", port)
	})
	return l
}

// Stop ends the listener as an operator would (SIGTERM: SRT tells the caller it closes) and
// waits for it.
func (l *SRTListener) Stop() {
	l.cmd.Process.Signal(syscall.SIGTERM) //nolint:errcheck // it may have gone
	select {
	case <-l.done:
	case <-time.After(5 * time.Second):
		l.Kill()
	}
}

// Kill ends the listener at once, as a crash does: the caller hears nothing, and waits out
// SRT's peer idle timeout.
func (l *SRTListener) Kill() {
	l.cmd.Process.Kill() //nolint:errcheck // it may have gone
	<-l.done
}

// Wait waits up to timeout for the listener to exit by itself (ffmpeg's, once its caller left).
func (l *SRTListener) Wait(t testing.TB, timeout time.Duration) {
	t.Helper()
	select {
	case <-l.done:
	case <-time.After(timeout):
		t.Fatalf("the SRT listener did not exit within %v\n%s", timeout, l.stderr)
	}
}

// Received returns the size of what the listener has written.
func (l *SRTListener) Received() int64 {
	fi, err := os.Stat(l.Out)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// Stderr returns what the listener printed.
func (l *SRTListener) Stderr() string { return l.stderr.String() }
