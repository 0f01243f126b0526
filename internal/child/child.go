// Package child runs liveinject's children (the ffmpeg of a channel's input, the ffmpeg that
// sends an SRT destination) the one way: in a process group of their own, which a signal
// reaches whole; killed when liveinject dies without stopping them (Linux); their last stderr
// lines kept to explain an exit; always reaped, and never signalled once reaped.
package child

import (
	"bufio"
	"bytes"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
)

// Process is a started child.
type Process struct {
	cmd *exec.Cmd
	// done is closed once the child is reaped and its stderr read to the end; err is then
	// Wait's result.
	done chan struct{}
	err  error

	mu   sync.Mutex
	keep int
	tail []string

	// signalMu makes signals and the reaping one at a time: the group gets a signal only while
	// its leader is not reaped, so that its id cannot be another process's by then.
	signalMu sync.Mutex
	reaped   bool
}

// Start starts cmd, whose stderr is the write end of a pipe whose read end stderr reads: Start
// closes the write end once the child has it, and reads and closes the other when the child
// is done.
// Each line, trimmed, goes through line, which returns it as it may be logged and kept (a
// password hidden), and whether to keep it; kept lines are logged at debug level, and the last
// keep of them are Lines'. Empty lines are left out. cmd's SysProcAttr is set here.
func Start(cmd *exec.Cmd, stderr io.ReadCloser, keep int, log *slog.Logger, line func(string) (string, bool)) (*Process, error) {
	cmd.SysProcAttr = procAttr()
	err := cmd.Start()
	if w, ok := cmd.Stderr.(*os.File); ok {
		w.Close() // the child's, or nobody's
	}
	if err != nil {
		stderr.Close()
		return nil, err
	}
	p := &Process{cmd: cmd, done: make(chan struct{}), keep: keep}
	go func() {
		p.readStderr(stderr, log, line)
		stderr.Close()
		waitExited(cmd.Process.Pid)
		p.signalMu.Lock()
		p.err = cmd.Wait()
		p.reaped = true
		p.signalMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *Process) readStderr(r io.Reader, log *slog.Logger, filter func(string) (string, bool)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), 64*1024)
	// ffmpeg rewrites its status line with \r: a line ends at either.
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
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		line, keep := filter(line)
		if !keep {
			continue
		}
		log.Debug("ffmpeg", "line", line)
		p.mu.Lock()
		if len(p.tail) == p.keep {
			p.tail = append(p.tail[:0], p.tail[1:]...)
		}
		p.tail = append(p.tail, line)
		p.mu.Unlock()
	}
	// A line longer than the buffer ends the scan: drain so that the child never blocks on
	// stderr.
	io.Copy(io.Discard, r) //nolint:errcheck // to the end, whatever it is
}

// Pid returns the child's process id, which is its group's.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child is reaped and its stderr read to the end.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err returns Wait's result, once Done is closed.
func (p *Process) Err() error {
	<-p.done
	return p.err
}

// State returns the ended child's state, once Done is closed.
func (p *Process) State() *os.ProcessState {
	<-p.done
	return p.cmd.ProcessState
}

// Lines returns the last stderr lines kept, oldest first.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.tail...)
}

// Signal sends sig to the child's process group, unless the child has been reaped.
func (p *Process) Signal(sig syscall.Signal) {
	p.signalMu.Lock()
	defer p.signalMu.Unlock()
	if !p.reaped {
		syscall.Kill(-p.cmd.Process.Pid, sig) //nolint:errcheck // it may be gone
	}
}
