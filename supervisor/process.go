package supervisor

import (
	"bufio"
	"bytes"
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

	"github.com/liveinject/liveinject/internal/rawio"
)

// stderrLines is how many of ffmpeg's last stderr lines are kept to explain an exit.
const stderrLines = 20

// process is one ffmpeg child in its own process group.
type process struct {
	cmd    *exec.Cmd
	stdout *os.File
	done   chan struct{} // closed once the child is reaped and its stderr read to the end
	err    error         // Wait's result, valid after done

	mu   sync.Mutex
	tail []string

	// signalMu makes signals and the reaping one at a time: the group gets a signal only while
	// its leader, ffmpeg, is not reaped, so that its id cannot be another process's by then.
	signalMu sync.Mutex
	reaped   bool

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
	cmd.SysProcAttr = sysProcAttr()
	err = cmd.Start()
	// The child has its own copies now; ours must go so that EOF comes when the child exits.
	outW.Close()
	errW.Close()
	if err != nil {
		outR.Close()
		errR.Close()
		return nil, err
	}

	p := &process{cmd: cmd, stdout: outR, done: make(chan struct{})}
	go func() {
		// ffmpeg writes its stats line twice a second: read without waking sysmon (rawio)
		p.readStderr(rawio.NewReader(errR), redact, log, onProgress, detect)
		errR.Close()
		waitExited(cmd.Process.Pid)
		p.signalMu.Lock()
		p.err = cmd.Wait()
		p.reaped = true
		p.signalMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// readStderr splits on \r as well as \n: ffmpeg rewrites its status line with \r.
func (p *process) readStderr(r io.Reader, redact func(string) string, log *slog.Logger, onProgress func(Progress), detect *detector) {
	var pr Progress
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		line := redact(strings.TrimSpace(sc.Text()))
		if line == "" {
			continue
		}
		if pr.parse(line) {
			if strings.HasPrefix(line, "progress=") && onProgress != nil {
				onProgress(pr)
			}
			continue
		}
		if detect != nil && detect.line(line, time.Now()) {
			continue
		}
		log.Debug("ffmpeg", "line", line)
		p.mu.Lock()
		if len(p.tail) == stderrLines {
			p.tail = append(p.tail[:0], p.tail[1:]...)
		}
		p.tail = append(p.tail, line)
		p.mu.Unlock()
	}
	// A line longer than the buffer ends the scan: drain so that ffmpeg never blocks on stderr.
	io.Copy(io.Discard, r) //nolint:errcheck
}

// lastLines returns the last stderr lines, oldest first.
func (p *process) lastLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// stop asks ffmpeg to finish with SIGINT, kills the whole group after grace, and always waits
// for the child to be reaped. Safe to call more than once and from several goroutines.
func (p *process) stop(grace time.Duration) {
	p.stopOnce.Do(func() {
		select {
		case <-p.done:
			return
		default:
		}
		p.signal(syscall.SIGINT)
		t := time.NewTimer(grace)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			p.signal(syscall.SIGKILL)
		}
	})
	<-p.done
	p.stdout.Close()
}

// kill ends the group at once, for a child that is stalled.
func (p *process) kill() {
	p.signal(syscall.SIGKILL)
}

// signal sends sig to ffmpeg's process group, unless ffmpeg has been reaped.
func (p *process) signal(sig syscall.Signal) {
	p.signalMu.Lock()
	defer p.signalMu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.pid(), sig) //nolint:errcheck
	}
}

// exitError explains how the child ended, with its last stderr line when it failed.
func (p *process) exitError() error {
	<-p.done
	if p.err == nil {
		return errors.New("ffmpeg exited with status 0")
	}
	msg := p.err.Error()
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			msg = "ffmpeg killed by " + signalText(ws.Signal(), ws.CoreDump())
		} else {
			msg = fmt.Sprintf("ffmpeg exited with status %d", ee.ExitCode())
		}
	}
	if lines := p.lastLines(); len(lines) > 0 {
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
