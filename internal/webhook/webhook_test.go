package webhook

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/internal/event"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// receiver is a loopback webhook receiver that keeps what it took, checking each signature.
type receiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	// answer, if set, gives the status to answer a request with, before the body is kept;
	// 2xx keeps it.
	answer func(r *http.Request) int

	mu     sync.Mutex
	got    []Body
	tries  int
	badSig int
}

func newReceiver(t *testing.T, secret []byte, answer func(r *http.Request) int) *receiver {
	rc := &receiver{t: t, secret: secret, answer: answer}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	code := http.StatusNoContent
	if rc.answer != nil {
		code = rc.answer(r)
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.tries++
	if code/100 == 2 {
		var b Body
		if err := json.Unmarshal(data, &b); err != nil {
			rc.t.Errorf("body %q: %v", data, err)
		}
		if rc.secret != nil && !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(Sign(rc.secret, data))) {
			rc.badSig++
		}
		if r.Header.Get(EventHeader) != b.Kind || r.Header.Get("Content-Type") != "application/json" {
			rc.t.Errorf("headers %v for a %s", r.Header, b.Kind)
		}
		rc.got = append(rc.got, b)
	}
	w.WriteHeader(code)
}

func (rc *receiver) bodies() []Body {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.got)
}

// waitFor waits until cond holds, at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func seqs(bs []Body) []uint64 {
	out := make([]uint64, len(bs))
	for i, b := range bs {
		out[i] = b.Seq
	}
	return out
}

func upTo(from, to uint64) []uint64 {
	var out []uint64
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

func start(t *testing.T, h *Hub) *Hub {
	t.Helper()
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return h
}

// TestInOrderSigned: every event reaches the receiver once, in order, with its fields, the
// host, a sequence number and a valid signature; a webhook that wants only some gets those.
func TestInOrderSigned(t *testing.T) {
	secret := []byte("s3cret")
	all := newReceiver(t, secret, nil)
	some := newReceiver(t, nil, nil)
	h := start(t, &Hub{Host: "box1", Webhooks: []Config{
		{URL: all.srv.URL + "/hook?token=x", Secret: secret},
		{URL: some.srv.URL, Events: []string{"destination.*", event.ChannelStopped}},
	}})
	sink := h.Sink()
	script := []event.Event{
		{Kind: event.ChannelStarted, Channel: "a"},
		{Kind: event.DestinationRecording, Channel: "a", Destination: "rtsp://s/a.sdp"},
		{Kind: event.ChannelHolding, Channel: "a"},
		{Kind: event.InputSwitched, Channel: "a", From: "source", To: "backup 1", Reason: "failed"},
		{Kind: event.DestinationFailed, Channel: "a", Destination: "rtsp://s/a.sdp", Cause: "connection lost"},
		{Kind: event.ProfileError, File: "/etc/liveinject/profiles/a.toml", Line: 3, Cause: "unknown key"},
		{Kind: event.ChannelStopped, Channel: "a"},
	}
	for range 10 {
		for _, e := range script {
			sink.Emit(e)
		}
	}
	waitFor(t, 10*time.Second, "all delivered", func() bool { return len(all.bodies()) == 70 && len(some.bodies()) == 30 })
	got := all.bodies()
	if !slices.Equal(seqs(got), upTo(1, 70)) {
		t.Fatalf("seqs %v", seqs(got))
	}
	for i, b := range got {
		want := script[i%len(script)]
		want.Time = b.Time
		if b.Event != want || b.Host != "box1" || b.Time.IsZero() {
			t.Fatalf("body %d: %+v, want %+v", i, b, want)
		}
	}
	if all.badSig != 0 {
		t.Fatalf("%d bad signatures", all.badSig)
	}
	for i, b := range some.bodies() {
		if want := []string{event.DestinationRecording, event.DestinationFailed, event.ChannelStopped}[i%3]; b.Kind != want || b.Seq != uint64(i+1) {
			t.Fatalf("filtered body %d: %s seq %d, want %s seq %d", i, b.Kind, b.Seq, want, i+1)
		}
	}
	// the receiver has the last body before its answer reaches the hub, which counts it then
	var st []Stats
	waitFor(t, 10*time.Second, "the last answer counted", func() bool {
		st = h.Stats()
		return st[0].Queued == 0
	})
	if st[0].Name != all.srv.URL+"/hook" || st[0].Deliveries[ResultOK] != 70 || !st[0].Up || st[0].LastSuccess.IsZero() {
		t.Fatalf("stats %+v", st[0])
	}
}

// TestDownThenBack: a receiver that answers 503 for a while (3 s: a 30 s outage scaled by a
// tenth, as the backoff is: 100 ms to 3 s instead of 1 s to 30 s) gets every event queued
// meanwhile once it is back, in order, within a backoff cap; meanwhile the webhook shows down
// with its error.
func TestDownThenBack(t *testing.T) {
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, nil, func(*http.Request) int {
		if down.Load() {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	h := start(t, &Hub{Webhooks: []Config{{URL: rc.srv.URL}}, RetryMin: 100 * time.Millisecond, RetryMax: 3 * time.Second})
	sink := h.Sink()
	began := time.Now()
	for i := range 50 {
		sink.Emit(event.Event{Kind: event.ChannelHolding, Channel: fmt.Sprint(i)})
		if i%10 == 0 {
			time.Sleep(50 * time.Millisecond) // events come over the outage, not all at once
		}
	}
	waitFor(t, 10*time.Second, "3 s of outage", func() bool { return time.Since(began) >= 3*time.Second })
	st := h.Stats()[0]
	if st.Up || st.Deliveries[ResultFailed] < 3 || st.LastError != "answered 503 Service Unavailable" || st.Queued != 50 || len(rc.bodies()) != 0 {
		t.Fatalf("while down: %+v, %d delivered", st, len(rc.bodies()))
	}
	down.Store(false)
	back := time.Now()
	waitFor(t, 10*time.Second, "delivered after the outage", func() bool { return len(rc.bodies()) == 50 })
	if took := time.Since(back); took > 3*time.Second+time.Second {
		t.Errorf("delivered %v after the receiver came back, want within the 3 s backoff cap", took)
	}
	for i, b := range rc.bodies() {
		if b.Seq != uint64(i+1) || b.Channel != fmt.Sprint(i) {
			t.Fatalf("body %d: seq %d channel %s", i, b.Seq, b.Channel)
		}
	}
	waitFor(t, 10*time.Second, "the last answer counted", func() bool { return h.Stats()[0].Queued == 0 })
	if st := h.Stats()[0]; !st.Up || st.Dropped != 0 {
		t.Fatalf("after: %+v", st)
	}
}

// TestRefusedThenBack: nothing listens at the webhook's address for a while (connection
// refused), then a receiver does: it gets every event in order.
func TestRefusedThenBack(t *testing.T) {
	rc := newReceiver(t, nil, nil)
	addr := rc.srv.Listener.Addr().String()
	rc.srv.Close() // the port is free: tries are refused
	h := start(t, &Hub{Webhooks: []Config{{URL: "http://" + addr}}, RetryMin: 20 * time.Millisecond, RetryMax: 100 * time.Millisecond})
	sink := h.Sink()
	for i := range 5 {
		sink.Emit(event.Event{Kind: event.ChannelLive, Channel: fmt.Sprint(i)})
	}
	waitFor(t, 5*time.Second, "refused tries", func() bool { return h.Stats()[0].Deliveries[ResultFailed] >= 3 })
	again := &receiver{t: t}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(again.serve))
	l, err := netListen(addr)
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	srv.Listener = l
	srv.Start()
	defer srv.Close()
	waitFor(t, 5*time.Second, "delivered", func() bool { return len(again.bodies()) == 5 })
	if !slices.Equal(seqs(again.bodies()), upTo(1, 5)) {
		t.Fatalf("seqs %v", seqs(again.bodies()))
	}
}

// TestHungReceiver: a receiver that never answers holds none of the Sink's callers: events keep
// being taken at once, the oldest dropped and counted, and Close returns after its grace.
func TestHungReceiver(t *testing.T) {
	release := make(chan struct{})
	rc := newReceiver(t, nil, func(r *http.Request) int {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		return http.StatusOK
	})
	defer close(release)
	h := &Hub{Webhooks: []Config{{URL: rc.srv.URL, Timeout: time.Hour}}, QueueSize: 100, Grace: 200 * time.Millisecond}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	sink := h.Sink()
	began := time.Now()
	for range 100_000 {
		sink.Emit(event.Event{Kind: event.ChannelLive, Channel: "a"})
	}
	// (a Sink that waited for the receiver would never get here; the bound is for a slow one)
	if took := time.Since(began); took > 10*time.Second {
		t.Errorf("100000 events took %v to hand over", took)
	}
	st := h.Stats()[0]
	if st.Queued != 101 && st.Queued != 100 || st.Dropped != 100_000-uint64(st.Queued) {
		t.Fatalf("%+v, want 100 queued (and one being tried) and the rest dropped", st)
	}
	began = time.Now()
	h.Close()
	if took := time.Since(began); took > 2*time.Second {
		t.Errorf("Close took %v, want its 200 ms grace", took)
	}
	if st := h.Stats()[0]; st.Queued != 0 || st.Dropped != 100_000 {
		t.Fatalf("after Close: %+v", st)
	}
}

// TestOverflowDropsOldest: with the first event stuck at the receiver, a full queue drops its
// oldest: the receiver then gets the first and the newest, in order, and the seq gap shows the
// drop.
func TestOverflowDropsOldest(t *testing.T) {
	inFlight, release := make(chan struct{}, 1), make(chan struct{})
	var first atomic.Bool
	rc := newReceiver(t, nil, func(*http.Request) int {
		if !first.Swap(true) {
			inFlight <- struct{}{}
			<-release
		}
		return http.StatusOK
	})
	h := start(t, &Hub{Webhooks: []Config{{URL: rc.srv.URL}}, QueueSize: 5})
	sink := h.Sink()
	sink.Emit(event.Event{Kind: event.ChannelStarted})
	<-inFlight
	for range 10 {
		sink.Emit(event.Event{Kind: event.ChannelLive})
	}
	if st := h.Stats()[0]; st.Dropped != 5 || st.Queued != 6 {
		t.Fatalf("%+v, want 5 dropped, 5 queued and 1 being tried", st)
	}
	close(release)
	waitFor(t, 5*time.Second, "delivered", func() bool { return len(rc.bodies()) == 6 })
	if got := seqs(rc.bodies()); !slices.Equal(got, []uint64{1, 7, 8, 9, 10, 11}) {
		t.Fatalf("seqs %v, want 1 and 7..11", got)
	}
}

// TestRejectedNotRetried: a 4xx answer is the receiver refusing that event: the next goes on.
func TestRejectedNotRetried(t *testing.T) {
	var n atomic.Int32
	rc := newReceiver(t, nil, func(*http.Request) int {
		if n.Add(1) == 1 {
			return http.StatusBadRequest
		}
		return http.StatusOK
	})
	h := start(t, &Hub{Webhooks: []Config{{URL: rc.srv.URL}}})
	sink := h.Sink()
	sink.Emit(event.Event{Kind: event.ChannelStarted})
	sink.Emit(event.Event{Kind: event.ChannelStopped})
	waitFor(t, 5*time.Second, "the second delivered", func() bool { return len(rc.bodies()) == 1 })
	if b := rc.bodies()[0]; b.Kind != event.ChannelStopped || b.Seq != 2 {
		t.Fatalf("got %+v", b)
	}
	if st := h.Stats()[0]; st.Deliveries[ResultRejected] != 1 || st.Deliveries[ResultOK] != 1 || !st.Up {
		t.Fatalf("%+v", st)
	}
}

// TestCloseDeliversQueued: what is queued when Close is called is delivered within the grace.
func TestCloseDeliversQueued(t *testing.T) {
	rc := newReceiver(t, nil, nil)
	h := &Hub{Webhooks: []Config{{URL: rc.srv.URL}}}
	if err := h.Initialize(); err != nil {
		t.Fatal(err)
	}
	sink := h.Sink()
	for range 20 {
		sink.Emit(event.Event{Kind: event.ChannelStopped})
	}
	h.Close()
	if got := len(rc.bodies()); got != 20 {
		t.Fatalf("%d delivered before Close returned, want 20", got)
	}
	sink.Emit(event.Event{Kind: event.ChannelStopped}) // after Close: dropped, no panic
}

func TestCheckEvents(t *testing.T) {
	for _, tc := range []struct {
		events []string
		ok     bool
	}{
		{nil, true},
		{[]string{"channel.started", "profile.error"}, true},
		{[]string{"channel.*", "destination.*", "alarm.*"}, true},
		{[]string{"channel.start"}, false},
		{[]string{"chan.*"}, false},
		{[]string{"*"}, false},
		{[]string{""}, false},
	} {
		if err := CheckEvents(tc.events); (err == nil) != tc.ok {
			t.Errorf("%q: %v", tc.events, err)
		}
	}
	for _, tc := range []struct {
		events []string
		kind   string
		want   bool
	}{
		{nil, event.AlarmRaised, true},
		{[]string{"channel.*"}, event.ChannelHolding, true},
		{[]string{"channel.*"}, event.DestinationFailed, false},
		{[]string{event.DestinationFailed}, event.DestinationFailed, true},
	} {
		if got := Matches(tc.events, tc.kind); got != tc.want {
			t.Errorf("Matches(%q, %s) = %v", tc.events, tc.kind, got)
		}
	}
}

func TestInitializeRefuses(t *testing.T) {
	for _, c := range []Config{
		{URL: "ftp://x/"},
		{URL: "http://127.0.0.1:1/", Events: []string{"nope"}},
	} {
		h := &Hub{Webhooks: []Config{c}}
		if err := h.Initialize(); err == nil {
			h.Close()
			t.Errorf("%+v: no error", c)
		}
	}
}

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

// TestSignatureMatchesOpenSSL: the signature is what the README's openssl check computes from
// the secret file and the body as received.
func TestSignatureMatchesOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	body := []byte(`{"event":"channel.started","time":"2026-12-04T10:00:00Z","channel":"lobby","seq":1,"host":"box1"}`)
	if err := os.WriteFile(filepath.Join(dir, "webhook.secret"), []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "body.json"), body, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `echo "sha256=$(openssl dgst -sha256 -hmac "$(cat webhook.secret)" < body.json | awk '{print $NF}')"`)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.TrimSpace(string(out)), Sign([]byte("k3y"), body); got != want {
		t.Errorf("openssl says %s, Sign %s", got, want)
	}
}
