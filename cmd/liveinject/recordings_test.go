package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/supervisor"
)

// recordingStats is a channel's recording as the recorder reports it, in state.
func recordingStats(dir, state string) *record.Stats {
	at := time.Date(2026, 12, 4, 10, 20, 0, 0, time.UTC)
	s := &record.Stats{State: state, Dir: dir, BytesOnDisk: 3 << 30, Segments: 42,
		Oldest: time.Date(2026, 12, 4, 9, 38, 0, 0, time.UTC), Newest: time.Date(2026, 12, 4, 10, 19, 0, 0, time.UTC),
		BytesWritten: 5 << 30, Deleted: map[string]uint64{record.DeletedKeep: 7, record.DeletedMinFree: 2},
		FreeBytes: 1 << 20, Errors: 3, LastError: "write 2026-12-04T10-20-00Z.ts.part: no space left on device", LastErrorAt: at}
	if state == record.StateError {
		s.Cause = "disk full"
	}
	return s
}

// TestRecordStatus: /status shows a channel's recording with every field, and null for a
// channel that does not record.
func TestRecordStatus(t *testing.T) {
	now := time.Now()
	channels := []supervisor.Status{
		{Name: "lobby", State: supervisor.StateRunning, Record: recordingStats("/var/lib/liveinject/recordings/lobby", record.StateError)},
		{Name: "plain", State: supervisor.StateRunning},
		{Name: "fresh", State: supervisor.StateRunning, Record: &record.Stats{State: record.StateWaiting, Dir: "/rec/fresh"}},
	}
	var r statusReport
	for _, c := range channels {
		r.Channels = append(r.Channels, channelReportOf(c, now))
	}
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Channels []struct {
			Record json.RawMessage `json:"record"`
		} `json:"channels"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"state":"error","cause":"disk full","dir":"/var/lib/liveinject/recordings/lobby","bytes_on_disk":3221225472,` +
			`"segments":42,"oldest":"2026-12-04T09:38:00Z","newest":"2026-12-04T10:19:00Z","bytes_written":5368709120,` +
			`"deleted":{"keep":7,"max_size":0,"min_free":2},"free_bytes":1048576,"errors":3,` +
			`"last_error":"write 2026-12-04T10-20-00Z.ts.part: no space left on device","last_error_at":"2026-12-04T10:20:00Z"}`,
		`null`,
		`{"state":"waiting","cause":"","dir":"/rec/fresh","bytes_on_disk":0,"segments":0,"oldest":null,"newest":null,` +
			`"bytes_written":0,"deleted":{"keep":0,"max_size":0,"min_free":0},"free_bytes":0,"errors":0,"last_error":"",` +
			`"last_error_at":null}`,
	}
	for i, w := range want {
		if string(got.Channels[i].Record) != w {
			t.Errorf("%s: record\n%s\nwant\n%s", channels[i].Name, got.Channels[i].Record, w)
		}
	}
}

// TestRecordStatusCommand: `liveinject status` shows a recording under its channel, its cause
// first in state error, and nothing for a channel that does not record.
func TestRecordStatusCommand(t *testing.T) {
	now := time.Now()
	failing := recordingStats("/rec/lobby", record.StateError)
	failing.Newest = now.Add(-90 * time.Second)
	fine := recordingStats("/rec/studio", record.StateRecording)
	fine.Segments, fine.BytesOnDisk, fine.Newest = 1, 1536, time.Time{}
	var r statusReport
	for _, c := range []supervisor.Status{{Name: "lobby", Record: failing}, {Name: "studio", Record: fine}, {Name: "plain"}} {
		r.Channels = append(r.Channels, channelReportOf(c, now))
	}
	var out bytes.Buffer
	printStatus(&out, &r)
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^lobby .*\n  record +error +disk full; 3\.0 GiB in 42 segments, newest 1m3\ds ago\nstudio `),
		regexp.MustCompile(`(?m)^studio .*\n  record +recording +1\.5 KiB in 1 segment\nplain `),
	} {
		if !want.MatchString(out.String()) {
			t.Errorf("status command:\n%s\nwant a match of %s", out.String(), want)
		}
	}
	if strings.Count(out.String(), "  record ") != 2 {
		t.Errorf("status command:\n%s\nwant two record lines (plain does not record)", out.String())
	}
}

// TestRecordHealth: a recording that cannot write fails /healthz with its cause; one that waits
// for a keyframe or records does not.
func TestRecordHealth(t *testing.T) {
	got := unhealthy([]supervisor.Status{
		{Name: "lobby", State: supervisor.StateRunning, Record: recordingStats("/rec/lobby", record.StateError)},
		{Name: "studio", State: supervisor.StateRunning, Record: recordingStats("/rec/studio", record.StateRecording)},
		{Name: "hall", State: supervisor.StateRunning, Record: recordingStats("/rec/hall", record.StateWaiting)},
	})
	if want := "channel lobby: recording error: disk full"; len(got) != 1 || got[0] != want {
		t.Errorf("unhealthy: %q, want [%q]", got, want)
	}
}

// recordOnly exports one channel's recording with the instance's collector.
type recordOnly struct {
	c     *collector
	stats *record.Stats
}

func (r recordOnly) Describe(ch chan<- *prometheus.Desc) { r.c.Describe(ch) }
func (r recordOnly) Collect(ch chan<- prometheus.Metric) { r.c.collectRecord(ch, "lobby", r.stats) }

// TestRecordMetrics: the recording's metrics, all of them with their labels, and none for a
// channel that does not record.
func TestRecordMetrics(t *testing.T) {
	gather := func(stats *record.Stats) map[string]*dto.MetricFamily {
		reg := prometheus.NewPedanticRegistry()
		reg.MustRegister(recordOnly{newCollector(&instance{}, "", "", nil, nil), stats})
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]*dto.MetricFamily{}
		for _, f := range families {
			out[f.GetName()] = f
		}
		return out
	}
	if f := gather(nil); len(f) != 0 {
		t.Errorf("a channel that does not record has metrics: %v", f)
	}
	ch := map[string]string{"channel": "lobby"}
	with := func(k, v string) map[string]string { return map[string]string{"channel": "lobby", k: v} }
	for _, tc := range []struct {
		state string
		want  []struct {
			name   string
			typ    dto.MetricType
			labels map[string]string
			value  float64
		}
	}{
		{record.StateError, []struct {
			name   string
			typ    dto.MetricType
			labels map[string]string
			value  float64
		}{
			{"liveinject_record_up", dto.MetricType_GAUGE, ch, 0},
			{"liveinject_record_state", dto.MetricType_GAUGE, with("state", "error"), 1},
			{"liveinject_record_state", dto.MetricType_GAUGE, with("state", "recording"), 0},
			{"liveinject_record_state", dto.MetricType_GAUGE, with("state", "waiting"), 0},
			{"liveinject_record_written_bytes_total", dto.MetricType_COUNTER, ch, 5 << 30},
			{"liveinject_record_disk_bytes", dto.MetricType_GAUGE, ch, 3 << 30},
			{"liveinject_record_segments", dto.MetricType_GAUGE, ch, 42},
			{"liveinject_record_segments_deleted_total", dto.MetricType_COUNTER, with("reason", "keep"), 7},
			{"liveinject_record_segments_deleted_total", dto.MetricType_COUNTER, with("reason", "max_size"), 0},
			{"liveinject_record_segments_deleted_total", dto.MetricType_COUNTER, with("reason", "min_free"), 2},
			{"liveinject_record_free_bytes", dto.MetricType_GAUGE, ch, 1 << 20},
			{"liveinject_record_errors_total", dto.MetricType_COUNTER, ch, 3},
		}},
		{record.StateWaiting, []struct {
			name   string
			typ    dto.MetricType
			labels map[string]string
			value  float64
		}{
			{"liveinject_record_up", dto.MetricType_GAUGE, ch, 1},
			{"liveinject_record_state", dto.MetricType_GAUGE, with("state", "waiting"), 1},
			{"liveinject_record_state", dto.MetricType_GAUGE, with("state", "error"), 0},
		}},
	} {
		families := gather(recordingStats("/rec/lobby", tc.state))
		for _, w := range tc.want {
			if v, ok := value(families, w.name, w.typ, w.labels); !ok || v != w.value {
				t.Errorf("%s: %s%v = %v (found %t), want %v", tc.state, w.name, w.labels, v, ok, w.value)
			}
		}
	}
}

// recordingsServer serves the recordings of channel lobby, recorded in dir, and of channel
// plain, which does not record, as the HTTP endpoint routes them.
func recordingsServer(t *testing.T, dir string) string {
	t.Helper()
	channels := []supervisor.Status{
		{Name: "lobby", State: supervisor.StateRunning, Record: recordingStats(dir, record.StateRecording)},
		{Name: "plain", State: supervisor.StateRunning},
	}
	mux := http.NewServeMux()
	(&recordings{Status: func() []supervisor.Status { return channels }, Logger: slog.New(slog.DiscardHandler)}).Route(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// writeFile writes a file of the test and fails it if that fails.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestRecordingsList: GET /channels/NAME/recordings lists the channel's segments, oldest first,
// the one being written last and without a URL; other files of the folder are left out.
func TestRecordingsList(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "lobby")
	base := recordingsServer(t, dir)

	// a folder not made yet: nothing recorded
	code, _, body := do(t, "GET", base+"/channels/lobby/recordings", nil)
	if want := `"segments": []`; code != http.StatusOK || !strings.Contains(string(body), want) {
		t.Errorf("before the folder is made: %d %s, want 200 and %s", code, body, want)
	}

	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "2026-12-04T10-16-00Z.ts"), bytes.Repeat([]byte{0x47}, 188*3))
	writeFile(t, filepath.Join(dir, "2026-12-04T10-15-00Z.ts"), bytes.Repeat([]byte{0x47}, 188*2))
	writeFile(t, filepath.Join(dir, "2026-12-04T10-17-00Z.ts.part"), bytes.Repeat([]byte{0x47}, 188))
	writeFile(t, filepath.Join(dir, "notes.txt"), []byte("not a segment"))
	code, h, body := do(t, "GET", base+"/channels/lobby/recordings", nil)
	if code != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Fatalf("%d %s\n%s", code, h.Get("Content-Type"), body)
	}
	var got recordingsReport
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	compact := new(bytes.Buffer)
	json.Compact(compact, body) //nolint:errcheck // it parsed above
	want := `{"channel":"lobby","dir":"` + dir + `","segments":[` +
		`{"name":"2026-12-04T10-15-00Z.ts","start":"2026-12-04T10:15:00Z","size":376,"open":false,"url":"/channels/lobby/recordings/2026-12-04T10-15-00Z.ts"},` +
		`{"name":"2026-12-04T10-16-00Z.ts","start":"2026-12-04T10:16:00Z","size":564,"open":false,"url":"/channels/lobby/recordings/2026-12-04T10-16-00Z.ts"},` +
		`{"name":"2026-12-04T10-17-00Z.ts.part","start":"2026-12-04T10:17:00Z","size":188,"open":true,"url":null}]}`
	if compact.String() != want {
		t.Errorf("list\n%s\nwant\n%s", compact, want)
	}

	for path, want := range map[string]string{
		"/channels/nope/recordings":  "no channel nope\n",
		"/channels/plain/recordings": "channel plain does not record: its profile has no [record]\n",
	} {
		if code, _, body := do(t, "GET", base+path, nil); code != http.StatusNotFound || string(body) != want {
			t.Errorf("GET %s: %d %q, want 404 %q", path, code, body, want)
		}
	}
}

// TestRecordingsServe: GET /channels/NAME/recordings/FILE serves a closed segment, ranges too,
// refuses the one being written with 409, and serves nothing outside the channel's folder,
// whatever the name: "..", escaped, absolute, or a link that leads out.
func TestRecordingsServe(t *testing.T) {
	parent := t.TempDir()
	dir := filepath.Join(parent, "lobby")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	segment := make([]byte, 188*10)
	for i := range segment {
		segment[i] = byte(i)
	}
	writeFile(t, filepath.Join(dir, "2026-12-04T10-15-00Z.ts"), segment)
	writeFile(t, filepath.Join(dir, "2026-12-04T10-16-00Z.ts.part"), []byte("being written"))
	// files outside the channel's folder, named as segments are
	secret := []byte("SECRET outside the channel's folder")
	writeFile(t, filepath.Join(parent, "2026-12-04T10-30-00Z.ts"), secret)
	other := filepath.Join(t.TempDir(), "2026-12-04T10-31-00Z.ts")
	writeFile(t, other, secret)
	// links in the folder that lead out of it, and one that stays in it
	for link, target := range map[string]string{
		"2026-12-04T10-20-00Z.ts": other,
		"2026-12-04T10-21-00Z.ts": "../2026-12-04T10-30-00Z.ts",
		"2026-12-04T10-22-00Z.ts": "2026-12-04T10-15-00Z.ts",
	} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "2026-12-04T10-23-00Z.ts"), 0o755); err != nil {
		t.Fatal(err)
	}
	base := recordingsServer(t, dir)
	url := base + "/channels/lobby/recordings/"

	code, h, body := do(t, "GET", url+"2026-12-04T10-15-00Z.ts", nil)
	if code != http.StatusOK || !bytes.Equal(body, segment) || h.Get("Content-Type") != "video/mp2t" ||
		h.Get("Accept-Ranges") != "bytes" || h.Get("Content-Disposition") != `attachment; filename=lobby_2026-12-04T10-15-00Z.ts` {
		t.Errorf("segment: %d, %d bytes (want %d), headers %v", code, len(body), len(segment), h)
	}
	code, h, body = do(t, "GET", url+"2026-12-04T10-15-00Z.ts", http.Header{"Range": {"bytes=188-375"}})
	if code != http.StatusPartialContent || !bytes.Equal(body, segment[188:376]) ||
		h.Get("Content-Range") != "bytes 188-375/1880" {
		t.Errorf("range: %d, %d bytes, Content-Range %q; want 206, the second packet, bytes 188-375/1880", code, len(body), h.Get("Content-Range"))
	}
	// a link inside the folder is the segment it names
	if code, _, body := do(t, "GET", url+"2026-12-04T10-22-00Z.ts", nil); code != http.StatusOK || !bytes.Equal(body, segment) {
		t.Errorf("link inside the folder: %d, %d bytes", code, len(body))
	}
	// the segment being written, by either name
	for _, name := range []string{"2026-12-04T10-16-00Z.ts.part", "2026-12-04T10-16-00Z.ts"} {
		code, _, body = do(t, "GET", url+name, nil)
		if code != http.StatusConflict || !strings.Contains(string(body), "is being written: it is served once closed, as 2026-12-04T10-16-00Z.ts\n") {
			t.Errorf("open segment as %s: %d %q, want 409", name, code, body)
		}
	}

	for _, path := range []string{
		"2026-12-04T10-17-00Z.ts.part", // neither open nor closed
		"2026-12-04T10-17-00Z.ts",
		"2026-12-04T10-20-00Z.ts", // a link to an absolute path elsewhere
		"2026-12-04T10-21-00Z.ts", // a link to the folder above
		"2026-12-04T10-23-00Z.ts", // a folder
		"notes.txt",
		"..",
		"%2e%2e",
		"..%2f2026-12-04T10-30-00Z.ts",
		"%2e%2e%2f2026-12-04T10-30-00Z.ts",
		"%2e%2e/2026-12-04T10-30-00Z.ts",
		"../2026-12-04T10-30-00Z.ts",
		"..%5c2026-12-04T10-30-00Z.ts",
		"%2f" + strings.ReplaceAll(strings.TrimPrefix(other, "/"), "/", "%2f"),
		"2026-12-04T10-15-00Z.ts%2f..%2f..%2f2026-12-04T10-30-00Z.ts",
		"2026-12-04T10-15-00Z.ts%00",
	} {
		code, _, body := do(t, "GET", url+path, nil)
		t.Logf("GET .../recordings/%s: %d %s", path, code, bytes.TrimSpace(body))
		if code < 400 || bytes.Contains(body, secret) || bytes.Equal(body, segment) {
			t.Errorf("GET .../recordings/%s: %d %q, want a 4xx and nothing from outside the folder", path, code, body)
		}
	}
	for path, want := range map[string]string{
		"/channels/nope/recordings/2026-12-04T10-15-00Z.ts":  "no channel nope\n",
		"/channels/plain/recordings/2026-12-04T10-15-00Z.ts": "channel plain does not record: its profile has no [record]\n",
	} {
		if code, _, body := do(t, "GET", base+path, nil); code != http.StatusNotFound || string(body) != want {
			t.Errorf("GET %s: %d %q, want 404 %q", path, code, body, want)
		}
	}
}

// TestDashboardRecordingInBrowser opens the dashboard in a real headless Chromium, its /status
// made from the channel's snapshots as the endpoint makes it: the card shows the recording (REC,
// its size and segments) with a link to the segments' list, in red with its cause once it
// cannot write, and nothing once the channel records no more.
func TestDashboardRecordingInBrowser(t *testing.T) {
	path := chromium(t)
	dir := filepath.Join(t.TempDir(), "lobby")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "2026-12-04T10-15-00Z.ts"), bytes.Repeat([]byte{0x47}, 188*1000))
	writeFile(t, filepath.Join(dir, "2026-12-04T10-16-00Z.ts"), bytes.Repeat([]byte{0x47}, 188*1000))
	rec := &record.Stats{State: record.StateRecording, Dir: dir, BytesOnDisk: 2 * 188 * 1000, Segments: 2,
		Oldest: time.Date(2026, 12, 4, 10, 15, 0, 0, time.UTC), Newest: time.Now().Add(-40 * time.Second),
		Deleted: map[string]uint64{}}
	var channels atomic.Pointer[[]supervisor.Status]
	set := func(r *record.Stats) {
		channels.Store(&[]supervisor.Status{{Name: "lobby", State: supervisor.StateRunning, Since: time.Now(),
			OnAir: "source", Mode: "auto", Record: r}})
	}
	set(rec)
	status := func() []supervisor.Status { return *channels.Load() }

	mux := http.NewServeMux()
	hs := &httpServer{}
	mux.HandleFunc("GET /{$}", hs.serveDashboard)
	mux.Handle("GET /assets/", hs.serveAssets())
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		r := statusReport{Channels: []channelReport{}, ProfileErrors: []string{}, ConfigWatch: "fsnotify"}
		for _, c := range status() {
			r.Channels = append(r.Channels, channelReportOf(c, time.Now()))
		}
		writeJSON(w, r, "")
	})
	(&recordings{Status: status, Logger: slog.New(slog.DiscardHandler)}).Route(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := openBrowser(t, path)
	const card = `article[data-channel="lobby"]`
	b.do("open the dashboard", chromedp.Navigate(srv.URL+"/"))
	shown := b.poll("the recording on the card", `(() => {
		const c = document.querySelector('`+card+`'), r = c && c.querySelector(".rec");
		if (!r || r.hidden || getComputedStyle(r).display === "none") return false;
		const badge = r.querySelector(".rec-badge"), text = r.querySelector(".rec-text").textContent;
		return badge.textContent === "● REC" && getComputedStyle(badge).color === "rgb(201, 55, 44)" &&
			/^376\.0 KB in 2 segments, newest 4\ds ago$/.test(text) && c.querySelector(".light").dataset.colour === "green"
			? r.textContent : false;
	})()`)
	t.Logf("the card says: %v", shown)
	// the link leads to the list, whose URLs serve the segments
	got := b.poll("the segments behind the link", `(async () => {
		const a = document.querySelector('`+card+` .rec a.rec-list');
		const list = await (await fetch(a.href)).json();
		const first = await fetch(list.segments[0].url);
		return [new URL(a.href).pathname, list.segments.map(s => s.name).join(","), first.status,
			first.headers.get("Content-Type"), (await first.arrayBuffer()).byteLength].join(" ");
	})()`)
	if want := "/channels/lobby/recordings 2026-12-04T10-15-00Z.ts,2026-12-04T10-16-00Z.ts 200 video/mp2t 188000"; got != want {
		t.Errorf("link: %v, want %s", got, want)
	}
	b.screenshot("dashboard-recording.png")

	failing := *rec
	failing.State, failing.Cause, failing.Errors = record.StateError, "disk full", 1
	failing.LastError = "write " + filepath.Join(dir, "2026-12-04T10-17-00Z.ts.part") + ": no space left on device"
	set(&failing)
	shown = b.poll("the recording in red with its cause", `(() => {
		const c = document.querySelector('`+card+`'), r = c.querySelector(".rec");
		const badge = r.querySelector(".rec-badge"), text = r.querySelector(".rec-text");
		return badge.textContent === "REC stopped" && getComputedStyle(badge).backgroundColor === "rgb(201, 55, 44)" &&
			text.textContent.startsWith("not recording: disk full · 376.0 KB in 2 segments") &&
			getComputedStyle(text).color === "rgb(201, 55, 44)" &&
			c.querySelector(".light").dataset.colour === "amber" && c.dataset.state === "not recording" ? r.textContent : false;
	})()`)
	t.Logf("the card says: %v", shown)
	b.screenshot("dashboard-recording-error.png")

	set(nil)
	b.poll("no recording shown", `(() => {
		const c = document.querySelector('`+card+`'), r = c.querySelector(".rec");
		return r.hidden && getComputedStyle(r).display === "none" && c.querySelector(".light").dataset.colour === "green";
	})()`)
}

// TestRecordingSlowDownload: a segment reaches a client that takes it more slowly than the
// server's WriteTimeout allows a JSON answer (30 s in liveinject, 200 ms here): a minute of an
// 8 Mbit/s channel is 60 MB, which a slow link takes minutes to carry.
func TestRecordingSlowDownload(t *testing.T) {
	dir := t.TempDir()
	// more than the loopback connection's buffers hold, so that the server still writes when
	// its WriteTimeout has passed
	segment := bytes.Repeat([]byte{0x47, 1, 2, 3}, 16<<20/4)
	writeFile(t, filepath.Join(dir, "2026-12-04T10-15-00Z.ts"), segment)
	channels := []supervisor.Status{{Name: "lobby", Record: &record.Stats{State: record.StateRecording, Dir: dir}}}
	mux := http.NewServeMux()
	(&recordings{Status: func() []supervisor.Status { return channels }, Logger: slog.New(slog.DiscardHandler)}).Route(mux)
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.WriteTimeout = 200 * time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)

	req, err := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/channels/lobby/recordings/2026-12-04T10-15-00Z.ts", nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// a slow link: the client takes nothing more until the server's WriteTimeout is well past
	<-time.After(3 * srv.Config.WriteTimeout)
	body, err := io.ReadAll(resp.Body)
	if err != nil || !bytes.Equal(body, segment) {
		t.Errorf("slow download: %d of %d bytes, %v; want the whole segment", len(body), len(segment), err)
	}
}
