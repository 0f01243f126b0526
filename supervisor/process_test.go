package supervisor

import (
	"bufio"
	"fmt"
	"log/slog"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// TestSignalText names the signals that end ffmpeg as operators know them.
func TestSignalText(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		core bool
		want string
	}{
		{syscall.SIGKILL, false, "SIGKILL"},
		{syscall.SIGTERM, false, "SIGTERM"},
		{syscall.SIGINT, false, "SIGINT"},
		{syscall.SIGPIPE, false, "SIGPIPE"},
		{syscall.SIGSEGV, false, "SIGSEGV (segmentation fault: it crashed)"},
		{syscall.SIGSEGV, true, "SIGSEGV (segmentation fault: it crashed, core dumped)"},
		{syscall.SIGABRT, true, "SIGABRT (it aborted, core dumped)"},
		{syscall.SIGQUIT, true, "SIGQUIT (core dumped)"},
		{syscall.Signal(40), false, "signal 40"},
	} {
		if got := signalText(tc.sig, tc.core); got != tc.want {
			t.Errorf("signal %d (core dumped %v): %q, want %q", int(tc.sig), tc.core, got, tc.want)
		}
	}
	for sig, s := range signals {
		if got := signalText(sig, false); got[:3] != "SIG" || got == sig.String() {
			t.Errorf("signal %d (%s): %q, want its SIG name", int(sig), sig, got)
		}
		if s.name != "SIG"+s.name[3:] {
			t.Errorf("signal %d named %q", int(sig), s.name)
		}
	}
}

// TestExitErrorNamesSignal kills a fake ffmpeg with signals and reads how its end is told.
func TestExitErrorNamesSignal(t *testing.T) {
	t.Setenv("FAKE_FFMPEG", "hang")
	for _, tc := range []struct {
		sig  syscall.Signal
		want string
	}{
		{syscall.SIGKILL, "ffmpeg killed by SIGKILL"},
		{syscall.SIGTERM, "ffmpeg killed by SIGTERM"},
	} {
		p, err := startProcess(os.Args[0], nil, func(s string) string { return s }, slog.New(slog.DiscardHandler), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(p.Pid(), tc.sig); err != nil {
			t.Fatal(err)
		}
		<-p.Done()
		p.stdout.Close()
		if got := p.exitError().Error(); got != tc.want {
			t.Errorf("killed by %s: %q, want %q", tc.sig, got, tc.want)
		}
	}
}

// TestNoSignalAfterReap kills an ffmpeg that has been reaped: no signal may go to its process
// group then, whose id may be another process's. A process ffmpeg left in its group stands for
// that other process here: it must live on.
func TestNoSignalAfterReap(t *testing.T) {
	t.Setenv("FAKE_FFMPEG", "orphan")
	p, err := startProcess(os.Args[0], nil, func(s string) string { return s }, slog.New(slog.DiscardHandler), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(p.stdout).ReadString('\n')
	<-p.Done()
	p.stdout.Close()
	var pid int
	var addr string
	if _, err := fmt.Sscan(line, &pid, &addr); err != nil {
		t.Fatalf("%q: %v (%v)", line, err, p.exitError())
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGKILL) }) //nolint:errcheck

	p.kill()
	p.stop(time.Second)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("the process left in the group: %v", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) //nolint:errcheck
	fmt.Fprintln(c, "ping")
	if got, err := bufio.NewReader(c).ReadString('\n'); got != "pong\n" {
		t.Errorf("the process left in ffmpeg's group answers %q (%v): it got the signal meant for ffmpeg", got, err)
	}
}
