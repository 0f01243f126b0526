package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
	"github.com/liveinject/liveinject/supervisor"
)

// get GETs url on a connection of its own and returns the status code and the body; userPassword,
// when given, is the basic auth user and password.
func get(t *testing.T, url string, userPassword ...string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(userPassword) == 2 {
		req.SetBasicAuth(userPassword[0], userPassword[1])
	}
	// No keep-alive: no idle connection outlives the test for goleak to find.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// getStatusReport reads the instance's /status.
func getStatusReport(t *testing.T, r *running) statusReport {
	t.Helper()
	code, body := get(t, "http://"+r.inst.httpAddr+"/status")
	if code != http.StatusOK {
		t.Fatalf("/status: %d %s", code, body)
	}
	var s statusReport
	if err := json.Unmarshal([]byte(body), &s); err != nil {
		t.Fatalf("/status: %v\n%s", err, body)
	}
	return s
}

// waitSent waits until every destination of every channel has sent more than n packets, as
// /status says, and returns that status.
func waitSent(t *testing.T, r *running, n uint64) statusReport {
	t.Helper()
	var s statusReport
	fftest.WaitFor(t, 30*time.Second, fmt.Sprintf("more than %d packets sent", n), func() bool {
		s = getStatusReport(t, r)
		if len(s.Channels) == 0 {
			return false
		}
		for _, c := range s.Channels {
			if len(c.Destinations) == 0 {
				return false
			}
			for _, d := range c.Destinations {
				if d.PacketsSent <= n {
					return false
				}
			}
		}
		return true
	})
	return s
}

// hasKeys reports as errors the keys of want that m lacks.
func hasKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	for _, k := range want {
		if _, ok := m[k]; !ok {
			t.Errorf("%s lacks %q: %v", what, k, m)
		}
	}
}

// TestHTTPStatusAndMetrics streams the test channel into the built-in relay and reads /status
// and /metrics while it runs; a broken profile shows up in both.
func TestHTTPStatusAndMetrics(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp")
	r := startRun(t, config)
	r.stderr.WaitFor(t, "msg=\"http listening\" component=http address="+r.inst.httpAddr)
	first := waitSent(t, r, 0)
	// pushing to the built-in relay, it authenticates as liveinject
	dest := "rtsp://liveinject:xxxxx@" + r.inst.relayAddr + "/test.sdp"

	t.Run("status", func(t *testing.T) {
		_, body := get(t, "http://"+r.inst.httpAddr+"/status")
		var raw map[string]any
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatalf("%v\n%s", err, body)
		}
		hasKeys(t, "status", raw, "version", "revision", "started", "uptime_seconds", "channels", "relay", "profile_errors")
		ch := raw["channels"].([]any)[0].(map[string]any)
		hasKeys(t, "channel", ch, "name", "file", "state", "since", "state_seconds", "ffmpeg_pid", "ffmpeg_starts",
			"stalls", "frames", "demux_errors", "progress", "cause", "last_cause", "last_cause_at", "last_stderr", "retry_at", "destinations", "alarms", "record")
		if rec, ok := ch["record"]; !ok || rec != nil {
			t.Errorf("record %v, want null: the channel's profile has no [record]", rec)
		}
		hasKeys(t, "progress", ch["progress"].(map[string]any), "frame", "fps", "bitrate_kbps", "speed", "drop_frames", "dup_frames")
		hasKeys(t, "destination", ch["destinations"].([]any)[0].(map[string]any),
			"url", "kind", "state", "transport", "connected_since", "retry_at", "reconnects", "last_error", "last_error_at", "packets_sent",
			"packets_dropped", "bytes_sent", "queue_depth", "bytes_waiting", "stalled_since", "verify")
		rl := raw["relay"].(map[string]any)
		hasKeys(t, "relay", rl, "address", "paths")
		hasKeys(t, "relay path", rl["paths"].([]any)[0].(map[string]any), "path", "publishing", "readers", "checks", "packets_received")

		c := first.Channels[0]
		if c.Name != "test" || c.State != "running" || c.FFmpegPID == 0 || c.FFmpegStarts != 1 || c.Frames == 0 ||
			!strings.HasSuffix(c.File, "test.toml") || c.Since == nil {
			t.Errorf("channel %+v, want test running with one ffmpeg start", c)
		}
		if d := c.Destinations; len(d) != 1 || d[0].URL != dest || d[0].Kind != "rtsp" || d[0].State != "recording" {
			t.Errorf("destinations %+v, want %s, of kind rtsp, recording", d, dest)
		}
		if first.Relay == nil || first.Relay.Address != r.inst.relayAddr ||
			!slices.ContainsFunc(first.Relay.Paths, func(p pathReport) bool { return p.Path == "test.sdp" && p.Publishing }) {
			t.Errorf("relay %+v, want test.sdp published", first.Relay)
		}
		if first.Version == "" || first.UptimeSeconds <= 0 || len(first.ProfileErrors) != 0 {
			t.Errorf("status %+v, want a version, an uptime and no profile errors", first)
		}
		waitSent(t, r, first.Channels[0].Destinations[0].PacketsSent)
	})

	// The return check plays the relay's path back: verified, with the relay's delay, within
	// 10 s of the first RECORD; it is no viewer of the relay's.
	t.Run("return check", func(t *testing.T) {
		var d destinationReport
		fftest.WaitFor(t, 15*time.Second, "verified", func() bool {
			d = getStatusReport(t, r).Channels[0].Destinations[0]
			return d.Verify.State == "verified"
		})
		if d.ConnectedSince == nil || d.Verify.Since == nil || d.Verify.Since.Sub(*d.ConnectedSince) > 10*time.Second ||
			d.Verify.ServerDelaySeconds == nil || *d.Verify.ServerDelaySeconds <= 0 || d.Verify.Cause != "" {
			t.Errorf("verify %+v of a destination recording since %v: want verified within 10 s, with a delay",
				d.Verify, d.ConnectedSince)
		}
		st := getStatusReport(t, r)
		if i := slices.IndexFunc(st.Relay.Paths, func(p pathReport) bool { return p.Path == "test.sdp" }); i < 0 ||
			st.Relay.Paths[i].Checks != 1 || st.Relay.Paths[i].Readers != 0 {
			t.Errorf("relay paths %+v, want test.sdp with one return check and no reader", st.Relay.Paths)
		}
	})

	t.Run("metrics", func(t *testing.T) {
		families := scrape(t, r)
		chLabels := map[string]string{"channel": "test"}
		destLabels := map[string]string{"channel": "test", "destination": dest}
		for _, m := range []struct {
			name   string
			typ    dto.MetricType
			labels map[string]string
			check  func(float64) bool
		}{
			{"liveinject_build_info", dto.MetricType_GAUGE, map[string]string{"version": first.Version, "revision": first.Revision}, is(1)},
			{"liveinject_channel_up", dto.MetricType_GAUGE, chLabels, is(1)},
			{"liveinject_channel_ffmpeg_starts_total", dto.MetricType_COUNTER, chLabels, is(1)},
			{"liveinject_channel_stalls_total", dto.MetricType_COUNTER, chLabels, is(0)},
			{"liveinject_channel_frames_total", dto.MetricType_COUNTER, chLabels, positive},
			{"liveinject_channel_fps", dto.MetricType_GAUGE, chLabels, nil},
			{"liveinject_channel_speed", dto.MetricType_GAUGE, chLabels, nil},
			{"liveinject_channel_alarm", dto.MetricType_GAUGE, map[string]string{"channel": "test", "alarm": "black"}, is(0)},
			{"liveinject_destination_info", dto.MetricType_GAUGE, map[string]string{"channel": "test", "destination": dest, "kind": "rtsp"}, is(1)},
			{"liveinject_destination_up", dto.MetricType_GAUGE, destLabels, is(1)},
			{"liveinject_destination_packets_sent_total", dto.MetricType_COUNTER, destLabels, positive},
			{"liveinject_destination_packets_dropped_total", dto.MetricType_COUNTER, destLabels, nil},
			{"liveinject_destination_reconnects_total", dto.MetricType_COUNTER, destLabels, is(0)},
			{"liveinject_destination_verified", dto.MetricType_GAUGE, destLabels, is(1)},
			{"liveinject_destination_server_delay_seconds", dto.MetricType_GAUGE, destLabels, positive},
			{"liveinject_relay_readers", dto.MetricType_GAUGE, map[string]string{"path": "test.sdp"}, is(0)},
			{"liveinject_relay_packets_received_total", dto.MetricType_COUNTER, map[string]string{"path": "test.sdp"}, positive},
			{"liveinject_profile_errors", dto.MetricType_GAUGE, map[string]string{}, is(0)},
			{"go_goroutines", dto.MetricType_GAUGE, map[string]string{}, positive},
			{"process_cpu_seconds_total", dto.MetricType_COUNTER, map[string]string{}, nil},
		} {
			v, ok := value(families, m.name, m.typ, m.labels)
			if !ok {
				t.Errorf("no %s %v of type %v", m.name, m.labels, m.typ)
			} else if m.check != nil && !m.check(v) {
				t.Errorf("%s %v = %v", m.name, m.labels, v)
			}
		}
		// what the destinations' counters count, for every kind
		for name, want := range map[string]string{
			"liveinject_destination_packets_sent_total":    "frames",
			"liveinject_destination_packets_dropped_total": "frames",
			"liveinject_destination_sent_bytes_total":      "srt",
		} {
			if help := families[name].GetHelp(); !strings.Contains(help, want) {
				t.Errorf("%s's help %q does not mention %s", name, help, want)
			}
		}
	})

	t.Run("profile errors", func(t *testing.T) {
		bad := filepath.Join(filepath.Dir(config), "profiles", "bad.toml")
		if err := os.WriteFile(bad, []byte("[source]\nkind = \"testsrc\"\nbogus = 1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		fftest.WaitFor(t, 10*time.Second, "the broken profile in /status", func() bool {
			return slices.ContainsFunc(getStatusReport(t, r).ProfileErrors, func(e string) bool {
				return strings.HasSuffix(e, "bad.toml:3: unknown key \"source.bogus\"")
			})
		})
		if v, _ := value(scrape(t, r), "liveinject_profile_errors", dto.MetricType_GAUGE, nil); v == 0 {
			t.Errorf("liveinject_profile_errors is 0 with a broken profile")
		}
	})
}

func is(want float64) func(float64) bool { return func(v float64) bool { return v == want } }

func positive(v float64) bool { return v > 0 }

// scrape reads /metrics with Prometheus' own text parser.
func scrape(t *testing.T, r *running) map[string]*dto.MetricFamily {
	t.Helper()
	code, body := get(t, "http://"+r.inst.httpAddr+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d %s", code, body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("/metrics does not parse: %v\n%s", err, body)
	}
	return families
}

// value returns the value of the metric of family name whose labels are labels (all of them).
func value(families map[string]*dto.MetricFamily, name string, typ dto.MetricType, labels map[string]string) (float64, bool) {
	f := families[name]
	if f == nil || f.GetType() != typ {
		return 0, false
	}
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(labels) != len(got) {
			continue
		}
		match := true
		for k, v := range labels {
			match = match && got[k] == v
		}
		if !match {
			continue
		}
		switch typ {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue(), true
		default:
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// startRelay starts a relay of the test's own on a free port; close closes it once.
func startRelay(t *testing.T) (rl *relay.Server, close func()) {
	t.Helper()
	rl = &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	close = sync.OnceFunc(rl.Close)
	t.Cleanup(close)
	return rl, close
}

// TestHealthz pushes to the built-in relay and to a second one: healthy while both record, and
// 503 naming the destination once the second relay is gone.
func TestHealthz(t *testing.T) {
	fftest.Require(t)
	second, closeSecond := startRelay(t)
	secondURL := "rtsp://" + second.Addr() + "/second.sdp"
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp", secondURL))
	health := "http://" + r.inst.httpAddr + "/healthz"

	var code int
	var body string
	fftest.WaitFor(t, 30*time.Second, "healthy", func() bool {
		code, body = get(t, health)
		return code == http.StatusOK
	})
	if body != "ok\n" {
		t.Errorf("healthy body %q, want ok", body)
	}

	closeSecond()
	fftest.WaitFor(t, 20*time.Second, "unhealthy", func() bool {
		code, body = get(t, health)
		return code == http.StatusServiceUnavailable
	})
	if want := "channel test destination " + secondURL + ": "; !strings.HasPrefix(body, want) ||
		strings.Count(body, "\n") != 1 {
		t.Errorf("unhealthy body %q, want one line starting %q", body, want)
	}
}

// TestStalledDestinationUnhealthy: a destination whose server stopped reading fails /healthz
// as one that lost its server does, with the words of its cause.
func TestStalledDestinationUnhealthy(t *testing.T) {
	got := unhealthy([]supervisor.Status{{Name: "lobby", State: supervisor.StateRunning,
		Destinations: []inject.Stats{{URL: "rtsp://dss/lobby.sdp", State: inject.StateStalled,
			LastError: "the server is not reading what is sent: 1000 bytes wait"}}}})
	want := "channel lobby destination rtsp://dss/lobby.sdp: stalled: the server is not reading what is sent: 1000 bytes wait"
	if len(got) != 1 || got[0] != want {
		t.Errorf("unhealthy: %q, want %q", got, want)
	}
}

// TestHealthzAtStart asks /healthz as soon as run serves it, before the supervisor has started
// the channel: a box that has just come up is not healthy until its channels run (it answered
// 200 ok, with no channel to judge).
func TestHealthzAtStart(t *testing.T) {
	fftest.Require(t)
	type answer struct {
		code int
		body string
		err  error
	}
	atReady := make(chan answer, 1)
	startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"), func(m *Main) {
		ready := m.onReady
		m.onReady = func(inst *instance) {
			// run's goroutine waits for this: the channel's goroutines have not started
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
			var a answer
			var resp *http.Response
			if resp, a.err = client.Get("http://" + inst.httpAddr + "/healthz"); a.err == nil {
				var b []byte
				b, a.err = io.ReadAll(resp.Body)
				resp.Body.Close()
				a.code, a.body = resp.StatusCode, string(b)
			}
			atReady <- a
			ready(inst)
		}
	})
	a := <-atReady
	if a.err != nil || a.code != http.StatusServiceUnavailable || a.body != "channels: starting\n" {
		t.Errorf("/healthz at start: %d %q, %v; want 503 and the channels starting", a.code, a.body, a.err)
	}
}

// TestHealthzWithoutChannels asks /healthz of a box whose profiles all fail to load: 503, its
// first line saying that no channel runs and why, where it began with the first profile error
// as if a channel were merely degraded; and of a box with no profile at all: 200, nothing is
// wrong with it.
func TestHealthzWithoutChannels(t *testing.T) {
	fftest.Require(t)
	for _, tc := range []struct {
		name     string
		profiles map[string]string
		code     int
		first    string // the body's first line
	}{
		{"no profile", nil, http.StatusOK, "ok"},
		{"every profile broken", map[string]string{
			"lobby.toml": "[source]\nkind = \"testsrc\"\nbogus = 1\n[[destination]]\nurl = \"rtsp://127.0.0.1/lobby.sdp\"\n",
			"hall.toml":  "[source]\nkind = \"tv\"\n[[destination]]\nurl = \"rtsp://127.0.0.1/hall.sdp\"\n",
		}, http.StatusServiceUnavailable, "no channel runs: 2 profile errors"},
		{"one mistake", map[string]string{
			"lobby.toml": "[source]\nkind = \"testsrc\"\n[video]\nfps = \"fast\"\n[[destination]]\nurl = \"rtsp://127.0.0.1/lobby.sdp\"\n",
		}, http.StatusServiceUnavailable, "no channel runs: 1 profile error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
				t.Fatal(err)
			}
			for name, body := range tc.profiles {
				if err := os.WriteFile(filepath.Join(dir, "profiles", name), []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			config := filepath.Join(dir, "liveinject.toml")
			if err := os.WriteFile(config, []byte(httpAnyPort), 0o644); err != nil {
				t.Fatal(err)
			}
			r := startRun(t, config)
			var code int
			var body string
			fftest.WaitFor(t, 10*time.Second, "the channels started", func() bool {
				code, body = get(t, "http://"+r.inst.httpAddr+"/healthz")
				return !strings.Contains(body, "channels: starting")
			})
			lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
			if code != tc.code || lines[0] != tc.first || len(lines) != 1+len(tc.profiles) {
				t.Errorf("/healthz: %d %q; want %d, %d lines, the first %q", code, body, tc.code, 1+len(tc.profiles), tc.first)
			}
			for _, l := range lines[1:] {
				if !strings.HasPrefix(l, "profile error: "+filepath.Join(dir, "profiles")) {
					t.Errorf("/healthz line %q, want a profile error", l)
				}
			}
		})
	}
}

// TestHTTPBasicAuth serves with a user and a password file: requests without the right
// credentials get 401.
func TestHTTPBasicAuth(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, relayAny+"[http]\nlisten = \"127.0.0.1:0\"\nuser = \"ops\"\npassword_file = \"http.pass\"\n",
		"rtsp://{relay}/test.sdp")
	// A relative password file is taken from the config's directory; its newline is not part
	// of the password.
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "http.pass"), []byte("pa55word\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)
	// every route: the dashboard, its assets, its history and the thumbnails too
	for _, path := range []string{"/status", "/metrics", "/healthz", "/", "/assets/app.js", "/history",
		"/channels/test/thumbnail.jpg", "/channels/test/recordings", "/channels/test/recordings/2026-12-04T10-15-00Z.ts"} {
		url := "http://" + r.inst.httpAddr + path
		for _, tc := range []struct {
			name string
			auth []string
			code int
		}{
			{"no credentials", nil, http.StatusUnauthorized},
			{"wrong password", []string{"ops", "pa55word\n"}, http.StatusUnauthorized},
			{"wrong user", []string{"admin", "pa55word"}, http.StatusUnauthorized},
			{"empty", []string{"", ""}, http.StatusUnauthorized},
			{"right", []string{"ops", "pa55word"}, http.StatusOK},
		} {
			code, body := get(t, url, tc.auth...)
			// /healthz may be 503 while the channel starts, the thumbnail 404 before the first
			// keyframe, and the recordings are 404 (the channel does not record): authorized
			// all the same.
			if path == "/healthz" && code == http.StatusServiceUnavailable ||
				path == "/channels/test/thumbnail.jpg" && code == http.StatusNotFound ||
				strings.HasPrefix(path, "/channels/test/recordings") && code == http.StatusNotFound &&
					body == "channel test does not record: its profile has no [record]\n" {
				code = http.StatusOK
			}
			if code != tc.code {
				t.Errorf("%s %s: %d, want %d\n%s", path, tc.name, code, tc.code, body)
			}
		}
	}

	// the control requests too
	for _, path := range []string{"/channels/test/restart", "/channels/test/switch?to=slate"} {
		if code, body := post(t, "http://"+r.inst.httpAddr+path, nil, nil); code != http.StatusUnauthorized {
			t.Errorf("POST %s without credentials: %d %s, want 401", path, code, body)
		}
	}
	var st statusReport
	if _, body := get(t, "http://"+r.inst.httpAddr+"/status", "ops", "pa55word"); json.Unmarshal([]byte(body), &st) != nil ||
		len(st.Channels) != 1 || st.Channels[0].Mode != "auto" {
		t.Errorf("after a switch without credentials: %s, want the channel in mode auto", body)
	}

	var stdout, stderr fftest.Buffer
	if code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"status", "-addr", r.inst.httpAddr}); code != exitFail ||
		!strings.Contains(stderr.String(), "401 Unauthorized: the endpoint needs the [http] user and password") {
		t.Errorf("status without credentials: exit %d, want %d and a 401:\n%s", code, exitFail, stderr.String())
	}
}

// TestNoCredentialsInOutput pushes to destinations with a password, one of them failing, and looks
// for the password everywhere liveinject shows something.
func TestNoCredentialsInOutput(t *testing.T) {
	fftest.Require(t)
	const password = "s3cret"
	down := fmt.Sprintf("rtsp://user:%s@127.0.0.1:%d/down.sdp", password, fftest.FreePort(t))
	// the relay wants these credentials of its publishers
	config := writeConfig(t, relayAny+"user = \"user\"\npassword_file = \"relay.pass\"\n"+httpAnyPort+
		"[log]\nlevel = \"debug\"\nformat = \"json\"\n",
		"rtsp://user:"+password+"@{relay}/test.sdp", down)
	if err := os.WriteFile(filepath.Join(filepath.Dir(config), "relay.pass"), []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := startRun(t, config)
	var s statusReport
	fftest.WaitFor(t, 30*time.Second, "one destination recording, the other failed", func() bool {
		s = getStatusReport(t, r)
		if len(s.Channels) != 1 || len(s.Channels[0].Destinations) != 2 {
			return false
		}
		d := s.Channels[0].Destinations
		return d[0].PacketsSent > 0 && d[1].LastError != ""
	})
	if d := s.Channels[0].Destinations; !strings.Contains(d[0].URL, "user:xxxxx@") || !strings.Contains(d[1].URL, "user:xxxxx@") {
		t.Errorf("destinations %+v, want their URLs redacted", d)
	}

	outputs := map[string]string{}
	for _, path := range []string{"/status", "/metrics", "/healthz"} {
		_, outputs[path] = get(t, "http://"+r.inst.httpAddr+path)
	}
	for _, args := range [][]string{{"status", "-addr", r.inst.httpAddr}, {"status", "-addr", r.inst.httpAddr, "-json"}} {
		var stdout, stderr fftest.Buffer
		(&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), args)
		outputs[strings.Join(args, " ")] = stdout.String() + stderr.String()
	}
	if !strings.Contains(outputs["/healthz"], "destination rtsp://user:xxxxx@127.0.0.1:") {
		t.Errorf("/healthz does not name the failed destination:\n%s", outputs["/healthz"])
	}
	r.stop(t)
	outputs["log"] = r.stderr.String()
	for what, out := range outputs {
		if strings.Contains(out, password) {
			t.Errorf("%s shows the password:\n%s", what, out)
		}
	}
	// [log] format = "json": every line is a JSON object.
	for line := range strings.Lines(outputs["log"]) {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

// TestLogSettings checks that the command line's -log-level and -log-format override the
// config's [log], and only when given.
func TestLogSettings(t *testing.T) {
	fftest.Require(t)
	for _, tc := range []struct {
		name, log string
		flags     []string
		want      string
	}{
		{"config", "[log]\nformat = \"json\"\n", nil, `"msg":"relay listening"`},
		{"flags", "[log]\nformat = \"json\"\nlevel = \"error\"\n", []string{"-log-format", "text", "-log-level", "info"},
			`msg="relay listening"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			config := writeConfig(t, relayAny+httpAnyPort+tc.log, "rtsp://{relay}/test.sdp")
			r := startRunArgs(t, append([]string{"run", "-c", config}, tc.flags...))
			r.stderr.WaitFor(t, tc.want)
			r.stop(t)
		})
	}
}
