package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"syscall"
	"time"
)

// What makes this program the pass-through that liveinject runs as its ffmpeg: the real ffmpeg,
// and the file where the video PES it writes are logged.
const (
	envFFmpeg = "LIVEINJECT_LATENCY_FFMPEG"
	envLog    = "LIVEINJECT_LATENCY_LOG"
)

// passthrough runs ffmpeg with args, as liveinject asked its ffmpeg, and copies ffmpeg's
// standard output to its own one read at a time, as it comes: no buffering of its own that
// would change when liveinject gets the bytes. When the output is MPEG-TS, each video PES is
// logged (appended to logPath, one pesEnd a line) once the write of its last TS packet has
// returned. Stdin and stderr are ffmpeg's own; SIGINT and SIGTERM are passed on. It returns
// ffmpeg's exit status.
func passthrough(ffmpeg, logPath string, args []string) int {
	cmd := exec.Command(ffmpeg, args...)
	cmd.Stdin, cmd.Stderr = os.Stdin, os.Stderr
	// ffmpeg goes when this process does, as liveinject's own child would
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "latency pass-through:", err)
		return 1
	}
	// liveinject signals the process group, which ffmpeg is in too; a signal to this process
	// alone reaches ffmpeg through here
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "latency pass-through:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			cmd.Process.Signal(s) //nolint:errcheck // it may have ended
		}
	}()

	written := func([]byte, time.Time, time.Time) {}
	if isMPEGTS(args) && logPath != "" {
		log, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			fmt.Fprintln(os.Stderr, "latency pass-through:", err)
			cmd.Process.Kill() //nolint:errcheck
			cmd.Wait()         //nolint:errcheck
			return 1
		}
		defer log.Close()
		// one write(2) a line, between ffmpeg's writes: a line survives a SIGKILL
		t := newPESTracker(func(p pesEnd) { fmt.Fprintln(log, p) })
		written = t.written
	}
	if err := copyWrites(os.Stdout, out, written); err != nil {
		fmt.Fprintln(os.Stderr, "latency pass-through:", err)
	}
	// on a failed write what ffmpeg still writes has nowhere to go: it gets EPIPE, as it
	// would writing to liveinject itself
	out.Close()
	err = cmd.Wait()
	signal.Stop(sigs)
	close(sigs)
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	if err != nil {
		return 1
	}
	return 0
}

// copyWrites copies r to w one read at a time, and hands every write that returned, with the
// times it was called and returned, to written. It ends at r's end, quietly, or at a failed
// write.
func copyWrites(w io.Writer, r io.Reader, written func(b []byte, begun, returned time.Time)) error {
	// more than a pipe holds: a read takes whatever ffmpeg wrote since the last one
	buf := make([]byte, 1<<20)
	for {
		n, err := r.Read(buf)
		if n > 0 {
			begun := time.Now()
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			written(buf[:n], begun, time.Now())
		}
		if err != nil {
			if err == io.EOF || errors.Is(err, os.ErrClosed) {
				return nil
			}
			return err
		}
	}
}

// isMPEGTS tells whether ffmpeg's arguments have it write MPEG-TS, as a channel's ffmpeg does
// (and its encoder list or version do not).
func isMPEGTS(args []string) bool {
	i := slices.Index(args, "mpegts")
	return i > 0 && args[i-1] == "-f"
}
