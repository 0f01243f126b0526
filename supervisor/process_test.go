package supervisor

import (
	"log/slog"
	"os"
	"syscall"
	"testing"
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
		p, err := startProcess(os.Args[0], nil, func(s string) string { return s }, slog.New(slog.DiscardHandler), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := syscall.Kill(p.pid(), tc.sig); err != nil {
			t.Fatal(err)
		}
		<-p.done
		p.stdout.Close()
		if got := p.exitError().Error(); got != tc.want {
			t.Errorf("killed by %s: %q, want %q", tc.sig, got, tc.want)
		}
	}
}
