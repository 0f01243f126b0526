package inject

import (
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/backoff"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/ratelog"
	"github.com/liveinject/liveinject/internal/sdptext"
)

// Destination states, as shown in Stats.
const (
	StateWaiting    = "waiting"    // for the first IDR of the stream
	StateConnecting = "connecting" // ANNOUNCE, SETUP, RECORD in progress
	StateRecording  = "recording"
	StateBackoff    = "backoff" // failed, retrying later
	// StateStalled: recording, but the server is not reading what is sent: bytes wait in the
	// connection and none has reached the server for stallAfter. Recording again when they move.
	StateStalled = "stalled"
	// StateAuthFailed: the server refused the credentials (401); retrying, slowly.
	StateAuthFailed = "auth_failed"
	StateStopped    = "stopped"
)

// Return check states, as shown in Stats.Verify (see Verify).
const (
	// VerifyOff: the destination is not played back (verify = false).
	VerifyOff = "off"
	// VerifyChecking: a check is under way and has not found the stream yet.
	VerifyChecking = "checking"
	// VerifyVerified: what the server plays back is this channel's stream.
	VerifyVerified = "verified"
	// VerifyUnverified: it is not, or it could not be played back (Cause says why).
	VerifyUnverified = "unverified"
)

// Verify is what the return check of one destination found: the stream played back from the
// server at the URL players use.
type Verify struct {
	State string
	// Cause says why the destination is unverified ("DESCRIBE 404", "no packets for 10 s", "not
	// our stream", "video only", ...); empty otherwise.
	Cause string
	// ServerDelay is, once verified, the time from a packet's send to its return from the
	// server (e.g. Darwin Streaming Server's reflector buffer).
	ServerDelay time.Duration
	// Since is when State began.
	Since time.Time
}

// writeQueueSize is the client's own packet queue: room for the burst a destination sends when it
// starts from a queued IDR, about 3 s of 8 Mbit/s video.
const writeQueueSize = 2048

// A recording session over TCP whose connection holds bytes of which none has reached the server
// for stallAfter is stalled: the server no longer reads (hung, overloaded, a half-dead link).
// Without this it looks healthy for as long as the kernel's buffers and the client's queue take
// what is written, about a minute at 8 Mbit/s, until a write times out. stallCheck is how often
// a session looks.
const (
	stallAfter = 2 * time.Second
	stallCheck = 500 * time.Millisecond
)

// refusedRetry is the longest delay before a destination tries again a server that refused the
// connection (nothing listens at its port), however long that has lasted: the backoff would
// have it wait up to RetryMax (30 s) after the server is back.
const refusedRetry = 2 * time.Second

// teardownGrace is how long the end of a session waits for TEARDOWN (and the packets queued
// before it) to be written before it cuts the connection.
const teardownGrace = 2 * time.Second

// libraryLogEvery is the least time between two log lines of one kind that the client reports
// (what the server sent that it cannot decode, packets lost): a server that sends garbage with
// every packet must not fill the log.
const libraryLogEvery = 10 * time.Second

// errParamsChanged ends a session whose SDP no longer matches the stream.
var errParamsChanged = errors.New("codec parameters changed")

// errAuth is in the error of a session that the server refused for its credentials.
var errAuth = errors.New("authentication failed")

// errHeld is in the error of a session that the server refused with 412 Precondition Failed:
// on Darwin Streaming Server, the name is still held by a broadcast that ended without TEARDOWN.
var errHeld = errors.New("the stream name is still held")

// errNotTaken is in the error of a SETUP that the server answered with 404: it did not take the
// session just announced.
var errNotTaken = errors.New("the announced session was not taken")

// Stats are one destination's figures.
type Stats struct {
	// URL has any password replaced by "xxxxx".
	URL   string
	State string
	// PacketsSent counts the RTP packets written to the server's connection, over all sessions;
	// for RTMP and SRT, the frames (a video frame, an AAC frame).
	PacketsSent uint64
	// PacketsDropped counts the packets (frames) thrown away: queue full, waiting for an IDR,
	// or left in the client's queue when a session ended.
	PacketsDropped uint64
	// BytesSent counts the bytes written to the server, over all sessions: RTP and RTCP; for
	// RTMP, the connection's; for SRT, the MPEG-TS handed to the sending ffmpeg.
	BytesSent uint64
	// Reconnects counts the sessions that recorded after an earlier one had ended (a lost
	// connection, new codec parameters); FailedAttempts the tries that never began to record.
	Reconnects, FailedAttempts uint64
	// LastError is the latest failure, kept after a recovery; LastErrorAt when it came (zero
	// with none), so that an old one is not taken for news.
	LastError   string
	LastErrorAt time.Time
	// Transport is "tcp" or "udp", as the server took it, while recording ("rtmp", "rtmps" or
	// "srt" for those kinds); else "".
	Transport string
	// ConnectedSince is when the recording session began; zero when not recording.
	ConnectedSince time.Time
	// RetryAt is when the next try begins, in StateBackoff and StateAuthFailed; else zero.
	RetryAt time.Time
	// QueueDepth is the number of frames waiting in the destination's queue.
	QueueDepth int
	// BytesWaiting is what the recording session's TCP connection holds of what was written to
	// it, not sent or not acknowledged by the server, as last checked (every stallCheck); 0 when
	// not recording, over UDP where the packets are not in the connection, and where the system
	// does not tell (Linux does). For SRT, what the pipe to the sending ffmpeg holds.
	BytesWaiting int
	// StalledSince is, in StateStalled, when bytes last reached the server; else zero.
	StalledSince time.Time
	// Verify is the return check's finding.
	Verify Verify
}

// destination pushes to one server from its own goroutine, fed through a bounded queue.
type destination struct {
	target   Target
	channel  string
	cfg      settings
	url      string
	redacted string
	// title is the announced session's name.
	title string
	// stream is the URL without credentials, which names the stream for its stable SSRCs.
	stream    string
	transport *gortsplib.Transport
	secure    bool           // rtsps
	roots     *x509.CertPool // nil: the system's
	log       *slog.Logger
	// push sends the destinations of other kinds than RTSP (see pusher); nil for RTSP, which
	// the destination sends itself (session).
	push  pusher
	queue chan *unit
	// pkt is the header copy that the destination's goroutine hands its client, reused: the
	// client marshals a packet before WritePacketRTPWithNTP returns.
	pkt rtp.Packet

	// waitKey is owned by the Fanout's goroutine: set when a frame was dropped, so that the
	// destination resumes at an IDR instead of sending undecodable frames.
	waitKey bool

	// handed counts the packets handed to a session's client; what the client has not put on
	// the wire when its session ends is counted as dropped.
	handed, dropped atomic.Uint64
	// sessions counts the sessions that began to record; failed the tries that did not.
	sessions, failed atomic.Uint64
	// offered counts the packets offered to the queue: once all are sent or dropped it equals
	// PacketsSent + PacketsDropped.
	offered atomic.Uint64
	// ownSent and ownBytes count what the destination writes itself, not through a gortsplib
	// client, over all sessions: RTP packets and bytes over UDP (see udpSession); frames and
	// bytes of an RTMP or SRT destination (see pusher).
	ownSent, ownBytes atomic.Uint64

	// told is the last of event.DestinationRecording and event.DestinationFailed said (see
	// tell); owned by the destination's goroutine.
	told string

	// decodeErrors and lost rate-limit what the clients report, across sessions: a server that
	// reconnects often does not get a line each time.
	decodeErrors, lost ratelog.Limiter

	// ver is the return check, replaced when the target's verify settings change; sentAt the
	// timestamps of the frames sent last, and params the parameters of the latest session
	// that recorded, for it.
	ver    atomic.Pointer[verifier]
	sentAt sentTimes
	params atomic.Pointer[demux.Params]
	// ctx is the destination's, which its return check runs in.
	ctx context.Context

	// stop ends the destination's goroutine, which closes done when it has ended.
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	state     string
	lastErr   string
	lastErrAt time.Time
	since     time.Time // of the recording session
	// recordedAt is when the latest session began to record; kept after it ends.
	recordedAt time.Time
	retryAt    time.Time
	protocol   string // of the recording session
	// waiting and stalledSince are the recording session's BytesWaiting and StalledSince.
	waiting      int
	stalledSince time.Time
	// sent and bytes count what went on the wire in ended sessions; client is the recording one's.
	sent, bytes uint64
	client      *gortsplib.Client
}

// parseRTSPURL parses raw, an rtsp or rtsps URL with a host; its errors begin with what.
func parseRTSPURL(what, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep the password out of it.
		return nil, fmt.Errorf("%s: invalid URL", what)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("%s %s: scheme %q, want rtsp or rtsps", what, u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%s %s: no host", what, u.Redacted())
	}
	return u, nil
}

func newDestination(channel string, t Target, cfg settings, log *slog.Logger) (*destination, error) {
	if !isRTSP(t.URL) {
		return newPushDestination(channel, t, cfg, log)
	}
	u, err := parseRTSPURL("destination", t.URL)
	if err != nil {
		return nil, err
	}
	plain := *u
	plain.User = nil
	if t.User != "" {
		u.User = url.UserPassword(t.User, t.Password)
	}
	if err := checkCredentials(u.User); err != nil {
		return nil, fmt.Errorf("destination %s: %w", u.Redacted(), err)
	}
	d := &destination{
		target:   t,
		channel:  channel,
		cfg:      cfg,
		secure:   u.Scheme == "rtsps",
		url:      u.String(),
		redacted: u.Redacted(),
		title:    cmp.Or(t.SessionName, channel),
		stream:   plain.String(),
		queue:    make(chan *unit, cfg.queueSize),
		state:    StateWaiting,
	}
	d.decodeErrors.Every, d.lost.Every = libraryLogEvery, libraryLogEvery
	for _, f := range []struct{ key, value string }{
		{"session name", d.title}, {"session info", t.Metadata.Info}, {"author", t.Metadata.Author},
		{"copyright", t.Metadata.Copyright}, {"comment", t.Metadata.Comment},
	} {
		if err := sdptext.Check(f.value); err != nil {
			return nil, fmt.Errorf("destination %s: %s: %w", d.redacted, f.key, err)
		}
	}
	switch t.Transport {
	case "", "tcp":
		tr := gortsplib.TransportTCP
		d.transport = &tr
	case "udp":
		if u.Scheme == "rtsps" {
			// gortsplib would need SRTP, which RTSP servers that take pushes do not offer.
			return nil, fmt.Errorf("destination %s: transport udp does not work with rtsps: use tcp", d.redacted)
		}
		tr := gortsplib.TransportUDP
		d.transport = &tr
	case "auto":
		// nil: gortsplib tries UDP, and TCP when the server answers 461 Unsupported Transport
		// (with rtsps it takes TCP at once).
	default:
		return nil, fmt.Errorf("destination %s: unknown transport %q (tcp, udp or auto)", d.redacted, t.Transport)
	}
	if (t.TLSCA != "" || t.TLSInsecure) && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("destination %s: TLS settings need an rtsps:// URL", d.redacted)
	}
	if d.roots, err = parseCA(t.TLSCA); err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.redacted, err)
	}
	d.log = log.With("destination", d.redacted)
	v, err := newVerifier(d, t, cfg.verify)
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", d.redacted, err)
	}
	d.ver.Store(v)
	return d, nil
}

// newPushDestination makes a destination of a kind that a pusher sends (RTMP, SRT).
func newPushDestination(channel string, t Target, cfg settings, log *slog.Logger) (*destination, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep the password and key out of it.
		return nil, fmt.Errorf("destination: invalid URL")
	}
	newPush, ok := pushers[strings.ToLower(u.Scheme)]
	if !ok {
		u.RawQuery = "" // an SRT passphrase may be there
		return nil, fmt.Errorf("destination %s: scheme %q, want rtsp, rtsps, rtmp, rtmps or srt", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		u.RawQuery = ""
		return nil, fmt.Errorf("destination %s: no host", u.Redacted())
	}
	p, redacted, err := newPush(channel, t, u)
	if err != nil {
		return nil, err
	}
	d := &destination{
		target:   t,
		channel:  channel,
		cfg:      cfg,
		push:     p,
		redacted: redacted,
		queue:    make(chan *unit, cfg.queueSize),
		state:    StateWaiting,
		log:      log.With("destination", redacted),
	}
	v, err := newVerifier(d, t, cfg.verify) // off: see verifyConfigOf
	if err != nil {
		return nil, fmt.Errorf("destination %s: %w", redacted, err)
	}
	d.ver.Store(v)
	return d, nil
}

// checkCredentials refuses credentials that would change the requests they go into:
// gortsplib writes the user between the quotes of a Digest header as it is, and a line break in
// either would start a header of its own. The profile refuses them already; this holds for
// every Target.
func checkCredentials(ui *url.Userinfo) error {
	if ui == nil {
		return nil
	}
	pw, _ := ui.Password()
	for what, v := range map[string]string{"user": ui.Username(), "password": pw} {
		for _, r := range v {
			if unicode.IsControl(r) || (what == "user" && (r == '"' || r == '\\' || r == ':')) {
				return fmt.Errorf("the %s holds %q, which cannot go into an RTSP request", what, r)
			}
		}
	}
	return nil
}

// offer queues a unit without ever blocking the channel. Called from the Fanout's goroutine.
func (d *destination) offer(u *unit) {
	d.offered.Add(d.weight(u))
	if d.push != nil && u.frame == nil {
		// made before this destination was added, without the frame it sends: a gap
		d.waitKey = true
		d.drop(u)
		return
	}
	if d.waitKey && !u.key {
		d.drop(u)
		return
	}
	select {
	case d.queue <- u:
		d.waitKey = false
	default:
		d.waitKey = true
		d.drop(u)
	}
}

func (d *destination) setState(state string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.state = state
	if err != nil {
		d.lastErr, d.lastErrAt = err.Error(), time.Now()
	}
	d.retryAt = time.Time{}
	d.stalledSince = time.Time{}
	if state != StateRecording {
		d.since, d.protocol, d.waiting = time.Time{}, "", 0
	}
}

// showStall shows what the recording session's stall watch found: waiting bytes in the
// connection, none of which has reached the server since left (zero: they move). It turns the
// state to StateStalled once that has lasted stallAfter, and back to StateRecording when bytes
// move again.
func (d *destination) showStall(waiting int, left, now time.Time) {
	d.mu.Lock()
	d.waiting = waiting
	stalled := !left.IsZero() && now.Sub(left) >= stallAfter
	var warn error
	recovered := false
	switch {
	case stalled && d.state == StateRecording:
		warn = fmt.Errorf("the server is not reading what is sent: %d bytes wait in the connection, "+
			"none has reached the server for %v", waiting, now.Sub(left).Round(100*time.Millisecond))
		if d.protocol == "srt" {
			// SRT goes out through an ffmpeg (see srtPusher): it is what does not read
			warn = fmt.Errorf("the ffmpeg that sends SRT is not reading what is sent: %d bytes wait in its "+
				"pipe, none was read for %v", waiting, now.Sub(left).Round(100*time.Millisecond))
		}
		d.state, d.stalledSince = StateStalled, left
		d.lastErr, d.lastErrAt = warn.Error(), now
	case !stalled && d.state == StateStalled:
		d.state, d.stalledSince = StateRecording, time.Time{}
		recovered = true
	}
	d.mu.Unlock()
	if warn != nil {
		d.log.Warn("destination stalled", "error", warn)
		d.tell(event.DestinationFailed, warn)
	}
	if recovered {
		d.log.Info("the server reads again: recording")
		d.tell(event.DestinationRecording, nil)
	}
}

// tell says that the destination records, or that it does not (failed, with cause): once when
// that changes, not at each try; from the destination's goroutine.
func (d *destination) tell(kind string, cause error) {
	if d.told == kind {
		return
	}
	d.told = kind
	e := event.Event{Kind: kind, Channel: d.channel, Destination: d.redacted}
	if cause != nil {
		e.Cause = cause.Error()
	}
	d.cfg.events.Emit(e)
}

// recording shows the session that has started to record over protocol ("tcp" or "udp").
func (d *destination) recording(c *gortsplib.Client, protocol string) {
	d.mu.Lock()
	d.client = c // the client's figures are readable from now on
	d.sessions.Add(1)
	d.since, d.protocol = time.Now(), protocol
	d.recordedAt = d.since
	d.mu.Unlock()
	d.setState(StateRecording, nil)
	d.tell(event.DestinationRecording, nil)
}

// retryLater shows a failure, in state, until the next try at the time given.
func (d *destination) retryLater(state string, err error, at time.Time) {
	d.setState(state, err)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.retryAt = at
}

// currentState returns the destination's state.
func (d *destination) currentState() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.state
}

// recordingStarted returns when the latest session began to record.
func (d *destination) recordingStarted() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.recordedAt
}

func (d *destination) stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	sent, bytes := d.sent+d.ownSent.Load(), d.bytes+d.ownBytes.Load()
	if d.client != nil {
		s := d.client.Stats().Session
		sent += s.RTPPacketsSent
		bytes += s.BytesSent
	}
	return Stats{
		URL:            d.redacted,
		State:          d.state,
		PacketsSent:    sent,
		PacketsDropped: d.dropped.Load(),
		BytesSent:      bytes,
		Reconnects:     max(d.sessions.Load(), 1) - 1,
		FailedAttempts: d.failed.Load(),
		LastError:      d.lastErr,
		LastErrorAt:    d.lastErrAt,
		Transport:      d.protocol,
		ConnectedSince: d.since,
		RetryAt:        d.retryAt,
		QueueDepth:     len(d.queue),
		BytesWaiting:   d.waiting,
		StalledSince:   d.stalledSince,
		Verify:         d.ver.Load().status(),
	}
}

// run connects, records, and reconnects with backoff until ctx ends.
func (d *destination) run(ctx context.Context) {
	defer d.setState(StateStopped, nil)
	b := backoff.Backoff{Min: d.cfg.retryMin, Max: d.cfg.retryMax}
	// what the next session starts with: an IDR and the units queued after it
	var start []*unit
	var lastLogged string
	// heldSince is when the server began to answer 412 to every try; zero when it does not.
	var heldSince time.Time
	// While the name is held, quick paces the first two tries, 100 and 200 ms after a refusal
	// (DSS frees a name about 0.1 s after its broadcast's TEARDOWN), and paced the later ones,
	// heldRetry apart: see settings.heldRetry for why never closer. heldTries counts them.
	quick := backoff.Backoff{Min: min(100*time.Millisecond, d.cfg.heldRetry), Max: d.cfg.heldRetry}
	paced := backoff.Backoff{Min: d.cfg.heldRetry, Max: d.cfg.heldRetry}
	heldTries := 0
	// reannounced: the session before this try was ended by us, with TEARDOWN, to announce new
	// parameters.
	reannounced := false
	for {
		if start == nil {
			d.setState(StateWaiting, nil)
		}
		var ok bool
		if start, ok = d.nextKey(ctx, start); !ok {
			return
		}

		began, sessions := time.Now(), d.sessions.Load()
		var next []*unit
		var err error
		if d.push != nil {
			next, err = d.push.session(ctx, d, start)
		} else {
			next, err = d.session(ctx, start)
		}
		start = next
		if ctx.Err() != nil {
			d.drop(start...)
			return
		}
		if d.sessions.Load() == sessions {
			d.failed.Add(1)
		} else {
			// it recorded: a name held later is a new story, and a failure that comes back
			// after it is news again (a server lost every night is logged every night)
			heldSince, heldTries = time.Time{}, 0
			quick.Reset()
			lastLogged = ""
		}
		if errors.Is(err, errParamsChanged) {
			d.log.Info("codec parameters changed, announcing again")
			reannounced = true
			continue
		}
		if d.sessions.Load() > sessions && time.Since(d.recordingStarted()) > d.cfg.healthyAfter {
			b.Reset()
		}
		// Darwin Streaming Server takes about 100 ms to let go of a broadcast after its
		// TEARDOWN: a SETUP sooner gets 412, or 404 when the new ANNOUNCE came while it deleted
		// the old SDP file. After one that vanished it answers 412 for about 20 s.
		held := errors.Is(err, errHeld) || (reannounced && errors.Is(err, errNotTaken))
		reannounced = false
		if held && heldSince.IsZero() {
			heldSince = began
		}
		var delay time.Duration
		state := StateBackoff
		// quiet: a name held briefly, as after a TEARDOWN of ours, is not news
		quiet := false
		if held && time.Since(heldSince) < d.cfg.heldFor {
			// Try again soon, so that viewers get the stream back as soon as it can be had,
			// and from where this try would have begun: they lose nothing.
			if heldTries++; heldTries <= 2 {
				delay, quiet = quick.Next(), true
			} else {
				delay = paced.Next()
			}
		} else {
			d.drop(start...)
			start = nil
			if !held {
				heldSince, heldTries = time.Time{}, 0
				quick.Reset()
			}
			delay = b.Next()
		}
		if errors.Is(err, syscall.ECONNREFUSED) {
			// Nothing listens: a try costs the server nothing, and the channel is back on it
			// within moments of it listening again (a restart, an outage of any length).
			delay = min(delay, refusedRetry)
		}
		if errors.Is(err, errAuth) {
			// The operator may be fixing the password or the server: retry, but slowly.
			delay, state = max(delay, d.cfg.authRetry), StateAuthFailed
		}
		d.retryLater(state, err, time.Now().Add(delay))
		if !quiet {
			d.tell(event.DestinationFailed, err)
		}
		// The same failure over and over is logged once, until something else happens.
		if msg := err.Error(); msg != lastLogged {
			d.log.Warn("destination failed, retrying", "error", err, "retry_in", delay.Round(time.Millisecond))
			lastLogged = msg
		}
		if !d.wait(ctx, delay) {
			return
		}
	}
}

// nextKey returns what a session sends first: start, if given, with the units queued after it
// while they follow it without a gap; else the newest IDR in the queue with the units queued
// after it. Units before that IDR are stale and dropped. Never more than a queue's worth: a
// longer backlog would reach viewers late, and in one burst that can overflow the client's write
// queue; it is dropped, and the session resumes at a newer IDR. With no IDR to start at it waits
// for one.
func (d *destination) nextKey(ctx context.Context, start []*unit) ([]*unit, bool) {
	keep := start != nil
	take := func(u *unit) {
		if keep && u.n != start[len(start)-1].n+1 {
			keep = false
			if !u.key {
				// a gap, and no IDR to resume at (the queue resumes at one after a drop)
				d.drop(start...)
				start = nil
			}
		}
		if len(start) >= d.cfg.queueSize {
			keep = false
			if !u.key {
				d.drop(start...)
				start = nil
			}
		}
		switch {
		case keep:
			start = append(start, u)
		case u.key:
			d.drop(start...)
			start = []*unit{u}
		case start != nil:
			start = append(start, u)
		default:
			d.drop(u)
		}
	}
	for {
		select {
		case u := <-d.queue:
			take(u)
			continue
		default:
		}
		if start != nil {
			return start, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case u := <-d.queue:
			take(u)
		}
	}
}

// drop counts units' packets as dropped.
func (d *destination) drop(us ...*unit) {
	for _, u := range us {
		d.dropped.Add(d.weight(u))
	}
}

func (d *destination) wait(ctx context.Context, delay time.Duration) bool {
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// session announces the parameters of start[0], an IDR, records start and what the queue brings
// next, and returns when the server fails, ctx ends, or the parameters change. When the
// parameters changed it returns the unit that carries the new ones and those after it that it
// has not sent; when it failed before recording, start.
// Closing the client sends TEARDOWN, so a DSS frees the broadcast name at once.
func (d *destination) session(ctx context.Context, start []*unit) (next []*unit, err error) {
	pending := start
	defer func() {
		if next == nil {
			d.drop(pending...) // never sent
		}
	}()
	d.setState(StateConnecting, nil)
	params := start[0].params
	s, err := newSession(d.title, d.target.Metadata, params)
	if err != nil {
		return start, err
	}
	u, err := base.ParseURL(d.url)
	if err != nil {
		return start, fmt.Errorf("invalid URL")
	}
	// conn is the client's connection, taken from its dialer so that a stop can cut it; wired
	// the same, for the stall watch.
	var conn atomic.Pointer[net.Conn]
	var wired atomic.Pointer[wire]
	var protocol string // the transport the server took, from its SETUP answers
	ssrc := newSSRCRewriter(d.channel, d.stream)
	udp := newUDPSession(ssrc, &d.ownSent, &d.ownBytes)
	var server net.IP // the address announced in c=
	c := &gortsplib.Client{
		Scheme:         u.Scheme,
		Host:           u.Host,
		Transport:      d.transport,
		TLSConfig:      d.tlsConfig(),
		WriteQueueSize: writeQueueSize,
		ReadTimeout:    d.cfg.readTimeout,
		// the session writes its own: see reporter
		DisableRTCPSenderReports: true,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
			if err != nil {
				return nil, err
			}
			conn.Store(&nc)
			if d.secure {
				cc := &countingConn{Conn: nc} // SRTP in TLS: see ssrc.go
				wired.Store(&wire{conn: nc, out: cc})
				return cc, nil
			}
			wc := newWireConn(nc, ssrc)
			wired.Store(&wire{conn: nc, out: wc})
			return wc, nil
		},
		// Over UDP the session writes its packets itself, from the client's sockets: see
		// udpSession.
		ListenPacket: udp.listenPacket,
		// Called from the goroutine that then writes the request: server is read once
		// Announce has returned.
		OnRequest: func(req *base.Request) {
			udp.onRequest(req)
			if req.Method != base.Announce {
				return
			}
			if nc := conn.Load(); nc != nil {
				if a, ok := (*nc).RemoteAddr().(*net.TCPAddr); ok {
					server = a.IP
					req.Body = announceBody(req.Body, server, d.title, d.target.Metadata)
				}
			}
		},
		// Unset, the client prints these through the standard logger, once for every packet.
		OnDecodeError: func(err error) {
			d.warnLimited(&d.decodeErrors, "the server sent data the client cannot decode", "error", err)
		},
		OnPacketsLost: func(lost uint64) {
			d.warnLimited(&d.lost, "packets from the server lost", "lost", lost)
		},
		OnTransportSwitch: func(err error) {
			d.log.Info("the server wants TCP: switching", "reason", err)
		},
		// Called from the client's goroutine before it reads the answer itself; protocol is
		// read once Record has returned.
		OnResponse: func(res *base.Response) {
			if p := setupProtocol(res); p != "" {
				protocol = p
			}
			udp.onResponse(res)
			keepAliveWithin(res, d.cfg.keepAlive)
		},
	}
	if err := c.Start2(); err != nil {
		return start, err
	}
	// closeClient sends TEARDOWN, after the packets queued. A server that stopped reading
	// would hold them for the client's write timeout, twice: the connection is cut instead.
	closeClient := func() {
		cut := time.AfterFunc(teardownGrace, func() {
			if nc := conn.Load(); nc != nil {
				(*nc).Close()
			}
		})
		defer cut.Stop()
		c.Close()
	}
	handed := d.handed.Load()
	defer d.endSession(c, handed) // after Close: the client's figures are final
	defer closeClient()
	// The client's requests wait up to its read timeout; a stop must not.
	stop := context.AfterFunc(ctx, closeClient)
	defer stop()

	if _, err := c.Announce(u, s.desc); err != nil {
		return start, describe("ANNOUNCE", err, server)
	}
	if err := c.SetupAll(u, s.desc.Medias); err != nil {
		return start, describe("SETUP", err, server)
	}
	if _, err := c.Record(); err != nil {
		return start, describe("RECORD", err, server)
	}
	var w packetWriter = clientWriter{c}
	if protocol == "udp" && !d.secure {
		kinds := []demux.Kind{demux.Video}
		if s.audio != nil {
			kinds = append(kinds, demux.Audio)
		}
		if s.video == nil {
			kinds = kinds[1:]
		}
		if err := udp.start(server, kinds); err != nil {
			return start, err
		}
		w = udp
	}
	d.params.Store(params) // before the state: the return check reads it once recording
	d.recording(c, protocol)
	d.log.Info("recording", "transport", protocol)

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	var reports reporter
	reportTicker := time.NewTicker(d.cfg.senderReports)
	defer reportTicker.Stop()
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
			case err := <-done:
				return nil, fmt.Errorf("connection lost: %w", err)
			case u = <-d.queue:
			case now := <-reportTicker.C:
				if err := reports.send(w, s, now); err != nil {
					var full liberrors.ErrClientWriteQueueFull
					if !errors.As(err, &full) {
						return nil, fmt.Errorf("connection lost: %w", err)
					}
					// The server does not keep up: the next report comes in a period. The
					// session is the stall watch's to judge, not a report's.
				}
				continue
			case now := <-stallTicker.C:
				if wc := wired.Load(); wc != nil {
					waiting, left := stall.check(wc, now)
					d.showStall(waiting, left, now)
				}
				continue
			}
		}
		if !u.params.Equal(params) {
			return append([]*unit{u}, pending...), errParamsChanged
		}
		if skip && u.key {
			skip = false
		}
		if skip {
			d.drop(u)
			continue
		}
		if err := d.write(w, s, u, &reports); err != nil {
			var full liberrors.ErrClientWriteQueueFull
			if !errors.As(err, &full) {
				return nil, fmt.Errorf("connection lost: %w", err)
			}
			// The server does not keep up: resume at the next IDR.
			skip = true
		}
	}
}

func (d *destination) write(w packetWriter, s *session, u *unit, reports *reporter) error {
	medi := s.media(u.kind)
	report := &reports.media[u.kind]
	report.ClockRate = medi.Formats[0].ClockRate()
	first := !report.Started()
	now := time.Now()
	// the client counts what it wrote of what it was handed; over UDP the session counts itself
	_, viaClient := w.(clientWriter)
	// The return check looks for the leading track's timestamps: video's, else audio's, whose
	// packets each start a frame of their own.
	switch {
	case u.kind == demux.Video:
		d.sentAt.add(u.pkts[0].Timestamp, now)
	case u.params.SPS == nil:
		for _, p := range u.pkts {
			d.sentAt.add(p.Timestamp, now)
		}
	}
	for i, p := range u.pkts {
		// The client stamps its SSRC into the packet: each destination writes its own header
		// copy, the payload stays shared.
		d.pkt = *p
		ntp := u.packetNTP(i, report.ClockRate)
		if err := w.writeRTP(u.kind, medi, &d.pkt, ntp); err != nil {
			d.dropped.Add(uint64(len(u.pkts) - i))
			return err
		}
		if viaClient {
			d.handed.Add(1)
		}
		report.Wrote(&d.pkt, ntp, now)
	}
	if first {
		// A medium's first report goes out with its first frame: a server that passes the
		// stream's time on to its players has it from the start, not seconds later.
		return w.writeRTCP(u.kind, medi, report.Report(now))
	}
	return nil
}

// endSession adds up a closed session's figures: the packets its client wrote to the server,
// and as dropped those it was handed (since handedBefore) but never wrote.
func (d *destination) endSession(c *gortsplib.Client, handedBefore uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.client != c {
		return // it never recorded
	}
	d.client = nil
	st := c.Stats().Session
	wrote := st.RTPPacketsSent
	d.sent += wrote
	d.bytes += st.BytesSent
	if handed := d.handed.Load() - handedBefore; handed > wrote {
		d.dropped.Add(handed - wrote)
	}
}

// wire is a session's TCP connection as its stall watch sees it: the socket, and what counts the
// bytes written to it.
type wire struct {
	conn net.Conn
	out  interface{ sent() uint64 }
}

// stallWatch tells, from the bytes a session's connection holds and those written to it, whether
// any reaches the server. It is used by the session's goroutine only.
type stallWatch struct {
	w     *wire     // the connection of the figures below
	acked uint64    // the most bytes seen to have left the connection
	left  time.Time // when acked last grew, or the connection held nothing
}

// check returns the bytes the connection holds and, while none has left it, since when; zero
// when they move, or cannot be known.
func (s *stallWatch) check(w *wire, now time.Time) (waiting int, since time.Time) {
	// written first: a write between the two readings then makes acked look smaller, never
	// larger, and cannot pass for progress
	written := w.out.sent()
	held, ok := unsent(w.conn)
	if !ok {
		return 0, time.Time{}
	}
	acked := written - min(written, uint64(held))
	if s.w != w {
		*s = stallWatch{w: w} // a new connection (the client switched transports)
	}
	if held == 0 || acked > s.acked || s.left.IsZero() {
		s.acked, s.left = max(s.acked, acked), now
		return held, time.Time{}
	}
	return held, s.left
}

// warnLimited logs a warning of a kind that l keeps to one a libraryLogEvery, with how many it
// held back since the last.
func (d *destination) warnLimited(l *ratelog.Limiter, msg string, args ...any) {
	heldBack, ok := l.Allow(time.Now())
	if !ok {
		return
	}
	if heldBack > 0 {
		args = append(args, "left_out", heldBack)
	}
	d.log.Warn(msg, args...)
}

// tlsConfig returns a new TLS configuration for an rtsps session (the client writes the server
// name into it), nil for rtsp.
func (d *destination) tlsConfig() *tls.Config {
	if !d.secure {
		return nil
	}
	return clientTLS(d.roots, d.target.TLSInsecure)
}

// clientTLS returns a new TLS configuration for a client (rtsps, rtmps) that checks the server's
// certificate against roots (nil: the system's), or not at all when insecure.
func clientTLS(roots *x509.CertPool, insecure bool) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS12,
		RootCAs:            roots,
		InsecureSkipVerify: insecure, //nolint:gosec // asked for explicitly
	}
}

// parseCA returns the authorities of a target's TLSCA, nil (the system's) when it has none.
func parseCA(pem string) (*x509.CertPool, error) {
	if pem == "" {
		return nil, nil
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(pem)) {
		return nil, errors.New("no PEM certificate in the CA given")
	}
	return roots, nil
}

// describe names the request that failed and adds what a user can do about common answers, as
// Darwin Streaming Server 6.0.3 gives them. server is the address announced in c=.
func describe(req string, err error, server net.IP) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		status := fmt.Sprintf("%d %s", bad.Code, bad.Message)
		switch {
		case bad.Code == base.StatusUnauthorized:
			// The password is read with the profile (Target has no file to read again), and Darwin
			// Streaming Server with authenticate_local_broadcast asks for credentials before it
			// looks for the directory.
			return fmt.Errorf("%s: %w (%s): check user and password (a corrected password_file is read at the "+
				"next reload: systemctl reload liveinject); on Darwin Streaming Server a user of the broadcaster "+
				"group, or a qtaccess whose <Limit WRITE> block says require any-user; with "+
				"authenticate_local_broadcast it answers 401 too when the directory does not exist under the "+
				"movies folder", req, errAuth, status)
		case bad.Code == base.StatusServiceUnavailable:
			return fmt.Errorf("%s: %s: the server takes no session now; Darwin Streaming Server answers so while "+
				"it shuts down or when it is over its limits (maximum_connections, maximum_bandwidth); liveinject "+
				"tries again", req, status)
		case bad.Code == base.StatusPreconditionFailed:
			return fmt.Errorf("%s: %w (%s) by the broadcast before; Darwin Streaming Server frees a name "+
				"about 0.1 s after its TEARDOWN, and 21–23 s after a broadcast that vanished without one (its timeout_broadcaster_session_secs, 20)",
				req, errHeld, status)
		case req == "SETUP" && bad.Code == base.StatusNotFound:
			return fmt.Errorf("%s: %s: %w; Darwin Streaming Server "+
				"reflects a session only when the SDP's c= address (%v, where this box connected to) is one of "+
				"its own, which fails when a NAT is between this box and the server", req, status, errNotTaken, server)
		case req == "SETUP" && bad.Code == base.StatusUnsupportedMediaType:
			return fmt.Errorf("%s: %s: on Darwin Streaming Server the path must end in .sdp", req, status)
		case req == "ANNOUNCE" && bad.Code == base.StatusForbidden:
			return fmt.Errorf("%s: %s: the server does not let this push write there; on Darwin Streaming Server "+
				"the directory does not exist under the movies folder, or its qtaccess lacks "+
				"<Limit WRITE> require any-user </Limit> and the user is not a broadcaster", req, status)
		case bad.Code == base.StatusForbidden, bad.Code == base.StatusNotFound:
			return fmt.Errorf("%s: %s: the server does not let this user broadcast to this path", req, status)
		}
	}
	if cause := tlsCause(req, err); cause != nil {
		return cause
	}
	return fmt.Errorf("%s: %w", req, err)
}

// tlsCause says what a user can do about a server certificate that failed the check (rtsps,
// rtmps), naming the step that failed (req); nil for other errors.
func tlsCause(req string, err error) error {
	var unknownCA x509.UnknownAuthorityError
	var otherHost x509.HostnameError
	switch {
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: the server's certificate is not signed by a trusted authority: give its CA "+
			"in tls_ca_file, or set tls_insecure to skip the check: %w", req, err)
	case errors.As(err, &otherHost):
		return fmt.Errorf("%s: the server's certificate is not for this host name: %w", req, err)
	}
	return nil
}

// setupProtocol returns the lower transport of a SETUP answer: "tcp" or "udp"; "" for other
// answers.
func setupProtocol(res *base.Response) string {
	if res.StatusCode != base.StatusOK || res.Header["Transport"] == nil {
		return ""
	}
	var th headers.Transport
	if th.Unmarshal(res.Header["Transport"]) != nil {
		return ""
	}
	if th.Protocol == headers.TransportProtocolTCP {
		return "tcp"
	}
	return "udp"
}

// keepAliveWithin keeps a session's keepalive requests at most every apart (in whole seconds),
// by lowering the timeout in an answer's Session header before the client reads it.
//
// Over UDP nothing else goes over the RTSP connection, and gortsplib v4.16.2 sends its keepalive
// every 30 s, or at 80 % of the timeout the server announces. A server that announces none, or a
// long one, yet drops a silent session sooner (Darwin Streaming Server drops a broadcaster after
// about 20 s) would drop ours; and the client has no public way to send a request while
// recording (Options refuses), so its own keepalive is the one to hasten.
func keepAliveWithin(res *base.Response, every time.Duration) {
	v, ok := res.Header["Session"]
	if !ok {
		return
	}
	var sx headers.Session
	if sx.Unmarshal(v) != nil {
		return // the client reports it
	}
	// The client waits 80 % of the timeout between keepalives.
	want := max(uint(every*5/4/time.Second), 1)
	if sx.Timeout != nil && *sx.Timeout <= want {
		return
	}
	sx.Timeout = &want
	res.Header["Session"] = sx.Marshal()
}
