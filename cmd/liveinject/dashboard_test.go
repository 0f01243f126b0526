package main

import (
	"bytes"
	"encoding/json"
	"image/jpeg"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/internal/fftest"
)

// do sends a request on a connection of its own and returns the status code, the headers and the
// body.
func do(t *testing.T, method, url string, header http.Header) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, b
}

// TestDashboard runs the test channel into the built-in relay and reads the page, its assets,
// the history, the thumbnails and the new metrics.
func TestDashboard(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	base := "http://" + r.inst.httpAddr

	t.Run("page", func(t *testing.T) {
		code, h, body := do(t, "GET", base+"/", nil)
		if code != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") ||
			!bytes.Contains(body, []byte(`<script src="/assets/app.js"`)) {
			t.Errorf("GET /: %d %s\n%s", code, h.Get("Content-Type"), body)
		}
		if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
			t.Errorf("GET /: Content-Security-Policy %q", csp)
		}
		for path, typ := range map[string]string{"/assets/app.js": "javascript", "/assets/style.css": "text/css"} {
			code, h, body := do(t, "GET", base+path, nil)
			if code != http.StatusOK || !strings.Contains(h.Get("Content-Type"), typ) || len(body) == 0 {
				t.Errorf("GET %s: %d %s, %d bytes", path, code, h.Get("Content-Type"), len(body))
			}
			// nothing is fetched from anywhere but the box (SVG's namespace is a name, not a fetch)
			if rest := bytes.ReplaceAll(body, []byte(`"http://www.w3.org/2000/svg"`), nil); bytes.Contains(rest, []byte("://")) {
				t.Errorf("%s names another site", path)
			}
		}
		for _, path := range []string{"/nothing-here", "/assets/", "/assets/nothing.js"} {
			if code, _, _ := do(t, "GET", base+path, nil); code != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, code)
			}
		}
	})

	waitSent(t, r, 0)
	fftest.WaitFor(t, 20*time.Second, "a keyframe", func() bool {
		_, _, ok := r.inst.sup.Keyframe("test")
		return ok
	})
	decodes := func() float64 {
		t.Helper()
		v, ok := value(scrape(t, r), "liveinject_thumbnail_decodes_total", dto.MetricType_COUNTER, map[string]string{})
		if !ok {
			t.Fatal("no liveinject_thumbnail_decodes_total")
		}
		return v
	}

	t.Run("20 concurrent thumbnails, one decode", func(t *testing.T) {
		if n := decodes(); n != 0 {
			t.Fatalf("%v decodes before anyone asked for a thumbnail", n)
		}
		var wg sync.WaitGroup
		bodies := make([][]byte, 20)
		codes := make([]int, 20)
		for i := range codes {
			wg.Go(func() { codes[i], _, bodies[i] = do(t, "GET", base+"/channels/test/thumbnail.jpg", nil) })
		}
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusOK || !bytes.Equal(bodies[i], bodies[0]) {
				t.Errorf("request %d: %d, %d bytes; want 200 and the same JPEG as the first", i, c, len(bodies[i]))
			}
		}
		n := decodes()
		t.Logf("ffmpeg decodes for 20 concurrent thumbnail requests: %v", n)
		if n != 1 {
			t.Errorf("%v decodes for 20 concurrent requests, want 1", n)
		}
	})

	t.Run("thumbnail", func(t *testing.T) {
		url := base + "/channels/test/thumbnail.jpg"
		code, h, body := do(t, "GET", url, nil)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %s", url, code, body)
		}
		img, err := jpeg.Decode(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: not a JPEG: %v (%s, %d bytes)", url, err, h.Get("Content-Type"), len(body))
		}
		if got := img.Bounds().Size(); got.X != 320 || got.Y != 180 || h.Get("Content-Type") != "image/jpeg" {
			t.Errorf("thumbnail %v %s, want a 320x180 image/jpeg", got, h.Get("Content-Type"))
		}
		t.Logf("thumbnail of the 1280x720 channel: %dx%d, %d bytes", img.Bounds().Dx(), img.Bounds().Dy(), len(body))
		// within thumbnailMaxAge of the decode above, the cache answers
		if n := decodes(); n != 1 {
			t.Errorf("%v decodes after a second request within %v, want 1", n, thumbnailMaxAge)
		}

		code, _, body = do(t, "GET", base+"/channels/nope/thumbnail.jpg", nil)
		if code != http.StatusNotFound || !strings.Contains(string(body), "no channel nope") {
			t.Errorf("thumbnail of an unknown channel: %d %s", code, body)
		}
	})

	t.Run("history", func(t *testing.T) {
		var hr historyReport
		fftest.WaitFor(t, 10*time.Second, "a sample in /history", func() bool {
			code, _, body := do(t, "GET", base+"/history", nil)
			if code != http.StatusOK {
				t.Fatalf("/history: %d %s", code, body)
			}
			if err := json.Unmarshal(body, &hr); err != nil {
				t.Fatal(err)
			}
			return len(hr.Channels["test"]) > 0
		})
		p := hr.Channels["test"][len(hr.Channels["test"])-1]
		if hr.IntervalSeconds != historyInterval.Seconds() || p.FPS <= 0 || p.FPS > 60 || p.Kbps <= 0 {
			t.Errorf("history %+v, last sample %+v: want frames (25 fps when the box keeps up) and some kbit/s", hr.IntervalSeconds, p)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		families := scrape(t, r)
		ch := map[string]string{"channel": "test"}
		dest := map[string]string{"channel": "test", "destination": "rtsp://liveinject:xxxxx@" + r.inst.relayAddr + "/test.sdp"}
		with := func(m map[string]string, k, v string) map[string]string {
			out := map[string]string{k: v}
			for a, b := range m {
				out[a] = b
			}
			return out
		}
		now := float64(time.Now().UnixNano()) / 1e9
		for _, m := range []struct {
			name   string
			typ    dto.MetricType
			labels map[string]string
			check  func(float64) bool
		}{
			{"liveinject_channel_state", dto.MetricType_GAUGE, with(ch, "state", "running"), is(1)},
			{"liveinject_channel_state", dto.MetricType_GAUGE, with(ch, "state", "backoff"), is(0)},
			{"liveinject_channel_state", dto.MetricType_GAUGE, with(ch, "state", "error"), is(0)},
			{"liveinject_channel_demux_errors_total", dto.MetricType_COUNTER, ch, is(0)},
			{"liveinject_channel_holding", dto.MetricType_GAUGE, ch, is(0)},
			{"liveinject_channel_bitrate_bits_per_second", dto.MetricType_GAUGE, ch, positive},
			{"liveinject_channel_last_frame_timestamp_seconds", dto.MetricType_GAUGE, ch,
				func(v float64) bool { return v > now-10 && v <= now+1 }},
			{"liveinject_destination_state", dto.MetricType_GAUGE, with(dest, "state", "recording"), is(1)},
			{"liveinject_destination_state", dto.MetricType_GAUGE, with(dest, "state", "backoff"), is(0)},
			{"liveinject_destination_sent_bytes_total", dto.MetricType_COUNTER, dest, positive},
			{"liveinject_destination_queued_frames", dto.MetricType_GAUGE, dest, nil},
			{"liveinject_thumbnail_decodes_total", dto.MetricType_COUNTER, map[string]string{}, positive},
		} {
			v, ok := value(families, m.name, m.typ, m.labels)
			if !ok {
				t.Errorf("no %s %v of type %v", m.name, m.labels, m.typ)
			} else if m.check != nil && !m.check(v) {
				t.Errorf("%s %v = %v", m.name, m.labels, v)
			}
		}
	})
}

// TestThumbnailWithoutKeyframe asks for the picture of a channel whose ffmpeg never delivers one:
// 404 with the reason, and no decode.
func TestThumbnailWithoutKeyframe(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp")
	dark := "[source]\nkind = \"file\"\npath = \"missing.mp4\"\n[[destination]]\nurl = \"rtsp://{relay}/dark.sdp\"\n"
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "profiles", "dark.toml"), []byte(dark), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)
	fftest.WaitFor(t, 20*time.Second, "channel dark to fail", func() bool {
		for _, c := range getStatusReport(t, r).Channels {
			if c.Name == "dark" && c.FFmpegStarts > 0 && c.State == "backoff" {
				return true
			}
		}
		return false
	})
	code, _, body := do(t, "GET", "http://"+r.inst.httpAddr+"/channels/dark/thumbnail.jpg", nil)
	if code != http.StatusNotFound || !strings.Contains(string(body), "channel dark has no keyframe yet") {
		t.Errorf("thumbnail of a channel without a picture: %d %s, want 404 and the reason", code, body)
	}
	if v, _ := value(scrape(t, r), "liveinject_thumbnail_decodes_total", dto.MetricType_COUNTER, map[string]string{}); v != 0 {
		t.Errorf("%v decodes for a channel without a keyframe", v)
	}
}
