package inject

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/child"
	"github.com/liveinject/liveinject/internal/tsmux"
)

// An init rather than an entry in pushers' literal: RTMP adds its own there.
// SRT goes out through ffmpeg's libsrt: there is no SRT library for Go. Each session starts an
// ffmpeg that reads the channel's MPEG-TS on its stdin and sends it, copied, to the listener in
// caller mode.
const (
	// srtConnectTimeout is libsrt's wait for the listener's answer to the handshake (its
	// default for a caller, given so that the causes can say it).
	srtConnectTimeout = 3 * time.Second
	// srtStartLimit bounds the time from ffmpeg's start to its output being open: probing its
	// input, which the session writes at once, and the handshake.
	srtStartLimit = srtConnectTimeout + 5*time.Second
	// srtStallEnd is how long an ffmpeg that takes nothing from its stdin is waited for, shown
	// stalled after stallAfter, before its session ends: SRT itself gives up on a silent listener
	// after 5 s, so an ffmpeg that reads nothing for longer is hung.
	srtStallEnd = 10 * time.Second
	// srtStopGrace is what an ffmpeg whose stdin is closed gets to send what it has and exit
	// before its process group is killed.
	srtStopGrace = 2 * time.Second
	// srtStderrLines are the last lines of ffmpeg's stderr that are kept to explain its exit.
	srtStderrLines = 20
)

// srtPusher sends one SRT destination (see pusher).
type srtPusher struct {
	// host is the listener's host:port, as the causes name it.
	host     string
	latency  time.Duration
	streamID string
	passcode string // the passphrase
	redacted string
}

// newSRTPusher takes srt://host:port. Its options come from the Target alone: a query in the
// URL would be a second place for them, and would carry a passphrase into logs.
func newSRTPusher(_ string, t Target, u *url.URL) (pusher, string, error) {
	redacted := "srt://" + u.Host
	switch {
	case u.User != nil:
		return nil, "", fmt.Errorf("destination %s: SRT takes no user or password in the URL: set passphrase_file or passphrase_env", redacted)
	case u.RawQuery != "" || u.ForceQuery:
		// not quoted: it may hold a passphrase
		return nil, "", fmt.Errorf("destination %s: options in the URL's query are not taken: set latency, "+
			"passphrase_file (or passphrase_env) and streamid", redacted)
	case u.Fragment != "" || (u.Path != "" && u.Path != "/"):
		return nil, "", fmt.Errorf("destination %s: an SRT URL has no path: srt://host:port (a stream name goes "+
			"in streamid)", redacted)
	case u.Port() == "":
		return nil, "", fmt.Errorf("destination %s: no port: srt://host:port", redacted)
	}
	if port, err := strconv.Atoi(u.Port()); err != nil || port < 1 || port > 65535 {
		return nil, "", fmt.Errorf("destination %s: invalid port", redacted)
	}
	if n := len([]rune(t.SRTPassphrase)); t.SRTPassphrase != "" && (n < 10 || n > 79) {
		return nil, "", fmt.Errorf("destination %s: the SRT passphrase has %d characters: libsrt takes 10 to 79", redacted, n)
	}
	if strings.ContainsFunc(t.SRTPassphrase, unicode.IsControl) {
		return nil, "", fmt.Errorf("destination %s: the SRT passphrase holds a control character", redacted)
	}
	if strings.ContainsFunc(t.SRTStreamID, unicode.IsControl) || len(t.SRTStreamID) > 512 {
		return nil, "", fmt.Errorf("destination %s: the SRT stream ID must be at most 512 bytes without control "+
			"characters", redacted)
	}
	if t.SRTLatency < 0 {
		return nil, "", fmt.Errorf("destination %s: negative SRT latency", redacted)
	}
	return &srtPusher{host: u.Host, latency: t.SRTLatency, streamID: t.SRTStreamID, passcode: t.SRTPassphrase,
		redacted: redacted}, redacted, nil
}

// args is ffmpeg's command line. The passphrase and the stream ID are not on it, nor in the
// URL, which ffmpeg's log lines repeat: they come in a preset file (-fpre) read from descriptor
// 3, a pipe, and only ffmpeg's debug level prints a preset's lines.
func (p *srtPusher) args() []string {
	args := []string{"-hide_banner", "-nostdin", "-nostats", "-loglevel", "info",
		// ffmpeg probes an MPEG-TS input for analyzeduration of its stream, whatever it has
		// found, and 5 s by default: 200 ms here, which the session's start (its keyframe and
		// what was queued after it) often holds at once; the first AAC frame comes within it.
		// Probing fewer bytes (probesize 32) can end before that frame, and the muxer then
		// refuses the audio ("sample rate not set"); -fflags nobuffer threw the probed frames
		// away. A copy needs no frame rate (fpsprobesize).
		"-probesize", "10000000", "-analyzeduration", "200000", "-fpsprobesize", "0", "-f", "mpegts", "-i", "pipe:0",
		"-map", "0", "-c", "copy", "-f", "mpegts", "-flush_packets", "1",
		// A track that pauses (a hold without silence) must not keep the other waiting long.
		"-max_interleave_delta", "500000",
		"-connect_timeout", strconv.FormatInt(srtConnectTimeout.Milliseconds(), 10),
		// libsrt drops what it has not sent when it closes: a session that ends (new codec
		// parameters, a stop) lost its last 0.2 s without this.
		"-linger", "1",
	}
	if p.latency > 0 {
		args = append(args, "-latency", strconv.FormatInt(p.latency.Microseconds(), 10))
	}
	if p.preset() != "" {
		args = append(args, "-fpre", "/dev/fd/3")
	}
	return append(args, "srt://"+p.host)
}

// preset is the preset file's text: the options kept off the command line.
func (p *srtPusher) preset() string {
	var b strings.Builder
	if p.passcode != "" {
		b.WriteString("passphrase=" + p.passcode + "\n")
	}
	if p.streamID != "" {
		b.WriteString("streamid=" + p.streamID + "\n")
	}
	return b.String()
}

// redact hides the passphrase in a line of ffmpeg's, should one ever hold it.
func (p *srtPusher) redact(line string) string {
	if p.passcode == "" {
		return line
	}
	return strings.ReplaceAll(line, p.passcode, "xxxxx")
}

// srtSession is one session's ffmpeg and the pipe to it; used by the destination's goroutine,
// but for the child's own goroutine (see srtChild).
type srtSession struct {
	ctx   context.Context
	d     *destination
	p     *srtPusher
	child *srtChild
	// began is when ffmpeg started; connected when its output opened, zero before.
	began, connected time.Time
	// blockedSince is when a write began to wait for ffmpeg to read; zero while it reads.
	blockedSince time.Time
	// frames and bytes are what went into the pipe before the output opened: counted as sent
	// once it has, else as dropped with held, the units they were.
	frames, bytes uint64
	held          []*unit
}

func (p *srtPusher) session(ctx context.Context, d *destination, start []*unit) (next []*unit, err error) {
	pending := start
	s := &srtSession{ctx: ctx, d: d, p: p, began: time.Now()}
	defer func() {
		if next == nil {
			d.drop(pending...) // never sent
		}
	}()
	d.setState(StateConnecting, nil)
	params := start[0].params
	tw, err := tsmux.New(s, params.SPS != nil, params.Audio)
	if err != nil {
		return start, err
	}
	if s.child, err = startSRTChild(d.cfg.ffmpeg, p, d.log); err != nil {
		return start, err
	}
	defer s.child.stop()
	defer func() {
		if !s.connected.IsZero() {
			return
		}
		// What went into the pipe was never sent. The run loop gets start back to try again
		// with, unless the parameters changed: then what carries the new ones.
		if errors.Is(err, errParamsChanged) {
			d.drop(s.held...)
			return
		}
		d.drop(s.held[min(len(start), len(s.held)):]...)
		next, err = start, s.failure(err)
	}()

	stallTicker := time.NewTicker(stallCheck)
	defer stallTicker.Stop()
	for {
		var u *unit
		if len(pending) > 0 {
			u, pending = pending[0], pending[1:]
		} else {
			var opened <-chan struct{} // closed for good once it is
			if s.connected.IsZero() {
				opened = s.child.opened
			}
			select {
			case <-ctx.Done():
				return nil, nil
			case <-s.child.Done():
				return nil, s.failure(nil)
			case <-opened:
				s.opened()
				continue
			case now := <-stallTicker.C:
				if !s.connected.IsZero() {
					d.showStall(s.child.waiting(), time.Time{}, now)
				}
				continue
			case u = <-d.queue:
			}
		}
		if !u.params.Equal(params) {
			return append([]*unit{u}, pending...), errParamsChanged
		}
		if u.frame == nil {
			d.drop(u)
			continue
		}
		s.checkOpened()
		switch u.kind {
		case demux.Video:
			err = tw.WriteH264(u.frame.pts, u.frame.dts, nil, nil, u.frame.data)
		case demux.Audio:
			err = tw.WriteAAC(u.frame.pts, u.frame.data)
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil
			}
			d.drop(u) // lost with the session
			return nil, err
		}
		if s.connected.IsZero() {
			s.frames += d.weight(u)
			s.held = append(s.held, u)
		} else {
			d.ownSent.Add(d.weight(u))
		}
	}
}

// checkOpened takes the news that ffmpeg's output opened, if it came.
func (s *srtSession) checkOpened() {
	if !s.connected.IsZero() {
		return
	}
	select {
	case <-s.child.opened:
		s.opened()
	default:
	}
}

// opened shows the session recording: ffmpeg has opened its output, after the SRT handshake.
// What went into the pipe before counts as sent from now on.
func (s *srtSession) opened() {
	if !s.connected.IsZero() {
		return
	}
	s.connected = time.Now()
	s.blockedSince = time.Time{} // a wait for the handshake is no stall
	s.d.ownSent.Add(s.frames)
	s.d.ownBytes.Add(s.bytes)
	s.frames, s.bytes, s.held = 0, 0, nil
	s.d.recording(nil, "srt")
	s.d.log.Info("recording", "transport", "srt", "after", s.connected.Sub(s.began).Round(time.Millisecond))
}

// Write hands ffmpeg the TS the session's tsmux.Writer makes, without ever waiting long: a
// write that ffmpeg does not take shows the session stalled after stallAfter and ends it after
// srtStallEnd, or before its output opened, srtStartLimit after its start.
func (s *srtSession) Write(b []byte) (int, error) {
	written := 0
	for written < len(b) {
		s.child.stdin.SetWriteDeadline(time.Now().Add(stallCheck)) //nolint:errcheck // a pipe takes one
		n, err := s.child.stdin.Write(b[written:])
		written += n
		if s.connected.IsZero() {
			s.bytes += uint64(n)
		} else {
			s.d.ownBytes.Add(uint64(n))
		}
		if n > 0 && !s.blockedSince.IsZero() {
			s.blockedSince = time.Time{}
			if !s.connected.IsZero() {
				s.d.showStall(s.child.waiting(), time.Time{}, time.Now())
			}
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			// EPIPE: ffmpeg is going, and its exit says why
			t := time.NewTimer(srtStopGrace)
			defer t.Stop()
			select {
			case <-s.child.Done():
				return written, s.failure(nil)
			case <-t.C:
				return written, fmt.Errorf("ffmpeg stopped reading its input: %w", err)
			}
		}
		if err := s.blocked(); err != nil {
			return written, err
		}
	}
	return written, nil
}

// blocked tells whether a write that ffmpeg has not taken may wait on.
func (s *srtSession) blocked() error {
	now := time.Now()
	if s.blockedSince.IsZero() {
		s.blockedSince = now
	}
	select {
	case <-s.ctx.Done():
		return s.ctx.Err()
	case <-s.child.Done():
		return s.failure(nil)
	default:
	}
	s.checkOpened()
	if s.connected.IsZero() {
		// ffmpeg reads its input's start, then makes the handshake, then reads on
		if now.Sub(s.began) > srtStartLimit {
			return fmt.Errorf("ffmpeg neither opened its SRT output to %s nor failed within %v", s.p.host,
				srtStartLimit)
		}
		return nil
	}
	s.d.showStall(s.child.waiting(), s.blockedSince, now)
	if now.Sub(s.blockedSince) >= srtStallEnd {
		return fmt.Errorf("ffmpeg has taken nothing from liveinject for %v: it is hung, or SRT cannot send to %s",
			srtStallEnd, s.p.host)
	}
	return nil
}

// failure returns why the session ended: from ffmpeg's exit, if it has exited, else err.
func (s *srtSession) failure(err error) error {
	select {
	case <-s.child.Done():
	default:
		return err
	}
	return srtCause(s.p.host, !s.connected.IsZero(), s.child.Err(), s.child.Lines())
}

// srtCause explains how the ffmpeg of a session to the listener at host ended, after its
// output had opened or before (connected), from its exit status and its last stderr lines,
// oldest first. The lines are those of ffmpeg 5.1 with libsrt 1.5.
func srtCause(host string, connected bool, exit error, lines []string) error {
	// the last line that says something: ffmpeg ends a failure with "Conversion failed!"
	last := ""
	for i := len(lines) - 1; i >= 0 && last == ""; i-- {
		if lines[i] != "Conversion failed!" {
			last = lines[i]
		}
	}
	for _, l := range lines {
		// libsrt: "processAsyncConnectRequest: REJECT reported from HS processing: Incorrect
		// passphrase - not processing further"
		_, reason, ok := strings.Cut(l, "REJECT reported from HS processing: ")
		if !ok {
			continue
		}
		reason, _, _ = strings.Cut(reason, " - not processing further")
		switch reason {
		case "Incorrect passphrase":
			return fmt.Errorf("the SRT listener at %s refused the connection (%s): the passphrase (passphrase_file, passphrase_env) differs from "+
				"the listener's", host, reason)
		case "Password required or unexpected":
			return fmt.Errorf("the SRT listener at %s refused the connection (%s): one of the two has a "+
				"passphrase and the other none; set the listener's passphrase, or remove it", host, reason)
		}
		return fmt.Errorf("the SRT listener at %s refused the connection (%s): a passphrase that differs from "+
			"the listener's, or a stream ID (streamid) it does not accept", host, reason)
	}
	if !connected {
		for _, l := range lines {
			// "[srt @ 0x…] Connection to srt://host:port failed: Input/output error"
			if strings.Contains(l, "Connection to srt://") && strings.Contains(l, " failed") {
				return fmt.Errorf("no SRT listener answered at %s within %v: it is not running or not listening "+
					"on that port, or a firewall drops the UDP between them", host, srtConnectTimeout)
			}
		}
		if last != "" {
			return fmt.Errorf("ffmpeg could not open its SRT output to %s: %s", host, last)
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "av_interleaved_write_frame(): ") || strings.HasPrefix(l, "Error writing trailer") {
			return fmt.Errorf("the SRT connection to %s was lost: the listener closed it, or stopped answering "+
				"for 5 s (gone, or the network between them)", host)
		}
	}
	msg := "ffmpeg exited"
	var ee *exec.ExitError
	switch {
	case exit == nil:
		msg += " with status 0"
	case errors.As(exit, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			msg = "ffmpeg killed by " + ws.Signal().String()
		} else {
			msg = fmt.Sprintf("ffmpeg exited with status %d", ee.ExitCode())
		}
	default:
		msg += ": " + exit.Error()
	}
	if last != "" {
		msg += ": " + last
	}
	return fmt.Errorf("sending SRT to %s: %s", host, msg)
}

// srtChild is a session's ffmpeg, in a process group of its own (see child).
type srtChild struct {
	*child.Process
	stdin *os.File
	// opened is closed when ffmpeg has opened its output: the listener took the connection.
	opened chan struct{}
}

// startSRTChild starts a session's ffmpeg, its stdin a pipe that the session writes. Its
// stderr's lines, passphrase hidden, are kept, and tell when its output opened: ffmpeg 5.1
// prints "Output #0, mpegts, to 'srt://…'" after it wrote the header, which is after libsrt's
// handshake with the listener.
func startSRTChild(ffmpeg string, p *srtPusher, log *slog.Logger) (*srtChild, error) {
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	defer inR.Close() // the child's once it has started
	cmd := exec.Command(ffmpeg, p.args()...)
	cmd.Stdin, cmd.Stderr = inR, errW
	if preset := p.preset(); preset != "" {
		pr, pw, err := os.Pipe()
		if err != nil {
			inW.Close()
			errR.Close()
			errW.Close()
			return nil, err
		}
		defer pr.Close()
		// a few hundred bytes: the pipe takes them before anyone reads
		_, err = io.WriteString(pw, preset)
		pw.Close()
		if err != nil {
			inW.Close()
			errR.Close()
			errW.Close()
			return nil, err
		}
		cmd.ExtraFiles = []*os.File{pr} // descriptor 3
	}
	c := &srtChild{stdin: inW, opened: make(chan struct{})}
	c.Process, err = child.Start(cmd, errR, srtStderrLines, log, func(line string) (string, bool) {
		line = p.redact(line)
		if strings.HasPrefix(line, "Output #0, ") && !isClosed(c.opened) {
			close(c.opened)
		}
		return line, true
	})
	if err != nil {
		inW.Close()
		return nil, fmt.Errorf("starting ffmpeg for SRT: %w", err)
	}
	return c, nil
}

// isClosed tells whether ch is closed.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// waiting returns the bytes in the pipe that ffmpeg has not read, where the system tells.
func (c *srtChild) waiting() int {
	n, _ := pipeQueued(c.stdin)
	return n
}

// stop closes ffmpeg's stdin, so that it sends what it has and exits; after srtStopGrace it
// kills its process group. It always waits for ffmpeg to be reaped.
func (c *srtChild) stop() {
	c.stdin.Close()
	t := time.NewTimer(srtStopGrace)
	defer t.Stop()
	select {
	case <-c.Done():
	case <-t.C:
		c.Signal(syscall.SIGKILL)
		<-c.Done()
	}
}
