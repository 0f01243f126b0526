package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/supervisor"
)

// backupProfile is a channel whose source never works (its file is missing) and whose backup
// is a test pattern, small so that the test costs little CPU.
const backupProfile = `failover_after = "500ms"
slate_after = "5s"
[source]
kind = "file"
path = "missing.mp4"
[[backup]]
kind = "testsrc"
[slate]
text = "Back soon"
[video]
size = "320x180"
fps = 25
gop = "1s"
[audio]
sample_rate = 48000
channels = 2
[[destination]]
url = "rtsp://{relay}/test.sdp"
`

// startBackupRun runs the channel of backupProfile as "test" and waits until its backup is on
// air and its destination has sent packets.
func startBackupRun(t *testing.T) (*running, channelReport) {
	t.Helper()
	r := startRun(t, writeProfileConfig(t, relayAny+httpAnyPort, backupProfile))
	var c channelReport
	fftest.WaitFor(t, 30*time.Second, "backup 1 on air with its source failing", func() bool {
		s := waitSent(t, r, 0)
		c = s.Channels[0]
		return c.OnAir == "backup 1" && len(c.Inputs) == 3 && c.Inputs[0].LastCause != ""
	})
	return r, c
}

// post sends a POST with a form body (nil for none) and returns the status code and the body.
func post(t *testing.T, url string, form url.Values, header http.Header) (int, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 20 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// TestSwitchInputs runs a channel whose source fails and whose backup works: /status, the
// status command, /metrics and /healthz show the backup on air and why the source is not; then
// an operator switches to the slate with `liveinject switch`, back to the backup through the
// endpoint with a form, and back to auto, and the endpoint refuses what it must.
func TestSwitchInputs(t *testing.T) {
	fftest.Require(t)
	r, c := startBackupRun(t)
	base := "http://" + r.inst.httpAddr
	cli := func(args ...string) (int, string) {
		var stdout, stderr fftest.Buffer
		code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), args)
		return code, stdout.String() + stderr.String()
	}
	onAir := func(what string, ok func(channelReport) bool) channelReport {
		t.Helper()
		var c channelReport
		fftest.WaitFor(t, 30*time.Second, what, func() bool {
			c = getStatusReport(t, r).Channels[0]
			return ok(c)
		})
		return c
	}

	t.Run("status", func(t *testing.T) {
		_, body := get(t, base+"/status")
		var raw struct{ Channels []map[string]any }
		if err := json.Unmarshal([]byte(body), &raw); err != nil {
			t.Fatal(err)
		}
		ch := raw.Channels[0]
		hasKeys(t, "channel", ch, "on_air", "on_air_since", "mode", "forced", "switches", "inputs")
		hasKeys(t, "switches", ch["switches"].(map[string]any), "failed", "returned", "manual")
		hasKeys(t, "input", ch["inputs"].([]any)[0].(map[string]any), "name", "kind", "state", "since", "ffmpeg_pid",
			"ffmpeg_starts", "frames", "cause", "last_cause", "last_cause_at", "retry_at")

		if c.Mode != "auto" || c.Forced != "" || c.OnAirSince == nil || c.State != supervisor.StateRunning || c.Switches.Manual != 0 {
			t.Errorf("channel on its backup: %+v", c)
		}
		src, backup, slate := c.Inputs[0], c.Inputs[1], c.Inputs[2]
		if src.Name != "source" || src.Kind != "file" || src.State == supervisor.StateRunning || src.FFmpegStarts == 0 ||
			src.Frames != 0 || src.LastCauseAt == nil {
			t.Errorf("source %+v, want a file that failed", src)
		}
		if backup.Name != "backup 1" || backup.Kind != "testsrc" || backup.State != supervisor.StateRunning ||
			backup.FFmpegPID != c.FFmpegPID || backup.Frames == 0 || backup.RetryAt != nil {
			t.Errorf("backup %+v, want the running testsrc on air (channel pid %d)", backup, c.FFmpegPID)
		}
		if slate.Name != "slate" || slate.Kind != "slate" {
			t.Errorf("slate %+v", slate)
		}
		t.Logf("source: %s (%s), %d starts", src.State, src.Cause, src.FFmpegStarts)
	})

	t.Run("status command", func(t *testing.T) {
		code, out := cli("status", "-addr", r.inst.httpAddr)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		for _, want := range []*regexp.Regexp{
			regexp.MustCompile(`(?m)^CHANNEL +STATE +ON AIR +UPTIME`),
			regexp.MustCompile(`(?m)^test +running +backup 1 +\S+ +[0-9.]+ +\d+ +1/1 ok`),
			// the failing source under its channel, with its cause and how long ago
			regexp.MustCompile(`(?m)^  source +(backoff|starting) +\S+ +\S.* \(\d+s ago\)`),
		} {
			if !want.MatchString(out) {
				t.Errorf("output does not match %s:\n%s", want, out)
			}
		}
		if regexp.MustCompile(`(?m)^  (backup 1|slate) `).MatchString(out) {
			t.Errorf("output lists an input on air or on standby:\n%s", out)
		}
	})

	metrics := func(t *testing.T, want map[string]float64) {
		t.Helper()
		families := scrape(t, r)
		for key, v := range want {
			name, label, _ := strings.Cut(key, " ")
			k, val, _ := strings.Cut(label, "=")
			typ := dto.MetricType_GAUGE
			if strings.HasSuffix(name, "_total") {
				typ = dto.MetricType_COUNTER
			}
			got, ok := value(families, name, typ, map[string]string{"channel": "test", k: val})
			if !ok || got != v {
				t.Errorf("%s{%s}: %v (found %t), want %v", name, label, got, ok, v)
			}
		}
	}
	t.Run("metrics", func(t *testing.T) {
		metrics(t, map[string]float64{
			"liveinject_channel_on_air input=source":                  0,
			"liveinject_channel_on_air input=backup 1":                1,
			"liveinject_channel_on_air input=slate":                   0,
			"liveinject_channel_on_air input=hold":                    0,
			"liveinject_channel_input_up input=source":                0,
			"liveinject_channel_input_up input=backup 1":              1,
			"liveinject_channel_input_up input=slate":                 0,
			"liveinject_channel_input_switches_total reason=manual":   0,
			"liveinject_channel_input_switches_total reason=failed":   float64(c.Switches.Failed),
			"liveinject_channel_input_switches_total reason=returned": float64(c.Switches.Returned),
		})
	})

	t.Run("healthz on a backup", func(t *testing.T) {
		// the program is on air: healthy
		if code, body := get(t, base+"/healthz"); code != http.StatusOK {
			t.Errorf("/healthz with a backup on air: %d %s, want 200", code, body)
		}
	})

	url := base + "/channels/test/switch"
	t.Run("refusals", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			url    string
			header http.Header
			code   int
			body   string
		}{
			{"a form of another site", url + "?to=slate", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"}},
				http.StatusForbidden, "refused"},
			{"an input it does not have", url + "?to=backup+9", nil, http.StatusBadRequest,
				`channel "test" has no input "backup 9": want one of auto, source, backup 1, slate`},
			{"no input", url, nil, http.StatusBadRequest, "say which input"},
			{"an unknown channel", base + "/channels/nope/switch?to=slate", nil, http.StatusNotFound, `no channel "nope"`},
		} {
			if code, body := post(t, tc.url, nil, tc.header); code != tc.code || !strings.Contains(body, tc.body) {
				t.Errorf("%s: %d %q, want %d and %q", tc.name, code, body, tc.code, tc.body)
			}
		}
		if code, _, _ := do(t, http.MethodGet, url+"?to=slate", nil); code != http.StatusMethodNotAllowed {
			t.Errorf("GET: %d, want 405", code)
		}
		if c := getStatusReport(t, r).Channels[0]; c.Mode != "auto" || c.OnAir != "backup 1" {
			t.Errorf("after the refusals: mode %s, on air %s; want auto, backup 1", c.Mode, c.OnAir)
		}
		if code, out := cli("switch", "-addr", r.inst.httpAddr, "test", "backup", "9"); code != exitFail ||
			!strings.Contains(out, `400 Bad Request: channel "test" has no input "backup 9"`) {
			t.Errorf("switch test backup 9: %d %q", code, out)
		}
	})

	t.Run("manual", func(t *testing.T) {
		code, out := cli("switch", "-addr", r.inst.httpAddr, "test", "slate")
		if want := "channel test: slate goes on air at its next keyframe (once it runs) and stays until auto\n"; code != exitOK || out != want {
			t.Fatalf("switch test slate: %d %q, want 0 and %q", code, out, want)
		}
		c := onAir("the slate on air", func(c channelReport) bool { return c.OnAir == "slate" })
		if c.Mode != "manual" || c.Forced != "slate" || c.Switches.Manual != 1 {
			t.Errorf("on the slate: mode %q, forced %q, switches %+v; want manual, slate, 1 manual", c.Mode, c.Forced, c.Switches)
		}
		if code, out := cli("status", "-addr", r.inst.httpAddr); !regexp.MustCompile(`(?m)^test +running +slate \(manual\) `).MatchString(out) {
			t.Errorf("status: %d\n%s", code, out)
		}
		metrics(t, map[string]float64{
			"liveinject_channel_on_air input=slate":                 1,
			"liveinject_channel_on_air input=backup 1":              0,
			"liveinject_channel_input_up input=slate":               1,
			"liveinject_channel_input_switches_total reason=manual": 1,
		})
		code, body := get(t, base+"/healthz")
		if want := "channel test: slate on air: switched to by an operator"; code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
			t.Errorf("/healthz on the slate: %d %q, want 503 and %q", code, body, want)
		}

		// what `curl -d to='backup 1'` sends
		if code, body := post(t, url, map[string][]string{"to": {"backup 1"}}, nil); code != http.StatusOK {
			t.Fatalf("POST to=backup 1: %d %s", code, body)
		}
		c = onAir("backup 1 on air", func(c channelReport) bool { return c.OnAir == "backup 1" })
		if c.Mode != "manual" || c.Forced != "backup 1" || c.Switches.Manual != 2 {
			t.Errorf("on backup 1: mode %q, forced %q, switches %+v; want manual, backup 1, 2 manual", c.Mode, c.Forced, c.Switches)
		}

		if code, out := cli("switch", "-addr", r.inst.httpAddr, "test", "auto"); code != exitOK || out != "channel test: inputs back on auto\n" {
			t.Errorf("switch test auto: %d %q", code, out)
		}
		c = onAir("auto mode", func(c channelReport) bool { return c.Mode == "auto" })
		if c.Forced != "" || c.OnAir != "backup 1" {
			t.Errorf("back on auto: forced %q, on air %q; want none and backup 1 (the source still fails)", c.Forced, c.OnAir)
		}
		r.stderr.WaitFor(t, `msg="channel switch requested" component=http channel=test to="backup 1"`)
	})
}

// TestStatusShowsInputs: a channel's line says what is on air and what an operator forced, and
// each failing input that is not on air gets a line under it with its state and cause.
func TestStatusShowsInputs(t *testing.T) {
	now := time.Now()
	since, causeAt, retry := now.Add(-70*time.Second), now.Add(-5*time.Second), now.Add(3*time.Second)
	ch := func(name, onAir, mode, forced string, inputs ...inputReport) channelReport {
		return channelReport{Name: name, State: supervisor.StateRunning, OnAir: onAir, Mode: mode, Forced: forced,
			Inputs: inputs, Destinations: []destinationReport{}}
	}
	source := inputReport{Name: "source", State: supervisor.StateBackoff, Since: &since, Cause: "connection refused",
		LastCause: "ffmpeg exited with code 1: Connection refused", LastCauseAt: &causeAt, RetryAt: &retry}
	backup := inputReport{Name: "backup 1", State: supervisor.StateRunning, Since: &since}
	standby := inputReport{Name: "backup 2", State: supervisor.StateStandby}
	broken := inputReport{Name: "backup 2", State: supervisor.StateError, Since: &since, LastCause: "no such file"}
	slate := inputReport{Name: "slate", State: supervisor.StateStandby}
	r := &statusReport{Version: "v1", Channels: []channelReport{
		ch("cam", "backup 1", "auto", "", source, backup, standby, slate),
		ch("hall", "hold", "manual", "backup 2", source, backup, broken, slate),
		ch("lobby", "source", "auto", "", backup, slate),
		ch("yard", "backup 1", "manual", "backup 1", backup),
	}}
	var b strings.Builder
	printStatus(&b, r)
	out := b.String()
	for _, want := range []string{
		`(?m)^cam +running +backup 1 +0s`,
		`(?m)^  source +backoff +1m10s +connection refused \(5s ago\), retry in 3s$`,
		// holding, the channel's line is the source's: not repeated
		`(?m)^hall +running +hold \(manual: backup 2\) +0s`,
		`(?m)^  backup 2 +error +1m10s +no such file$`,
		`(?m)^lobby +running +source +0s`,
		`(?m)^yard +running +backup 1 \(manual\) +0s`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
	if n := len(regexp.MustCompile(`(?m)^  source`).FindAllString(out, -1)); n != 1 {
		t.Errorf("%d lines for a source, want 1 (cam's):\n%s", n, out)
	}
	if strings.Contains(out, "standby") {
		t.Errorf("an input on standby is listed:\n%s", out)
	}
}

// TestHealthOnAir: a backup on air is healthy, the program being on air; the slate is not, and
// says why each input does not work, or that an operator chose it.
func TestHealthOnAir(t *testing.T) {
	inputs := []supervisor.InputStatus{
		{Name: "source", State: supervisor.StateBackoff, LastCause: "ffmpeg exited with code 1: Connection refused"},
		{Name: "backup 1", State: supervisor.StateRunning},
		{Name: "slate", State: supervisor.StateStandby},
	}
	onBackup := supervisor.Status{Name: "cam", State: supervisor.StateRunning, OnAir: "backup 1", Mode: "auto", Inputs: inputs}
	if p := unhealthy([]supervisor.Status{onBackup}); len(p) != 0 {
		t.Errorf("a channel on its backup: %q, want healthy", p)
	}
	down := []supervisor.InputStatus{inputs[0], {Name: "backup 1", State: supervisor.StateStarting}, {Name: "slate", State: supervisor.StateRunning}}
	onSlate := supervisor.Status{Name: "cam", State: supervisor.StateRunning, OnAir: "slate", Mode: "auto", Inputs: down}
	want := "channel cam: slate on air: no input works: source: ffmpeg exited with code 1: Connection refused, backup 1: starting"
	if p := unhealthy([]supervisor.Status{onSlate}); len(p) != 1 || p[0] != want {
		t.Errorf("a channel on its slate: %q, want %q", p, want)
	}
	onSlate.Mode, onSlate.Forced = "manual", "slate"
	want = "channel cam: slate on air: switched to by an operator (liveinject switch cam auto gives it back)"
	if p := unhealthy([]supervisor.Status{onSlate}); len(p) != 1 || p[0] != want {
		t.Errorf("a channel switched to its slate: %q, want %q", p, want)
	}
}
