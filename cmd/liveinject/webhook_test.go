package main

import (
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/webhook"
)

// hookReceiver is a loopback webhook receiver that keeps the bodies it takes, each checked
// against its signature.
type hookReceiver struct {
	t      *testing.T
	secret []byte
	srv    *httptest.Server
	mu     sync.Mutex
	got    []webhook.Body
}

func newHookReceiver(t *testing.T, secret []byte) *hookReceiver {
	h := &hookReceiver{t: t, secret: secret}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		sig := r.Header.Get(webhook.SignatureHeader)
		if h.secret == nil && sig != "" || h.secret != nil && !hmac.Equal([]byte(sig), []byte(webhook.Sign(h.secret, data))) {
			h.t.Errorf("signature %q does not match the body %s", sig, data)
		}
		var b webhook.Body
		if err := json.Unmarshal(data, &b); err != nil {
			h.t.Errorf("body %s: %v", data, err)
		}
		h.mu.Lock()
		h.got = append(h.got, b)
		h.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hookReceiver) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.got {
		out = append(out, b.Kind)
	}
	return out
}

func (h *hookReceiver) bodies() []webhook.Body {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// TestRunWebhooks runs a channel of real ffmpeg into the built-in relay with two webhooks: one
// that answers, and one that never does. The one that answers gets, in order and signed, the
// channel starting, its destination recording, the hold when ffmpeg is SIGSTOPped, live again
// after SIGCONT, a profile error, and the channel stopping with liveinject. The one that never
// answers holds nothing up: the channel keeps its frame rate and its destination drops nothing,
// and /status and /metrics show it failing.
func TestRunWebhooks(t *testing.T) {
	fftest.Require(t)
	secret := []byte("hook-secret")
	good := newHookReceiver(t, secret)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck // read, so that the server sees the client hang up
		<-r.Context().Done()
	}))
	defer hung.Close()
	profile := `hold = "500ms"
slate = "off"
[source]
kind = "testsrc"
[ffmpeg]
stall_timeout = "1m"
[video]
size = "640x360"
fps = 25
gop = "1s"
[[destination]]
url = "rtsp://{relay}/test.sdp"
`
	main := relayAny + httpAnyPort + fmt.Sprintf(`[[webhook]]
url = %q
secret_file = "hook.secret"
[[webhook]]
name = "hung"
url = %q
timeout = "1s"
`, good.srv.URL+"/hook", hung.URL)
	config := writeProfileConfig(t, main, profile)
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "hook.secret"), append(secret, '\n'), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)

	// the return check plays the relay's path back: verified after recording
	fftest.WaitFor(t, 30*time.Second, "started, recording and verified", func() bool {
		return slices.Equal(good.kinds(), []string{event.ChannelStarted, event.DestinationRecording,
			event.DestinationVerified})
	})
	// 4 s of frames with the hung webhook failing all along: the channel keeps its rate
	var before statusReport
	fftest.WaitFor(t, 10*time.Second, "frames", func() bool {
		before = getStatusReport(t, r)
		return before.Channels[0].Frames > 25
	})
	began := time.Now()
	fftest.WaitFor(t, 10*time.Second, "4 s", func() bool { return time.Since(began) > 4*time.Second })
	after := getStatusReport(t, r)
	rate := float64(after.Channels[0].Frames-before.Channels[0].Frames) / time.Since(began).Seconds()
	if d := after.Channels[0].Destinations[0]; rate < 22 || d.PacketsDropped != 0 || d.State != "recording" {
		t.Errorf("%.1f frames per second, destination %+v: want 25 and nothing dropped, whatever the webhook", rate, d)
	}
	if h := after.Webhooks[1]; h.Name != "hung" || h.Up || h.Queued == 0 || h.LastError == "" {
		t.Errorf("the hung webhook in /status: %+v, want failing with its events queued", h)
	}
	if h := after.Webhooks[0]; h.Name != good.srv.URL+"/hook" || !h.Up || h.Deliveries[webhook.ResultOK] != 3 {
		t.Errorf("the good webhook in /status: %+v", h)
	}
	families := scrape(t, r)
	if v, ok := value(families, "liveinject_webhook_up", dto.MetricType_GAUGE, map[string]string{"webhook": "hung"}); !ok || v != 0 {
		t.Errorf("liveinject_webhook_up of the hung webhook: %v %v, want 0", v, ok)
	}
	if v, ok := value(families, "liveinject_webhook_deliveries_total", dto.MetricType_COUNTER,
		map[string]string{"webhook": good.srv.URL + "/hook", "result": "ok"}); !ok || v != 3 {
		t.Errorf("deliveries of the good webhook: %v %v, want 3", v, ok)
	}

	pid := after.Channels[0].FFmpegPID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "holding", func() bool { return len(good.kinds()) == 4 })
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 20*time.Second, "live", func() bool { return len(good.kinds()) == 5 })

	// a mistake in the profile: told with its file and line, the channel kept
	profilePath := filepath.Join(filepath.Dir(config), "profiles", "test.toml")
	if err := os.WriteFile(profilePath, []byte("bogus = 1\n"+profile), 0o644); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 10*time.Second, "profile error", func() bool { return len(good.kinds()) == 6 })

	r.stop(t)
	want := []string{event.ChannelStarted, event.DestinationRecording, event.DestinationVerified,
		event.ChannelHolding, event.ChannelLive, event.ProfileError, event.ChannelStopped}
	if got := good.kinds(); !slices.Equal(got, want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	host, _ := os.Hostname()
	for i, b := range good.bodies() {
		if b.Seq != uint64(i+1) || b.Host != host || b.Time.IsZero() {
			t.Errorf("body %d: %+v", i, b)
		}
		switch b.Kind {
		case event.ProfileError:
			if b.File != profilePath || b.Line != 1 || b.Channel != "test" || b.Cause != `unknown key "bogus"` {
				t.Errorf("profile error %+v", b)
			}
		case event.DestinationRecording:
			if b.Destination != "rtsp://liveinject:xxxxx@"+r.inst.relayAddr+"/test.sdp" || b.Channel != "test" {
				t.Errorf("recording %+v", b)
			}
		case event.ChannelStopped:
			if b.Cause != "liveinject stopped" || b.Channel != "test" {
				t.Errorf("stopped %+v", b)
			}
		default:
			if b.Channel != "test" {
				t.Errorf("%+v", b)
			}
		}
	}
}

// TestDashboardWebhooksInBrowser: a webhook whose receiver refuses shows in the dashboard, with
// its queue and its error; one that works does not.
func TestDashboardWebhooksInBrowser(t *testing.T) {
	fftest.Require(t)
	browser := chromium(t)
	good := newHookReceiver(t, nil)
	gone := httptest.NewServer(http.NotFoundHandler())
	refused := gone.URL
	gone.Close() // nothing listens there any more: tries are refused
	main := relayAny + httpAnyPort + fmt.Sprintf("[[webhook]]\nurl = %q\n[[webhook]]\nname = \"pager\"\nurl = %q\n", good.srv.URL, refused)
	r := startRun(t, writeConfig(t, main, "rtsp://{relay}/test.sdp"))
	waitSent(t, r, 0)

	b := openBrowser(t, browser)
	b.do("open the dashboard", chromedp.Navigate("http://"+r.inst.httpAddr+"/"))
	shown := b.poll("the failing webhook", `(() => {
		const s = document.getElementById("webhooks"), li = s.querySelectorAll("li");
		return !s.hidden && li.length === 1 && li[0].textContent.startsWith("pager: ") &&
			li[0].textContent.includes("connection refused") ? li[0].textContent : false;
	})()`)
	t.Logf("the dashboard shows: %v", shown)
	b.screenshot("dashboard-webhooks.png")
}

// TestRunWebhookReceiverDown: a receiver that answers 503 while the channel starts gets the
// events queued meanwhile once it answers again, in order. The outage is 3 s and the backoff a
// tenth of run's (100 ms to 3 s, set through configureWebhooks): a 30 s outage scaled down, as
// what is tested is the queue across the outage, not its length.
func TestRunWebhookReceiverDown(t *testing.T) {
	fftest.Require(t)
	var mu sync.Mutex
	down := true
	good := newHookReceiver(t, nil)
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		isDown := down
		mu.Unlock()
		if isDown {
			io.Copy(io.Discard, r.Body) //nolint:errcheck
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		good.srv.Config.Handler.ServeHTTP(w, r)
	}))
	defer flaky.Close()
	// the return check's events, which come when it has played the stream back, are not asked
	// for: the events queued in the outage are known
	main := relayAny + httpAnyPort + fmt.Sprintf("[[webhook]]\nurl = %q\nevents = [\"channel.*\", \"destination.recording\", \"destination.failed\"]\n", flaky.URL)
	r := startRun(t, writeConfig(t, main, "rtsp://{relay}/test.sdp"), func(m *Main) {
		m.configureWebhooks = func(h *webhook.Hub) { h.RetryMin, h.RetryMax = 100*time.Millisecond, 3*time.Second }
	})
	waitSent(t, r, 0)
	began := time.Now()
	fftest.WaitFor(t, 10*time.Second, "3 s of outage", func() bool { return time.Since(began) > 3*time.Second })
	if st := getStatusReport(t, r).Webhooks[0]; st.Up || st.Queued != 2 || st.Deliveries[webhook.ResultFailed] < 3 {
		t.Errorf("while the receiver is down: %+v, want failing with 2 events queued", st)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	fftest.WaitFor(t, 10*time.Second, "the queued events", func() bool { return len(good.kinds()) == 2 })
	if got := good.kinds(); !slices.Equal(got, []string{event.ChannelStarted, event.DestinationRecording}) {
		t.Errorf("events %q", got)
	}
	for i, b := range good.bodies() {
		if b.Seq != uint64(i+1) {
			t.Errorf("body %d: seq %d", i, b.Seq)
		}
	}
	if st := getStatusReport(t, r).Webhooks[0]; !st.Up || st.Queued != 0 || st.Dropped != 0 {
		t.Errorf("after: %+v", st)
	}
}
