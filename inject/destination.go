package inject

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"github.com/liveinject/liveinject/internal/backoff"
)

// Destination states, as shown in Stats.
const (
	StateWaiting    = "waiting"    // for the first IDR of the stream
	StateConnecting = "connecting" // ANNOUNCE, SETUP, RECORD in progress
	StateRecording  = "recording"
	StateBackoff    = "backoff" // failed, retrying later
	StateStopped    = "stopped"
)

// writeQueueSize is the client's own packet queue: room for the burst a destination sends when it
// starts from a queued IDR, about 3 s of 8 Mbit/s video.
const writeQueueSize = 2048

// healthyAfter is how long a session must last before a failure retries at the shortest delay again.
const healthyAfter = 10 * time.Second

// errParamsChanged ends a session whose SDP no longer matches the stream.
var errParamsChanged = errors.New("codec parameters changed")

// Stats are one destination's figures.
type Stats struct {
	// URL has any password replaced by "xxxxx".
	URL   string
	State string
	// PacketsSent counts the RTP packets written to the server's connection, over all sessions.
	PacketsSent uint64
	// PacketsDropped counts the packets thrown away: queue full, waiting for an IDR, or left in
	// the client's queue when a session ended.
	PacketsDropped uint64
	Reconnects     uint64
	LastError      string
}

// destination pushes to one server from its own goroutine, fed through a bounded queue.
type destination struct {
	target    Target
	channel   string
	url       string
	redacted  string
	transport *gortsplib.Transport
	log       *slog.Logger
	queue     chan *unit

	// waitKey is owned by the Fanout's goroutine: set when a frame was dropped, so that the
	// destination resumes at an IDR instead of sending undecodable frames.
	waitKey bool

	// handed counts the packets handed to a session's client; what the client has not put on
	// the wire when its session ends is counted as dropped.
	handed, dropped, reconnects atomic.Uint64
	// offered counts the packets offered to the queue: once all are sent or dropped it equals
	// PacketsSent + PacketsDropped.
	offered atomic.Uint64

	// stop ends the destination's goroutine, which closes done when it has ended.
	stop context.CancelFunc
	done chan struct{}

	mu      sync.Mutex
	state   string
	lastErr string
	// sent counts the packets on the wire in ended sessions; client is the recording one's.
	sent   uint64
	client *gortsplib.Client
}

func newDestination(channel string, t Target, queueSize int, log *slog.Logger) (*destination, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep the password out of it.
		return nil, fmt.Errorf("destination: invalid URL")
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return nil, fmt.Errorf("destination %s: scheme %q, want rtsp or rtsps", u.Redacted(), u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("destination %s: no host", u.Redacted())
	}
	if t.User != "" {
		u.User = url.UserPassword(t.User, t.Password)
	}
	d := &destination{
		target:   t,
		channel:  channel,
		url:      u.String(),
		redacted: u.Redacted(),
		queue:    make(chan *unit, queueSize),
		state:    StateWaiting,
	}
	switch t.Transport {
	case "", "tcp":
		tr := gortsplib.TransportTCP
		d.transport = &tr
	case "udp":
		tr := gortsplib.TransportUDP
		d.transport = &tr
	case "auto":
		// nil: gortsplib tries UDP, then TCP.
	default:
		return nil, fmt.Errorf("destination %s: unknown transport %q (tcp, udp or auto)", d.redacted, t.Transport)
	}
	d.log = log.With("destination", d.redacted)
	return d, nil
}

// offer queues a unit without ever blocking the channel. Called from the Fanout's goroutine.
func (d *destination) offer(u *unit) {
	d.offered.Add(uint64(len(u.pkts)))
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
		d.lastErr = err.Error()
	}
}

func (d *destination) stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	sent := d.sent
	if d.client != nil {
		sent += d.client.Stats().Session.RTPPacketsSent
	}
	return Stats{
		URL:            d.redacted,
		State:          d.state,
		PacketsSent:    sent,
		PacketsDropped: d.dropped.Load(),
		Reconnects:     d.reconnects.Load(),
		LastError:      d.lastErr,
	}
}

// run connects, records, and reconnects with backoff until ctx ends.
func (d *destination) run(ctx context.Context) {
	defer d.setState(StateStopped, nil)
	b := backoff.Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second}
	// what the next session starts with: an IDR and the units queued after it
	var start []*unit
	var lastLogged string
	for {
		if start == nil {
			d.setState(StateWaiting, nil)
			var ok bool
			if start, ok = d.nextKey(ctx); !ok {
				return
			}
		}

		began := time.Now()
		next, err := d.session(ctx, start)
		start = next
		if ctx.Err() != nil {
			return
		}
		d.reconnects.Add(1)
		if errors.Is(err, errParamsChanged) {
			d.log.Info("codec parameters changed, announcing again")
			continue
		}
		if time.Since(began) > healthyAfter {
			b.Reset()
		}
		delay := b.Next()
		d.setState(StateBackoff, err)
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

// nextKey returns the newest IDR in the queue with the units queued after it, which a session
// sends first; units before that IDR are stale and dropped. With no IDR queued it waits for one.
func (d *destination) nextKey(ctx context.Context) ([]*unit, bool) {
	var start []*unit
	take := func(u *unit) {
		switch {
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
		d.dropped.Add(uint64(len(u.pkts)))
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
// next, and returns when the server fails, ctx ends, or the parameters change; then it returns
// the unit that carries the new ones and those after it that it has not sent.
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
	title := d.target.SessionName
	if title == "" {
		title = d.channel
	}
	s, err := newSession(title, params)
	if err != nil {
		return nil, err
	}
	u, err := base.ParseURL(d.url)
	if err != nil {
		return nil, fmt.Errorf("invalid URL")
	}
	c := &gortsplib.Client{
		Scheme:         u.Scheme,
		Host:           u.Host,
		Transport:      d.transport,
		WriteQueueSize: writeQueueSize,
	}
	if err := c.Start2(); err != nil {
		return nil, err
	}
	handed := d.handed.Load()
	defer d.endSession(c, handed) // after Close: the client's figures are final
	defer c.Close()
	// The client's requests wait up to its read timeout; a stop must not.
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()

	if _, err := c.Announce(u, s.desc); err != nil {
		return nil, describe("ANNOUNCE", err)
	}
	if err := c.SetupAll(u, s.desc.Medias); err != nil {
		return nil, describe("SETUP", err)
	}
	if _, err := c.Record(); err != nil {
		return nil, describe("RECORD", err)
	}
	d.mu.Lock()
	d.client = c // the client's figures are readable from now on
	d.mu.Unlock()
	d.setState(StateRecording, nil)
	d.log.Info("recording")

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()

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
		if err := d.write(c, s, u); err != nil {
			var full liberrors.ErrClientWriteQueueFull
			if !errors.As(err, &full) {
				return nil, err
			}
			// The server does not keep up: resume at the next IDR.
			skip = true
		}
	}
}

func (d *destination) write(c *gortsplib.Client, s *session, u *unit) error {
	medi := s.media(u.kind)
	for i, p := range u.pkts {
		// The client stamps its SSRC into the packet: each destination writes its own header
		// copy, the payload stays shared.
		pkt := *p
		if err := c.WritePacketRTPWithNTP(medi, &pkt, u.ntp); err != nil {
			d.dropped.Add(uint64(len(u.pkts) - i))
			return err
		}
		d.handed.Add(1)
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
	wrote := c.Stats().Session.RTPPacketsSent
	d.sent += wrote
	if handed := d.handed.Load() - handedBefore; handed > wrote {
		d.dropped.Add(handed - wrote)
	}
}

// describe names the request that failed and adds what a user can do about common answers.
func describe(req string, err error) error {
	var bad liberrors.ErrClientBadStatusCode
	if errors.As(err, &bad) {
		switch bad.Code {
		case base.StatusUnauthorized:
			return fmt.Errorf("%s: authentication failed (%d): check user and password", req, bad.Code)
		case base.StatusForbidden:
			return fmt.Errorf("%s: forbidden (%d): the server does not let this user broadcast; "+
				"on Darwin Streaming Server give the movies folder a qtaccess file or use a broadcaster user", req, bad.Code)
		case base.StatusPreconditionFailed:
			return fmt.Errorf("%s: %d %s: the name is still broadcasting (a dropped session lingers ~20 s on DSS), "+
				"or the path does not end in .sdp", req, bad.Code, bad.Message)
		}
	}
	return fmt.Errorf("%s: %w", req, err)
}
