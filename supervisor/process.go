package supervisor

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/liveinject/liveinject/internal/child"
	"github.com/liveinject/liveinject/internal/rawio"
)

// stderrLines is how many of ffmpeg's last stderr lines are kept to explain an exit.
const stderrLines = 20

// process is one ffmpeg child in its own process group.
type process struct {
	*child.Process
	stdout   *os.File
	stopOnce sync.Once
}

// startProcess starts bin with args. Its stdout is returned as a pipe the caller reads; stderr
// lines, once redact has hidden the passwords they may repeat, are logged at debug level and
// the last ones kept. The child gets its own process group, so that a signal reaches anything
// it spawned, and on Linux a SIGKILL (Pdeathsig) when liveinject dies without stopping it.
//
// Lines of ffmpeg's -progress output (key=value) are not kept: they are gathered into a Progress
// given to onProgress at the end of each block. Nor are the alarm filters' lines: they go to
// detect, if not nil.
func startProcess(bin string, args []string, redact func(string) string, log *slog.Logger, onProgress func(Progress), detect *detector) (*process, error) {
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = outW
	cmd.Stderr = errW
	var pr Progress
	// ffmpeg writes its stats line twice a second: read without waking sysmon (rawio)
	stderr := struct {
		io.Reader
		io.Closer
	}{rawio.NewReader(errR), errR}
	c, err := child.Start(cmd, stderr, stderrLines, log, func(line string) (string, bool) {
		line = redact(line)
		if pr.parse(line) {
			if strings.HasPrefix(line, "progress=") && onProgress != nil {
				onProgress(pr)
			}
			return line, false
		}
		if detect != nil && detect.line(line, time.Now()) {
			return line, false
		}
		return line, true
	})
	// The child has its own copy now; ours must go so that EOF comes when the child exits.
	outW.Close()
	if err != nil {
		outR.Close()
		return nil, err
	}
	return &process{Process: c, stdout: outR}, nil
}

// stop asks ffmpeg to finish with SIGINT, kills the whole group after grace, and always waits
// for the child to be reaped. Safe to call more than once and from several goroutines.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		select {
		case <-p.Done():
			return
		default:
		}
		p.Signal(syscall.SIGINT)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.Done():
		case <-t.C:
			p.Signal(syscall.SIGKILL)
		}
	})
	<-p.Done()
	p.stdout.Close()
}

// kill ends the group at once, for a child that is stalled.
func (p *process) kill() {
	p.Signal(syscall.SIGKILL)
}

// exitError explains how the child ended, with its last stderr line when it failed.
func (p *process) exitError() error {
	werr := p.Err()
	if werr == nil {
		return errors.New("ffmpeg exited with status 0")
	}
	msg := werr.Error()
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			msg = "ffmpeg killed by " + signalText(ws.Signal(), ws.CoreDump())
		} else {
			msg = fmt.Sprintf("ffmpeg exited with status %d", ee.ExitCode())
		}
	}
	if lines := p.Lines(); len(lines) > 0 {
		msg += ": " + lines[len(lines)-1]
	}
	return errors.New(msg)
}

// signals are the names operators know signals by, from kill -l and the man pages; Go's own
// strings are descriptions ("killed", "terminated"), which read badly after "killed by". note
// says, for the signals a crash sends, what happened.
var signals = map[syscall.Signal]struct{ name, note string }{
	syscall.SIGHUP:  {"SIGHUP", ""},
	syscall.SIGINT:  {"SIGINT", ""},
	syscall.SIGQUIT: {"SIGQUIT", ""},
	syscall.SIGILL:  {"SIGILL", "illegal instruction: a build for another CPU?"},
	syscall.SIGTRAP: {"SIGTRAP", ""},
	syscall.SIGABRT: {"SIGABRT", "it aborted"},
	syscall.SIGBUS:  {"SIGBUS", "bus error: it crashed"},
	syscall.SIGFPE:  {"SIGFPE", "arithmetic error: it crashed"},
	syscall.SIGKILL: {"SIGKILL", ""},
	syscall.SIGUSR1: {"SIGUSR1", ""},
	syscall.SIGSEGV: {"SIGSEGV", "segmentation fault: it crashed"},
	syscall.SIGUSR2: {"SIGUSR2", ""},
	syscall.SIGPIPE: {"SIGPIPE", ""},
	syscall.SIGALRM: {"SIGALRM", ""},
	syscall.SIGTERM: {"SIGTERM", ""},
	syscall.SIGXCPU: {"SIGXCPU", "CPU time limit exceeded"},
	syscall.SIGXFSZ: {"SIGXFSZ", "file size limit exceeded"},
	syscall.SIGSYS:  {"SIGSYS", "bad system call"},
}

// signalText names a signal that ended a process, as in "killed by SIGKILL" or "killed by
// SIGSEGV (segmentation fault: it crashed, core dumped)".
func signalText(sig syscall.Signal, core bool) string {
	s, ok := signals[sig]
	if !ok {
		s.name = fmt.Sprintf("signal %d", int(sig))
	}
	switch {
	case s.note != "" && core:
		return s.name + " (" + s.note + ", core dumped)"
	case s.note != "":
		return s.name + " (" + s.note + ")"
	case core:
		return s.name + " (core dumped)"
	}
	return s.name
}
