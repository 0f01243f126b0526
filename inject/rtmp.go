package inject

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"
	"unicode"

	"github.com/bluenviron/gortmplib"
	"github.com/bluenviron/gortmplib/pkg/amf0"
	"github.com/bluenviron/gortmplib/pkg/bytecounter"
	"github.com/bluenviron/gortmplib/pkg/codecs"
	"github.com/bluenviron/gortmplib/pkg/message"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/ratelog"
	"github.com/liveinject/liveinject/internal/ticks"
)

// rtmpHandshakeSize is what a server sends in the RTMP handshake (S0, S1 and S2), before its
// first message.
const rtmpHandshakeSize = 1 + 1536 + 1536

// rtmpWriteQueue is how many units a session's writer may have to write: about 3 s of 25 fps
// video with its audio, as writeQueueSize is for RTSP. Beyond it the server does not keep up,
// and the session resumes at the next IDR.
const rtmpWriteQueue = 256

// defaultRTMPTimeout bounds a session's wait for each answer of the server while it sets up, and
// for each write (the Fanout's readTimeout replaces it).
const defaultRTMPTimeout = 10 * time.Second

// secretMark is what a URL shows in place of a secret (a stream key, a query's token): xxxxx and
// 4 hex digits of its SHA-256, which tell two destinations of one channel apart that share an
// ingest URL with keys of their own (as metrics' labels and /status must), and give nothing of
// the key away.
func secretMark(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return fmt.Sprintf("xxxxx-%x", sum[:2])
}

// rtmpPusher publishes a channel to an RTMP or RTMPS server as FLV: H.264 and AAC, as they came.
type rtmpPusher struct {
	scheme string
	// url is what the client connects to, in gortmplib's form: the application in the path,
	// the stream name in the fragment.
	url *url.URL
	// address is the server's host:port; app the application the stream is published in.
	address, app string
	// secrets are the stream key and the URL's query, which every error and log line shows
	// as xxxxx.
	secrets []string
	tls     *tls.Config // rtmps; the server name is filled in at each connection
	// decodeErrors rate-limits the lines about messages of the server that cannot be decoded.
	decodeErrors ratelog.Limiter
}

// newRTMPPusher takes rtmp://host[:port]/app[/stream] (or rtmps): the application
// is the path's first element and the stream name the rest, then the stream key when one is
// given, then the URL's query, as ffmpeg and OBS split it and as nginx, YouTube, Twitch and
// Facebook want it.
func newRTMPPusher(_ string, t Target, u *url.URL) (pusher, string, error) {
	scheme := strings.ToLower(u.Scheme)
	path := strings.Trim(u.Path, "/")
	app, stream, _ := strings.Cut(path, "/")
	shown := &url.URL{Scheme: scheme, Host: u.Host, User: u.User, Path: "/" + path}
	if t.User != "" {
		shown.User = url.UserPassword(t.User, t.Password)
	}
	if t.StreamKey != "" {
		stream = strings.TrimPrefix(stream+"/"+t.StreamKey, "/")
		shown.Path += "/" + secretMark(t.StreamKey)
	}
	if u.RawQuery != "" {
		stream += "?" + u.RawQuery // tokens, as on_publish checks of nginx take them
		shown.RawQuery = secretMark(u.RawQuery)
	}
	redacted := shown.Redacted()
	fail := func(format string, a ...any) (pusher, string, error) {
		return nil, "", fmt.Errorf("destination %s: "+format, append([]any{redacted}, a...)...)
	}
	switch {
	case u.Fragment != "":
		return fail("a # in the URL: give the stream key in its own setting")
	case app == "":
		return fail("no application in the URL's path: rtmp://host/app/stream (on nginx, the name of " +
			"an application block)")
	case stream == "":
		return fail("no stream name: end the URL's path with it (rtmp://host/app/name), or give the stream key")
	case t.Transport != "" && t.Transport != "tcp":
		return fail("transport %q does not apply to %s, which runs over TCP", t.Transport, scheme)
	case (t.TLSCA != "" || t.TLSInsecure) && scheme != "rtmps":
		return fail("TLS settings need an rtmps:// URL")
	}
	if shown.User != nil {
		// gortmplib v1.0.1 answers Adobe's challenge as the user "myuser", whoever the user is
		return fail("user and password do not apply to %s: give the credentials as the server takes them, "+
			"in the stream key or the URL's query (nginx's on_publish gets ?user=...&pass=...)", scheme)
	}
	if strings.ContainsFunc(t.StreamKey, unicode.IsControl) {
		return fail("the stream key holds a control character")
	}
	p := &rtmpPusher{
		scheme:       scheme,
		url:          &url.URL{Scheme: scheme, Host: u.Host, Path: "/" + app, Fragment: stream},
		address:      u.Host,
		app:          app,
		decodeErrors: ratelog.Limiter{Every: libraryLogEvery},
	}
	for _, secret := range []string{t.StreamKey, u.RawQuery} {
		if secret != "" {
			p.secrets = append(p.secrets, secret)
		}
	}
	if u.Port() == "" {
		port := "1935"
		if scheme == "rtmps" {
			port = "443"
		}
		p.address = net.JoinHostPort(u.Hostname(), port)
	}
	if scheme == "rtmps" {
		roots, err := parseCA(t.TLSCA)
		if err != nil {
			return fail("%v", err)
		}
		p.tls = clientTLS(roots, t.TLSInsecure)
	}
	return p, redacted, nil
}

// session publishes start and what the queue brings next, until the server fails, ctx ends or
// the parameters change; see pusher.
//
// The client's connection is read by a goroutine of the session's (see read) and written by
// another (see write), which the session's own feeds through a queue: a server that stops
// reading blocks neither the queue nor the stall watch, and a write that the server does not
// take within the timeout ends the session.
func (p *rtmpPusher) session(ctx context.Context, d *destination, start []*unit) (next []*unit, err error) {
	defer func() {
		if err != nil && p.secrets != nil {
			err = redactedError{err: err, p: p}
		}
	}()
	d.setState(StateConnecting, nil)
	s := &rtmpSession{p: p, d: d, params: start[0].params, timeout: cmp.Or(d.cfg.readTimeout, defaultRTMPTimeout)}
	if err := s.connect(ctx); err != nil {
		return start, err
	}
	if err := s.startWriter(); err != nil {
		s.cut()
		return start, fmt.Errorf("connection lost: %w", err)
	}
	d.recording(nil, p.scheme)
	d.log.Info("recording", "transport", p.scheme)

	pending := start
	defer func() {
		if next == nil {
			d.drop(pending...)
		}
	}()
	s.base = start[0].frame.dts
	jobs := make(chan rtmpJob, rtmpWriteQueue)
	control := make(chan message.Message, 8)
	readDone, writeDone := make(chan error, 1), make(chan error, 1)
	quit, read, written := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		defer close(read)
		readDone <- s.read(control, quit)
	}()
	go func() {
		defer close(written)
		s.write(jobs, writeDone)
	}()
	defer func() {
		// what is queued goes out first, for at most teardownGrace
		close(jobs)
		close(quit)
		drained := time.NewTimer(teardownGrace)
		defer drained.Stop()
		select {
		case <-drained.C:
		case <-written:
		}
		s.cut()
		<-written
		<-read
	}()

	var stall stallWatch
	stallTicker := time.NewTicker(stallCheck)
	defer stallTicker.Stop()
	skip := false
	for {
		var u *unit
		if len(pending) > 0 {
			u, pending = pending[0], pending[1:]
		} else {
			select {
			case <-ctx.Done():
				return nil, nil
			case err := <-readDone:
				return nil, fmt.Errorf("connection lost: %w", err)
			case err := <-writeDone:
				return nil, fmt.Errorf("connection lost: %w", err)
			case m := <-control:
				select {
				case jobs <- rtmpJob{msg: m}:
				default: // the server reads nothing, its ping included
				}
				continue
			case u = <-d.queue:
			case now := <-stallTicker.C:
				waiting, left := stall.check(s.wired, now)
				d.showStall(waiting, left, now)
				continue
			}
		}
		if !u.params.Equal(s.params) {
			return append([]*unit{u}, pending...), errParamsChanged
		}
		if skip && u.key {
			skip = false
		}
		if skip || u.frame == nil {
			d.drop(u)
			continue
		}
		select {
		case jobs <- rtmpJob{u: u}:
		default:
			// The server does not keep up: resume at the next IDR.
			skip = true
			d.drop(u)
		}
	}
}

// rtmpSession is one connection of an RTMP destination.
type rtmpSession struct {
	p       *rtmpPusher
	d       *destination
	params  *demux.Params
	timeout time.Duration

	// raw is the TCP connection, wired it as the stall watch sees it; rec is what the client
	// reads and writes (TLS inside raw, for rtmps).
	raw   net.Conn
	wired *wire
	rec   *setupConn
	c     *gortmplib.Client
	w     *gortmplib.Writer
	video *gortmplib.Track
	audio *gortmplib.Track
	// base is the channel time of the session's first unit's dts, which FLV time counts from:
	// its 32-bit milliseconds would not hold channel time, which counts from 1970.
	base int64
	// counted is the client's BytesSent already added to the destination's ownBytes; owned by
	// the writer.
	counted uint64
}

// rtmpJob is what a session's writer writes: a unit, or a message of its own (the answer to a
// ping of the server, an acknowledgement).
type rtmpJob struct {
	u   *unit
	msg message.Message
}

// connect connects, and publishes once the server has taken the connection to the application.
func (s *rtmpSession) connect(ctx context.Context) error {
	setup, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	s.c = &gortmplib.Client{URL: s.p.url, Publish: true}
	if s.p.tls != nil {
		s.c.DialTLSContext = s.dialTLS
	} else {
		s.c.DialContext = s.dial
	}
	err := s.c.Initialize(setup)
	if err == nil {
		return nil
	}
	if s.raw != nil {
		s.raw.Close() // the client leaves it open when an answer is refused
	}
	if ctx.Err() != nil {
		return err
	}
	return s.setupCause(err, errors.Is(setup.Err(), context.DeadlineExceeded))
}

// dial connects over TCP, for rtmp.
func (s *rtmpSession) dial(ctx context.Context, network, address string) (net.Conn, error) {
	s.raw, s.rec = nil, nil
	nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: nc}
	s.raw, s.wired, s.rec = nc, &wire{conn: nc, out: cc}, &setupConn{Conn: cc}
	return s.rec, nil
}

// dialTLS connects over TCP and TLS, for rtmps, checking the server's certificate (unless told
// not to) for the host name of the URL.
func (s *rtmpSession) dialTLS(ctx context.Context, network, address string) (net.Conn, error) {
	s.raw, s.rec = nil, nil
	nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	cc := &countingConn{Conn: nc}
	s.raw, s.wired = nc, &wire{conn: nc, out: cc}
	cfg := s.p.tls.Clone()
	cfg.ServerName, _, _ = net.SplitHostPort(address)
	tc := tls.Client(cc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	s.rec = &setupConn{Conn: tc}
	return s.rec, nil
}

// setupCause says why the connection or the publish failed, from what the server answered.
// timedOut is set when the server took too long to.
func (s *rtmpSession) setupCause(err error, timedOut bool) error {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		// ECONNREFUSED says "connection refused", and has the destination try again soon
		return fmt.Errorf("%w: nothing listens at %s (the server is down, or listens on "+
			"another port: rtmp's default is 1935, rtmps' 443)", syscall.ECONNREFUSED, s.p.address)
	case tlsCause("TLS", err) != nil:
		return tlsCause("TLS", err)
	case s.rec == nil && s.raw != nil:
		// connected, and the TLS handshake failed
		if timedOut {
			err = fmt.Errorf("no answer within %v", s.timeout)
		}
		return fmt.Errorf("TLS: the server does not answer in TLS: is this an rtmps port? (rtmp:// for a "+
			"server without TLS): %w", err)
	case s.rec == nil && timedOut:
		return fmt.Errorf("no answer from %s within %v", s.p.address, s.timeout)
	case s.rec == nil:
		return fmt.Errorf("connect: %w", err)
	}
	a := readAnswers(s.rec.recorded())
	step := "publish"
	switch {
	case !a.handshake:
		step = "handshake"
	case !a.connected:
		step = "connect"
	}
	switch {
	case a.code == "NetStream.Publish.BadName":
		// The run loop retries soon, for a while: the publisher the server has may be an
		// earlier session of this destination that the server has not seen end yet.
		return fmt.Errorf("publish: %w (%s: %s): the server has a publisher on it already: another "+
			"encoder, or an earlier session of this one that the server has not seen end yet",
			errHeld, a.code, a.description)
	case strings.Contains(a.description, "authmod=adobe"):
		return fmt.Errorf("connect: %w: the server wants a user and password (Adobe's authentication), "+
			"which liveinject does not send: let it take the stream without them (a stream key, a token "+
			"in the URL's query)", errAuth)
	case strings.Contains(a.code, "Unauthorized") || strings.Contains(a.code, "BadAuth"):
		return fmt.Errorf("%s: %w: the server refused the stream key or the credentials (%s: %s)",
			step, errAuth, a.code, a.description)
	case a.code != "":
		return fmt.Errorf("%s: the server refused it (%s: %s)", step, a.code, a.description)
	case timedOut:
		return fmt.Errorf("%s: no answer from the server within %v", step, s.timeout)
	case step == "handshake":
		return fmt.Errorf("handshake: the server does not answer as an RTMP server does: is it one? "+
			"(rtmps:// for an RTMPS port): %w", err)
	case step == "connect":
		// nginx closes the connection without a word when it has no application of that name.
		return fmt.Errorf("connect: the server has no application %q: it closed the connection when asked for "+
			"it (on nginx, an application %s { live on; } block in its rtmp server): %w", s.p.app, s.p.app, err)
	}
	// nginx closes the connection without a word when its on_publish check refuses the stream,
	// and so do platforms that do not know the stream key.
	return fmt.Errorf("publish: %w: the server closed the connection when asked to publish: it refused the "+
		"stream, for a wrong or expired stream key, or (nginx) its on_publish check: %w", errAuth, err)
}

// rtmpAnswers is what a server answered while a session set up.
type rtmpAnswers struct {
	handshake bool // its whole handshake came
	connected bool // it took the connection to the application
	// code and description are those of its last refusal (an _error answer, or an onStatus at
	// level error), if any.
	code, description string
}

// readAnswers reads what a server sent while a session set up, from its bytes: the client
// reports its answers as text, and not a closed connection's step.
func readAnswers(b []byte) rtmpAnswers {
	var a rtmpAnswers
	if len(b) < rtmpHandshakeSize {
		return a
	}
	a.handshake = true
	bc := bytecounter.NewReader(bytes.NewReader(b[rtmpHandshakeSize:]))
	r := message.NewReader(bc, bc, func(uint32) error { return nil })
	for {
		msg, err := r.Read()
		if err != nil {
			return a
		}
		cmd, ok := msg.(*message.CommandAMF0)
		if !ok {
			continue
		}
		info := commandInfo(cmd)
		switch {
		case cmd.Name == "_result" && cmd.CommandID == 1:
			a.connected = true
		case cmd.Name == "_error" || (cmd.Name == "onStatus" && info["level"] == "error"):
			a.code, a.description = info["code"], info["description"]
		}
	}
}

// commandInfo returns the string fields of a command's information object (level, code,
// description).
func commandInfo(cmd *message.CommandAMF0) map[string]string {
	out := map[string]string{}
	if len(cmd.Arguments) < 2 {
		return out
	}
	var obj amf0.Object
	switch o := cmd.Arguments[1].(type) {
	case amf0.Object:
		obj = o
	case amf0.ECMAArray:
		obj = amf0.Object(o)
	}
	for _, e := range obj {
		if v, ok := e.Value.(string); ok {
			out[e.Key] = v
		}
	}
	return out
}

// startWriter writes the stream's metadata and the tracks' configurations.
func (s *rtmpSession) startWriter() error {
	var tracks []*gortmplib.Track
	if s.params.SPS != nil {
		s.video = &gortmplib.Track{Codec: &codecs.H264{SPS: s.params.SPS, PPS: s.params.PPS}}
		tracks = append(tracks, s.video)
	}
	if s.params.Audio != nil {
		s.audio = &gortmplib.Track{Codec: &codecs.MPEG4Audio{Config: s.params.Audio}}
		tracks = append(tracks, s.audio)
	}
	s.w = &gortmplib.Writer{Conn: s.c, Tracks: tracks}
	s.raw.SetWriteDeadline(time.Now().Add(s.timeout)) //nolint:errcheck // the write reports it
	if err := s.w.Initialize(); err != nil {
		return err
	}
	s.countBytes()
	return nil
}

// cut closes the connection at once: a close of its TLS would wait for the server to read.
func (s *rtmpSession) cut() {
	s.raw.Close()
	s.c.Close()
}

// write writes the jobs until they are closed; the first error goes to done, and the jobs after
// it are dropped.
func (s *rtmpSession) write(jobs <-chan rtmpJob, done chan<- error) {
	var failed bool
	for j := range jobs {
		if failed {
			if j.u != nil {
				s.d.drop(j.u)
			}
			continue
		}
		s.raw.SetWriteDeadline(time.Now().Add(s.timeout)) //nolint:errcheck // the write reports it
		var err error
		if j.msg != nil {
			err = s.c.Write(j.msg)
		} else {
			err = s.writeUnit(j.u)
		}
		s.countBytes()
		if err != nil {
			failed = true
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("the server took nothing for %v: it stopped reading: %w", s.timeout, err)
			}
			done <- err
		}
	}
}

// writeUnit writes a unit's frame at its time since the session's first unit's.
func (s *rtmpSession) writeUnit(u *unit) error {
	f := u.frame
	if u.kind == demux.Video {
		dts := f.dts - s.base
		if dts < 0 {
			s.d.drop(u)
			return nil
		}
		if err := s.w.WriteH264(s.video, ticks.Duration(f.pts-s.base), ticks.Duration(dts), f.data); err != nil {
			s.d.dropped.Add(1)
			return err
		}
		s.d.ownSent.Add(1)
		return nil
	}
	rate := int64(s.params.Audio.SampleRate)
	start := ticks.Scale(f.pts-s.base, rate, ticks.Rate) // in samples
	for i, au := range f.data {
		at := start + int64(i)*1024
		if at < 0 {
			// audio from before the IDR the session starts at: nothing to play it with
			s.d.dropped.Add(1)
			continue
		}
		pts := time.Duration(ticks.Scale(at, int64(time.Second), rate))
		if err := s.w.WriteMPEG4Audio(s.audio, pts, au); err != nil {
			s.d.dropped.Add(uint64(len(f.data) - i))
			return err
		}
		s.d.ownSent.Add(1)
	}
	return nil
}

// countBytes adds what the client wrote since the last count to the destination's bytes.
func (s *rtmpSession) countBytes() {
	n := s.c.BytesSent()
	s.d.ownBytes.Add(n - s.counted)
	s.counted = n
}

// read reads what the server sends while the session publishes, until the connection ends,
// and returns why it did. Pings and the acknowledgements due go to control, for the writer.
//
// The client's own Read would answer them itself, from this goroutine, while the writer writes:
// its message writer is not safe for that. So what the server sent while the session set up is
// read again, from its bytes, by a reader of the session's own that then goes on with the
// connection, and that knows the chunk size and the window the server set.
func (s *rtmpSession) read(control chan<- message.Message, quit <-chan struct{}) error {
	tell := func(m message.Message) {
		select {
		case control <- m:
		case <-quit:
		}
	}
	replay := s.rec.recorded()
	bc := bytecounter.NewReader(io.MultiReader(bytes.NewReader(replay[rtmpHandshakeSize:]), s.rec))
	bc.SetCount(rtmpHandshakeSize)
	r := message.NewReader(bc, bc, func(count uint32) error {
		tell(&message.Acknowledge{Value: count})
		return nil
	})
	var said string // the server's last status, for when it closes the connection
	for {
		msg, err := r.Read()
		if err != nil {
			if !connectionError(err) {
				s.d.warnLimited(&s.p.decodeErrors, "the server sent data the client cannot decode",
					"error", s.p.scrub(err.Error()))
				continue
			}
			switch {
			case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
				err = errors.New("the server closed the connection")
			case errors.Is(err, syscall.ECONNRESET):
				// nginx's fast shutdown resets the connections it still has data of
				err = errors.New("the server closed the connection (reset)")
			}
			if said != "" {
				err = fmt.Errorf("%w (it said %s)", err, said)
			}
			return err
		}
		switch m := msg.(type) {
		case *message.UserControlPingRequest:
			tell(&message.UserControlPingResponse{ServerTime: m.ServerTime})
		case *message.CommandAMF0:
			if info := commandInfo(m); info["level"] == "error" || m.Name == "_error" {
				said = s.p.scrub(info["code"] + ": " + info["description"])
				s.d.log.Warn("the server reports an error", "said", said)
			}
		}
	}
}

// connectionError tells an error of the connection (closed, reset, timed out) from one of
// what came over it.
func connectionError(err error) bool {
	var ne net.Error
	var errno syscall.Errno
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne) || errors.As(err, &errno)
}

// setupConn is a session's connection as the client has it; it keeps what is read from it until
// recorded is called: what the server sent while the session set up.
type setupConn struct {
	net.Conn
	mu   sync.Mutex
	log  []byte
	done bool
}

func (c *setupConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if !c.done {
		c.log = append(c.log, p[:n]...)
	}
	c.mu.Unlock()
	return n, err
}

// recorded returns what was read so far, and stops keeping what is read.
func (c *setupConn) recorded() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = true
	return c.log
}

// scrub replaces the secrets in what a server said.
func (p *rtmpPusher) scrub(said string) string {
	for _, secret := range p.secrets {
		said = strings.ReplaceAll(said, secret, "xxxxx")
	}
	return said
}

// redactedError shows an error with the secrets of a pusher (the stream key, the URL's query)
// replaced by xxxxx; errors.Is and errors.As see the error it wraps.
type redactedError struct {
	err error
	p   *rtmpPusher
}

func (e redactedError) Error() string { return e.p.scrub(e.err.Error()) }

func (e redactedError) Unwrap() error { return e.err }
