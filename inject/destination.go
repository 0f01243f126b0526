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
	URL            string
	State          string
	PacketsSent    uint64
	PacketsDropped uint64
	Reconnects     uint64
	LastError      string
}

// destination pushes to one server from its own goroutine, fed through a bounded queue.
type destination struct {
	channel   string
	url       string
	redacted  string
	transport *gortsplib.Transport
	log       *slog.Logger
	queue     chan *unit

	// waitKey is owned by the Fanout's goroutine: set when a frame was dropped, so that the
	// destination resumes at an IDR instead of sending undecodable frames.
	waitKey bool

	sent, dropped, reconnects atomic.Uint64
	mu                        sync.Mutex
	state                     string
	lastErr                   string
}

func newDestination(channel string, t Target, queueSize int, log *slog.Logger) (*destination, error) {
	u, err := url.Parse(t.URL)
	if err != nil {
		// url.Parse quotes the whole URL in its error: keep the password out of it.
		return nil, fmt.Errorf("destination: invalid URL")
	}
	d := &destination{
		channel:  channel,
		url:      t.URL,
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
	if d.waitKey && !u.key {
		d.dropped.Add(uint64(len(u.pkts)))
		return
	}
	select {
	case d.queue <- u:
		d.waitKey = false
	default:
		d.waitKey = true
		d.dropped.Add(uint64(len(u.pkts)))
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
	return Stats{
		URL:            d.redacted,
		State:          d.state,
		PacketsSent:    d.sent.Load(),
		PacketsDropped: d.dropped.Load(),
		Reconnects:     d.reconnects.Load(),
		LastError:      d.lastErr,
	}
}

// run connects, records, and reconnects with backoff until ctx ends.
func (d *destination) run(ctx context.Context) {
	defer d.setState(StateStopped, nil)
	b := backoff.Backoff{Min: 250 * time.Millisecond, Max: 30 * time.Second}
	var first *unit
	var lastLogged string
	for {
		if first == nil {
			d.setState(StateWaiting, nil)
			var ok bool
			if first, ok = d.nextKey(ctx); !ok {
				return
			}
		}

		start := time.Now()
		next, err := d.session(ctx, first)
		first = next
		if ctx.Err() != nil {
			return
		}
		d.reconnects.Add(1)
		if errors.Is(err, errParamsChanged) {
			d.log.Info("codec parameters changed, announcing again")
			continue
		}
		if time.Since(start) > healthyAfter {
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

// nextKey discards queued units up to the newest place a player can start from, then waits for
// one if none is queued. Stale frames from before a failure are never sent.
func (d *destination) nextKey(ctx context.Context) (*unit, bool) {
	var key *unit
	for {
		select {
		case u := <-d.queue:
			if u.key {
				key = u
			} else {
				d.dropped.Add(uint64(len(u.pkts)))
			}
			continue
		default:
		}
		if key != nil {
			return key, true
		}
		select {
		case <-ctx.Done():
			return nil, false
		case u := <-d.queue:
			if u.key {
				return u, true
			}
			d.dropped.Add(uint64(len(u.pkts)))
		}
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

// session announces first.params, records first and what follows, and returns when the server
// fails, ctx ends, or the parameters change; then it returns the unit that carries the new ones.
// Closing the client sends TEARDOWN, so a DSS frees the broadcast name at once.
func (d *destination) session(ctx context.Context, first *unit) (*unit, error) {
	d.setState(StateConnecting, nil)
	s, err := newSession(d.channel, first.params)
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
	d.setState(StateRecording, nil)
	d.log.Info("recording")

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()

	skip := false
	for u := first; ; {
		if !u.params.Equal(first.params) {
			return u, errParamsChanged
		}
		if skip && u.key {
			skip = false
		}
		if !skip {
			if err := d.write(c, s, u); err != nil {
				var full liberrors.ErrClientWriteQueueFull
				if !errors.As(err, &full) {
					return nil, err
				}
				// The server does not keep up: resume at the next IDR.
				skip = true
			}
		} else {
			d.dropped.Add(uint64(len(u.pkts)))
		}

		select {
		case <-ctx.Done():
			return nil, nil
		case err := <-done:
			return nil, fmt.Errorf("connection lost: %w", err)
		case u = <-d.queue:
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
		d.sent.Add(1)
	}
	return nil
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
