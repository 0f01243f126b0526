package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/supervisor"
)

// findings are return checks' findings as inject reports them, each in its state since the
// same time: verified with DSS's delay, unverified for three causes, checking, off.
type findings struct {
	since                                                  time.Time
	verified, notServed, notOurs, videoOnly, checking, off inject.Verify
}

// findingsSince are the findings of checks whose state began ago.
func findingsSince(ago time.Duration) findings {
	since := time.Now().Add(-ago)
	return findings{
		since:     since,
		verified:  inject.Verify{State: inject.VerifyVerified, ServerDelay: 2500 * time.Millisecond, Since: since},
		notServed: inject.Verify{State: inject.VerifyUnverified, Cause: "DESCRIBE 404", Since: since},
		notOurs:   inject.Verify{State: inject.VerifyUnverified, Cause: "not our stream", Since: since},
		videoOnly: inject.Verify{State: inject.VerifyUnverified, Cause: "video only", Since: since},
		checking:  inject.Verify{State: inject.VerifyChecking, Since: since},
		off:       inject.Verify{State: inject.VerifyOff, Since: since},
	}
}

// recordingTo is a destination that records to url, its return check having found v.
func recordingTo(url string, v inject.Verify) inject.Stats {
	return inject.Stats{URL: url, State: inject.StateRecording, Transport: "tcp",
		ConnectedSince: time.Now().Add(-time.Hour), PacketsSent: 1000, BytesSent: 1 << 20, Verify: v}
}

// TestStatusVerify: each destination in /status has its return check as "verify": the state
// (off for figures without one), the cause, the server's delay while verified (null otherwise)
// and since when.
func TestStatusVerify(t *testing.T) {
	f := findingsSince(time.Minute)
	since := f.since.Format(time.RFC3339Nano)
	for _, tc := range []struct {
		name  string
		v     inject.Verify
		state string
		cause string
		delay any // float64 or nil
		since any // the time as JSON or nil
	}{
		{"verified", f.verified, "verified", "", 2.5, since},
		{"unverified", f.notServed, "unverified", "DESCRIBE 404", nil, since},
		{"checking", f.checking, "checking", "", nil, since},
		{"off", f.off, "off", "", nil, since},
		{"no check", inject.Verify{}, "off", "", nil, nil},
		// a delay kept from before means nothing for a stream that is not ours
		{"unverified after verified", inject.Verify{State: inject.VerifyUnverified, Cause: "not our stream", ServerDelay: time.Second}, "unverified", "not our stream", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(destinationReportOf(recordingTo("rtsp://dss/lobby.sdp", tc.v)))
			if err != nil {
				t.Fatal(err)
			}
			var raw map[string]any
			if err := json.Unmarshal(b, &raw); err != nil {
				t.Fatal(err)
			}
			hasKeys(t, "destination", raw, "url", "state", "connected_since", "verify")
			v, _ := raw["verify"].(map[string]any)
			hasKeys(t, "verify", v, "state", "cause", "server_delay_seconds", "since")
			if v["state"] != tc.state || v["cause"] != tc.cause || v["server_delay_seconds"] != tc.delay || v["since"] != tc.since {
				t.Errorf("verify %v, want state %q, cause %q, server_delay_seconds %v, since %v", v, tc.state, tc.cause, tc.delay, tc.since)
			}
		})
	}
}

// TestStatusShowsVerify: `liveinject status` lists every destination with its state and what
// its return check found: the server's delay, or why it is unverified and for how long; an
// unverified destination is not counted ok and is the channel's problem of now.
func TestStatusShowsVerify(t *testing.T) {
	f := findingsSince(62 * time.Second)
	dests := func(stats ...inject.Stats) []destinationReport {
		var out []destinationReport
		for _, s := range stats {
			out = append(out, destinationReportOf(s))
		}
		return out
	}
	relayFast := f.verified
	relayFast.ServerDelay = 12 * time.Millisecond
	old := destinationReportOf(recordingTo("rtsp://relay/old.sdp", f.verified))
	// an endpoint of a version without the check, nor kinds: the kind comes from the URL
	old.Verify, old.Kind = verifyReport{}, ""
	r := &statusReport{Version: "v1", Channels: []channelReport{
		{Name: "lobby", State: supervisor.StateRunning, OnAir: "source", Destinations: dests(
			recordingTo("rtsp://broadcaster:xxxxx@dss1/lobby.sdp", f.verified),
			recordingTo("rtsp://dss2/lobby.sdp", f.notServed),
			recordingTo("rtsp://relay/lobby.sdp", relayFast))},
		{Name: "yard", State: supervisor.StateRunning, OnAir: "source", Destinations: append(dests(
			recordingTo("rtsp://dss1/yard.sdp", f.checking),
			recordingTo("rtsp://cdn/yard.sdp", f.off),
			inject.Stats{URL: "rtsp://dss2/yard.sdp", State: inject.StateBackoff, LastError: "connection refused", Verify: f.notOurs}),
			old)},
	}}
	var b strings.Builder
	printStatus(&b, r)
	out := b.String()
	for _, want := range []string{
		`(?m)^lobby +running +source +0s +0\.0 +0 +2/3 ok +rtsp://dss2/lobby.sdp: unverified: DESCRIBE 404$`,
		`(?m)^yard +running +source +0s +0\.0 +0 +3/4 ok +rtsp://dss2/yard.sdp: connection refused$`,
		`(?m)^DESTINATION +CHANNEL +KIND +STATE +VERIFY +SERVER DELAY +WHY$`,
		`(?m)^rtsp://broadcaster:xxxxx@dss1/lobby.sdp +lobby +rtsp +recording +verified +2.5s +-$`,
		`(?m)^rtsp://dss2/lobby.sdp +lobby +rtsp +recording +unverified +- +DESCRIBE 404 \(for 1m2s\)$`,
		`(?m)^rtsp://relay/lobby.sdp +lobby +rtsp +recording +verified +12ms +-$`,
		`(?m)^rtsp://dss1/yard.sdp +yard +rtsp +recording +checking +- +-$`,
		`(?m)^rtsp://cdn/yard.sdp +yard +rtsp +recording +off +- +-$`,
		`(?m)^rtsp://dss2/yard.sdp +yard +rtsp +backoff +unverified +- +not our stream \(for 1m2s\)$`,
		`(?m)^rtsp://relay/old.sdp +yard +rtsp +recording +- +- +-$`,
	} {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
}

// TestUnverifiedDestinationUnhealthy: a destination that records but whose server does not
// play it back fails /healthz with the check's cause; one being checked, verified or not
// checked does not, and one that does not record says that, not twice.
func TestUnverifiedDestinationUnhealthy(t *testing.T) {
	f := findingsSince(time.Minute)
	got := unhealthy([]supervisor.Status{{Name: "lobby", State: supervisor.StateRunning, Destinations: []inject.Stats{
		recordingTo("rtsp://dss1/lobby.sdp", f.verified),
		recordingTo("rtsp://dss2/lobby.sdp", f.notServed),
		recordingTo("rtsp://dss3/lobby.sdp", f.checking),
		recordingTo("rtsp://dss4/lobby.sdp", f.off),
		recordingTo("rtsp://dss5/lobby.sdp", inject.Verify{}),
		{URL: "rtsp://dss6/lobby.sdp", State: inject.StateBackoff, LastError: "connection refused", Verify: f.videoOnly},
	}}})
	want := []string{
		"channel lobby destination rtsp://dss2/lobby.sdp: unverified: DESCRIBE 404",
		"channel lobby destination rtsp://dss6/lobby.sdp: backoff: connection refused",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unhealthy:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// destinationsCollector exports the return check of a channel's destinations through the
// collector's own code, for a registry.
type destinationsCollector struct {
	c       *collector
	channel string
	dests   []inject.Stats
}

func (d destinationsCollector) Describe(ch chan<- *prometheus.Desc) {
	prometheus.DescribeByCollect(d, ch)
}

func (d destinationsCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range d.dests {
		d.c.collectVerify(ch, d.channel, s)
	}
}

// TestVerifyMetrics: destination_verified is 1 for a verified destination alone,
// destination_verify_state has a series for each state, 1 for the current one (off for figures
// without a check), and destination_server_delay_seconds is there while verified only.
func TestVerifyMetrics(t *testing.T) {
	f := findingsSince(time.Minute)
	reg := prometheus.NewRegistry()
	reg.MustRegister(destinationsCollector{newCollector(&instance{}, "", "", nil, nil), "lobby", []inject.Stats{
		recordingTo("rtsp://dss1/lobby.sdp", f.verified),
		recordingTo("rtsp://dss2/lobby.sdp", f.notServed),
		recordingTo("rtsp://dss3/lobby.sdp", f.checking),
		recordingTo("rtsp://dss4/lobby.sdp", inject.Verify{}),
	}})
	gathered, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	families := map[string]*dto.MetricFamily{}
	for _, f := range gathered {
		families[f.GetName()] = f
	}
	for _, tc := range []struct {
		dest, state string
		delay       float64 // -1: absent
	}{
		{"rtsp://dss1/lobby.sdp", "verified", 2.5},
		{"rtsp://dss2/lobby.sdp", "unverified", -1},
		{"rtsp://dss3/lobby.sdp", "checking", -1},
		{"rtsp://dss4/lobby.sdp", "off", -1},
	} {
		labels := map[string]string{"channel": "lobby", "destination": tc.dest}
		if v, ok := value(families, "liveinject_destination_verified", dto.MetricType_GAUGE, labels); !ok || v != one(tc.state == "verified") {
			t.Errorf("%s: liveinject_destination_verified %v (there: %t), want %v", tc.dest, v, ok, one(tc.state == "verified"))
		}
		for _, state := range []string{"off", "checking", "verified", "unverified"} {
			l := map[string]string{"channel": "lobby", "destination": tc.dest, "state": state}
			if v, ok := value(families, "liveinject_destination_verify_state", dto.MetricType_GAUGE, l); !ok || v != one(state == tc.state) {
				t.Errorf("%s: liveinject_destination_verify_state{state=%q} %v (there: %t), want %v", tc.dest, state, v, ok, one(state == tc.state))
			}
		}
		v, ok := value(families, "liveinject_destination_server_delay_seconds", dto.MetricType_GAUGE, labels)
		if tc.delay < 0 && ok {
			t.Errorf("%s: liveinject_destination_server_delay_seconds %v while %s, want none", tc.dest, v, tc.state)
		} else if tc.delay >= 0 && (!ok || v != tc.delay) {
			t.Errorf("%s: liveinject_destination_server_delay_seconds %v (there: %t), want %v", tc.dest, v, ok, tc.delay)
		}
	}
}

// TestDashboardVerifyInBrowser opens the dashboard in a headless Chromium on /status of
// destinations in each state of the return check, rendered by the endpoint's own code: a
// verified one is green with the server's delay, an unverified one has an amber light and says
// why in amber, one being checked or not checked says so.
func TestDashboardVerifyInBrowser(t *testing.T) {
	path := chromium(t)
	f := findingsSince(62 * time.Second)
	now := time.Now()
	status := statusReport{Version: "v1", Started: now.Add(-time.Hour), UptimeSeconds: 3600, ProfileErrors: []string{},
		ConfigWatch: "fsnotify", Channels: []channelReport{{Name: "lobby", State: supervisor.StateRunning, Since: &now,
			OnAir: "source", OnAirSince: &now, Mode: "auto", Inputs: []inputReport{}, LastStderr: []string{},
			Destinations: []destinationReport{
				destinationReportOf(recordingTo("rtsp://dss1/lobby.sdp", f.verified)),
				destinationReportOf(recordingTo("rtsp://dss2/lobby.sdp", f.notServed)),
				destinationReportOf(recordingTo("rtsp://dss3/lobby.sdp", f.checking)),
				destinationReportOf(recordingTo("rtsp://dss4/lobby.sdp", f.off)),
				destinationReportOf(recordingTo("rtsp://dss5/lobby.sdp", f.videoOnly)),
			}}}}
	s := &httpServer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveDashboard)
	mux.Handle("GET /assets/", s.serveAssets())
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, status, "  ") })
	mux.HandleFunc("GET /history", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, historyReport{IntervalSeconds: 2, Channels: map[string][]sample{}}, "")
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	b := openBrowser(t, path)
	b.do("open the dashboard", chromedp.Navigate(srv.URL+"/"))
	// text is how the words begin: the time in the state goes on
	dest := func(url, colour, state, text string) {
		t.Helper()
		row := `document.querySelector('article[data-channel="lobby"] .dest[data-url="` + url + `"]')`
		b.poll(url+" "+state, `(() => {
			const d = `+row+`;
			if (!d) return false;
			const v = d.querySelector(".verify");
			return d.querySelector(".light").dataset.colour === "`+colour+`" && v.dataset.state === "`+state+`" &&
				v.textContent.startsWith("`+text+`");
		})()`)
	}
	dest("rtsp://dss1/lobby.sdp", "green", "verified", "verified: the server plays it back, server delay 2.5 s")
	dest("rtsp://dss2/lobby.sdp", "amber", "unverified", "unverified: DESCRIBE 404 (for 1m ")
	dest("rtsp://dss3/lobby.sdp", "green", "checking", "checking what the server plays back")
	dest("rtsp://dss4/lobby.sdp", "green", "off", "playback not checked (verify off)")
	dest("rtsp://dss5/lobby.sdp", "amber", "unverified", "unverified: video only (for 1m ")
	for state, want := range map[string]string{"unverified": "rgb(217, 112, 8)", "verified": "rgb(31, 132, 90)"} { // --amber, --green
		colour := b.poll(state+"'s colour", `getComputedStyle(document.querySelector('.verify[data-state="`+state+`"]')).color`)
		if colour != want {
			t.Errorf("%s in %v, want %s", state, colour, want)
		}
	}
	b.screenshot("dashboard-verify.png")
}
