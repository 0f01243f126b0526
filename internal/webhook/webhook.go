// Package webhook tells other programs what happens to the channels: each event (see package
// event) goes to every webhook that wants it as a JSON POST, signed with the webhook's secret.
// Each webhook has its own bounded queue and goroutine, so that a receiver that is down or slow
// loses its own oldest events (counted) and never holds back a channel or another webhook.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/liveinject/liveinject/internal/backoff"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/ratelog"
)

// Defaults of a Hub and a Config that leave them zero.
const (
	DefaultTimeout   = 10 * time.Second
	DefaultQueueSize = 1000
	DefaultRetryMin  = time.Second
	DefaultRetryMax  = 30 * time.Second
	DefaultGrace     = 2 * time.Second
)

// SignatureHeader carries "sha256=" and the hex HMAC-SHA256 of the request's body, keyed with
// the webhook's secret, when it has one.
const SignatureHeader = "X-Liveinject-Signature"

// EventHeader carries the event's kind, for receivers that route before they parse.
const EventHeader = "X-Liveinject-Event"

// logEvery is how often a failing webhook logs at most: a receiver down for a day makes a line
// a minute, each saying how many it held back.
const logEvery = time.Minute

// Results of a try, as Stats counts them.
const (
	// ResultOK: the receiver answered 2xx.
	ResultOK = "ok"
	// ResultFailed: no answer, or 408, 429, 5xx, a redirect: the event is tried again.
	ResultFailed = "failed"
	// ResultRejected: the receiver refused the event itself (another 4xx): it is not tried again,
	// so that one event the receiver will never take does not block those after it.
	ResultRejected = "rejected"
)

// Config is one webhook.
type Config struct {
	// Name names the webhook in logs, metrics and status; default its URL without credentials
	// and query.
	Name string
	// URL is where the events are POSTed: http or https.
	URL string
	// Secret, when set, signs each body (SignatureHeader).
	Secret []byte
	// Events are the kinds of event it gets, or families such as "channel.*"; empty: all.
	Events []string
	// Timeout bounds each try, from the request to the end of the answer; default
	// DefaultTimeout.
	Timeout time.Duration
}

// CheckEvents checks a webhook's events: each a kind of event.Kinds, or a family of them
// written "channel.*".
func CheckEvents(events []string) error {
	for _, e := range events {
		if slices.Contains(event.Kinds, e) {
			continue
		}
		if family, ok := strings.CutSuffix(e, ".*"); ok && slices.ContainsFunc(event.Kinds, func(k string) bool {
			return strings.HasPrefix(k, family+".")
		}) {
			continue
		}
		return fmt.Errorf("%q is not an event: want one of %s, or a family such as \"channel.*\"",
			e, strings.Join(event.Kinds, ", "))
	}
	return nil
}

// Matches reports whether a webhook of events (empty: all) gets an event of kind.
func Matches(events []string, kind string) bool {
	if len(events) == 0 {
		return true
	}
	for _, e := range events {
		if e == kind {
			return true
		}
		if family, ok := strings.CutSuffix(e, ".*"); ok && strings.HasPrefix(kind, family+".") {
			return true
		}
	}
	return false
}

// DefaultName is a webhook's name when its config gives none: its URL without credentials and
// query (where a receiver's token often is).
func DefaultName(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "webhook"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment = nil, "", false, ""
	return u.String()
}

// Body is what each POST carries: the event's fields, its place in the webhook's sequence,
// and the host that sent it.
type Body struct {
	event.Event
	// Seq counts the events queued for this webhook since liveinject started, from 1: a gap
	// tells of events dropped when the queue was full.
	Seq uint64 `json:"seq"`
	// Host is the name of the box that sent it (os.Hostname).
	Host string `json:"host,omitempty"`
}

// Stats are one webhook's figures.
type Stats struct {
	Name string `json:"name"`
	// Deliveries counts the tries by result (ResultOK, ResultFailed, ResultRejected).
	Deliveries map[string]uint64 `json:"deliveries"`
	// Dropped counts the events thrown away when the queue was full (the oldest first), and
	// those still queued when liveinject stopped and its grace ran out.
	Dropped uint64 `json:"dropped"`
	// Queued counts the events not delivered yet, the one being tried included.
	Queued int `json:"queued"`
	// Up is false from a failed try until the next that succeeds.
	Up bool `json:"up"`
	// LastSuccess is when a try last succeeded; zero before the first.
	LastSuccess time.Time `json:"last_success,omitzero"`
	// LastError says why the last failed or rejected try was; LastErrorAt when.
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// Hub delivers events to its webhooks. Initialize starts a goroutine per webhook, Sink hands
// them events, Close stops them.
type Hub struct {
	Webhooks []Config
	// Host goes into each Body; "" leaves it out.
	Host   string
	Logger *slog.Logger
	// QueueSize is how many events wait per webhook at most; default DefaultQueueSize.
	QueueSize int
	// RetryMin and RetryMax bound the delay between tries of one event (doubling, with
	// jitter); defaults DefaultRetryMin and DefaultRetryMax.
	RetryMin, RetryMax time.Duration
	// Grace is how long Close keeps delivering what is queued; default DefaultGrace.
	Grace time.Duration
	// Client sends the requests; default one that follows no redirect.
	Client *http.Client

	hooks []*hook
	// stop ends the tries' waits when the grace is over; stopping tells the goroutines to end
	// once their queue is empty.
	stop     context.CancelFunc
	stopping chan struct{}
	wg       sync.WaitGroup
	closing  sync.Once
}

// Initialize checks the webhooks and starts their goroutines.
func (h *Hub) Initialize() error {
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
	if h.QueueSize <= 0 {
		h.QueueSize = DefaultQueueSize
	}
	if h.RetryMin <= 0 {
		h.RetryMin = DefaultRetryMin
	}
	if h.RetryMax <= 0 {
		h.RetryMax = DefaultRetryMax
	}
	if h.Grace <= 0 {
		h.Grace = DefaultGrace
	}
	if h.Client == nil {
		// its own transport, whose idle connections Close closes
		h.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), CheckRedirect: func(*http.Request, []*http.Request) error {
			// a POST redirected turns into a GET: the receiver is misconfigured, say so
			return http.ErrUseLastResponse
		}}
	}
	for _, c := range h.Webhooks {
		u, err := url.Parse(c.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("webhook %s: want an http:// or https:// URL", DefaultName(c.URL))
		}
		if err := CheckEvents(c.Events); err != nil {
			return fmt.Errorf("webhook %s: %w", DefaultName(c.URL), err)
		}
		if c.Name == "" {
			c.Name = DefaultName(c.URL)
		}
		if c.Timeout <= 0 {
			c.Timeout = DefaultTimeout
		}
		k := &hook{cfg: c, hub: h, log: h.Logger.With("webhook", c.Name), wake: make(chan struct{}, 1),
			deliveries: map[string]uint64{}, up: true}
		k.failures.Every = logEvery
		h.hooks = append(h.hooks, k)
	}
	var ctx context.Context
	ctx, h.stop = context.WithCancel(context.Background())
	h.stopping = make(chan struct{})
	for _, k := range h.hooks {
		h.wg.Go(func() { k.run(ctx) })
	}
	return nil
}

// Sink returns the Sink that queues each event for the webhooks that want it. It never blocks.
func (h *Hub) Sink() event.Sink {
	return func(e event.Event) {
		for _, k := range h.hooks {
			if Matches(k.cfg.Events, e.Kind) {
				k.push(e)
			}
		}
	}
}

// Close stops taking events, delivers what is queued for Grace at most, drops the rest and
// returns once every goroutine has ended.
func (h *Hub) Close() {
	if h.stop == nil {
		return // never initialized
	}
	h.closing.Do(func() {
		for _, k := range h.hooks {
			k.mu.Lock()
			k.closed = true
			k.mu.Unlock()
		}
		close(h.stopping)
		timer := time.AfterFunc(h.Grace, h.stop)
		h.wg.Wait()
		timer.Stop()
		h.stop()
		h.Client.CloseIdleConnections()
	})
}

// Stats returns each webhook's figures, in the config's order.
func (h *Hub) Stats() []Stats {
	out := make([]Stats, len(h.hooks))
	for i, k := range h.hooks {
		out[i] = k.stats()
	}
	return out
}

// hook is one webhook: its queue, filled by push from any goroutine, emptied by run.
type hook struct {
	cfg      Config
	hub      *Hub
	log      *slog.Logger
	failures ratelog.Limiter
	wake     chan struct{}

	mu sync.Mutex
	// queue holds the events waiting, oldest first; current is the one being tried, taken out
	// of it. seq numbered the last one queued.
	queue      []Body
	current    *Body
	seq        uint64
	closed     bool
	deliveries map[string]uint64
	dropped    uint64
	up         bool
	lastOK     time.Time
	lastErr    string
	lastErrAt  time.Time
}

// push queues e, dropping the oldest waiting event when the queue is full.
func (k *hook) push(e event.Event) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return
	}
	k.seq++
	if len(k.queue) >= k.hub.QueueSize {
		k.queue = slices.Delete(k.queue, 0, 1)
		k.dropped++
	}
	k.queue = append(k.queue, Body{Event: e, Seq: k.seq, Host: k.hub.Host})
	k.mu.Unlock()
	select {
	case k.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest waiting event, if any, as the current one.
func (k *hook) next() (Body, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if len(k.queue) == 0 {
		return Body{}, false
	}
	b := k.queue[0]
	k.queue = slices.Delete(k.queue, 0, 1)
	k.current = &b
	return b, true
}

// run delivers the events in order, each tried until the receiver takes or rejects it. Once
// the Hub stops, it ends when the queue is empty or ctx ends (the grace is over).
func (k *hook) run(ctx context.Context) {
	b := backoff.Backoff{Min: k.hub.RetryMin, Max: k.hub.RetryMax}
	for {
		body, ok := k.next()
		if !ok {
			select {
			case <-k.wake:
				continue
			case <-k.hub.stopping:
				// events pushed before Close are in the queue by now
				if body, ok = k.next(); !ok {
					return
				}
			case <-ctx.Done():
				return
			}
		}
		for {
			result, err := k.post(ctx, body)
			k.done(body, result, err)
			if result != ResultFailed {
				b.Reset()
				break
			}
			if ctx.Err() != nil {
				k.dropRest()
				return
			}
			select {
			case <-time.After(b.Next()):
			case <-ctx.Done():
				k.dropRest()
				return
			}
		}
	}
}

// post tries to deliver body once.
func (k *hook) post(ctx context.Context, body Body) (string, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return ResultRejected, err // cannot happen: Body has no value JSON refuses
	}
	ctx, cancel := context.WithTimeout(ctx, k.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, k.cfg.URL, bytes.NewReader(data))
	if err != nil {
		return ResultRejected, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "liveinject")
	req.Header.Set(EventHeader, body.Kind)
	if k.cfg.Secret != nil {
		req.Header.Set(SignatureHeader, Sign(k.cfg.Secret, data))
	}
	res, err := k.hub.Client.Do(req)
	if err != nil {
		// (the URL, with its token, stays out of the error)
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return ResultFailed, err
	}
	defer res.Body.Close()
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) //nolint:errcheck // lets the connection be reused
	switch c := res.StatusCode; {
	case c >= 200 && c < 300:
		return ResultOK, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500 || c < 400:
		return ResultFailed, fmt.Errorf("answered %s", res.Status)
	default:
		return ResultRejected, fmt.Errorf("answered %s: event not tried again", res.Status)
	}
}

// Sign returns the SignatureHeader value of body: "sha256=" and the hex HMAC-SHA256 of it,
// keyed with secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// done counts a try of body and logs a failure, a line a minute at most.
func (k *hook) done(body Body, result string, err error) {
	now := time.Now()
	k.mu.Lock()
	k.deliveries[result]++
	wasUp := k.up
	if result != ResultFailed {
		k.current = nil
	}
	if result == ResultOK {
		k.up, k.lastOK = true, now
	} else {
		k.up = result != ResultFailed && k.up
		k.lastErr, k.lastErrAt = err.Error(), now
	}
	k.mu.Unlock()
	switch {
	case result == ResultOK && !wasUp:
		k.log.Info("webhook delivers again")
	case result == ResultOK:
	default:
		if held, ok := k.failures.Allow(now); ok {
			k.log.Warn("webhook failed", "event", body.Kind, "seq", body.Seq, "result", result,
				"error", err, "held_back", held)
		}
	}
}

// dropRest drops what is left when the grace is over.
func (k *hook) dropRest() {
	k.mu.Lock()
	n := len(k.queue)
	if k.current != nil {
		n++
	}
	k.dropped += uint64(n)
	k.queue, k.current = nil, nil
	k.mu.Unlock()
	if n > 0 {
		k.log.Warn("webhook: events not delivered before stopping", "dropped", n)
	}
}

func (k *hook) stats() Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := len(k.queue)
	if k.current != nil {
		n++
	}
	return Stats{Name: k.cfg.Name, Deliveries: byResult(k.deliveries), Dropped: k.dropped, Queued: n,
		Up: k.up, LastSuccess: k.lastOK, LastError: k.lastErr, LastErrorAt: k.lastErrAt}
}

// byResult copies the counts of tries, with every result.
func byResult(m map[string]uint64) map[string]uint64 {
	out := make(map[string]uint64, 3)
	for _, r := range []string{ResultOK, ResultFailed, ResultRejected} {
		out[r] = m[r]
	}
	return out
}
