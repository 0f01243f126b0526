package main

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/supervisor"
)

// TestDestinationKind: every scheme a destination may have is of its kind, the secure one
// too, in any case, redacted or not; others come back as they are.
func TestDestinationKind(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"rtsp://dss.example.net/live/lobby.sdp", "rtsp"},
		{"rtsp://broadcaster:xxxxx@dss.example.net/lobby.sdp", "rtsp"},
		{"rtsps://dss.example.net:322/lobby.sdp", "rtsp"},
		{"RTSP://DSS/lobby.sdp", "rtsp"},
		{"rtmp://127.0.0.1:1935/live", "rtmp"},
		{"rtmps://a.rtmp.youtube.com/live2", "rtmp"},
		{"rtmps://b.rtmp.youtube.com/live2?backup=1", "rtmp"},
		{"RTMP://ingest.example/app", "rtmp"},
		{"srt://receiver.example:9000", "srt"},
		{"srt://receiver.example:9000?latency=200000", "srt"},
		{"SRT://receiver.example:9000", "srt"},
		{"rist://receiver.example:9000", "rist"},
		{"receiver.example:9000", ""},
		{"", ""},
	} {
		if got := DestinationKind(c.url); got != c.want {
			t.Errorf("DestinationKind(%q) = %q, want %q", c.url, got, c.want)
		}
	}
}

// TestDestinationReportKind: /status gives each destination its kind, and a destination of a
// kind the return check does not play back is off with the reason, not a blank that reads as
// a check turned off by mistake. An RTSP destination keeps the check's own words.
func TestDestinationReportKind(t *testing.T) {
	since := time.Now().Add(-time.Minute)
	for _, c := range []struct {
		name               string
		stats              inject.Stats
		kind, state, cause string
	}{
		{"rtsp verified", inject.Stats{URL: "rtsp://dss/lobby.sdp", State: inject.StateRecording, Transport: "tcp",
			Verify: inject.Verify{State: inject.VerifyVerified, ServerDelay: time.Second, Since: since}}, "rtsp", "verified", ""},
		{"rtsp unverified", inject.Stats{URL: "rtsp://dss/lobby.sdp", State: inject.StateRecording,
			Verify: inject.Verify{State: inject.VerifyUnverified, Cause: "DESCRIBE 404", Since: since}}, "rtsp", "unverified", "DESCRIBE 404"},
		{"rtsp verify = false", inject.Stats{URL: "rtsps://dss/lobby.sdp", State: inject.StateRecording,
			Verify: inject.Verify{State: inject.VerifyOff}}, "rtsp", "off", ""},
		{"rtmps", inject.Stats{URL: "rtmps://a.rtmp.youtube.com/live2", State: inject.StateRecording, Transport: "rtmps",
			Verify: inject.Verify{State: inject.VerifyOff}}, "rtmp", "off", "not played back: rtmp"},
		{"rtmp before its first figures", inject.Stats{URL: "rtmp://ingest/live", State: inject.StateWaiting},
			"rtmp", "off", "not played back: rtmp"},
		{"srt", inject.Stats{URL: "srt://receiver:9000", State: inject.StateBackoff, LastError: "connection refused",
			Verify: inject.Verify{State: inject.VerifyOff}}, "srt", "off", "not played back: srt"},
	} {
		r := destinationReportOf(c.stats)
		if r.Kind != c.kind || r.Verify.State != c.state || r.Verify.Cause != c.cause {
			t.Errorf("%s: kind %q, verify %q %q; want %q, %q %q", c.name, r.Kind, r.Verify.State, r.Verify.Cause,
				c.kind, c.state, c.cause)
		}
		var raw map[string]any
		b, err := json.Marshal(r)
		if err != nil || json.Unmarshal(b, &raw) != nil || raw["kind"] != c.kind {
			t.Errorf("%s: JSON %s, want \"kind\": %q", c.name, b, c.kind)
		}
	}
}

// TestStatusDestinationKinds: `liveinject status` shows each destination's kind, and an RTMP or
// SRT destination's VERIFY as off with why; the kind of an endpoint that does not say it (a
// version before kinds) comes from its URL.
func TestStatusDestinationKinds(t *testing.T) {
	off := verifyReport{State: inject.VerifyOff}
	var out strings.Builder
	printStatus(&out, &statusReport{Channels: []channelReport{{Name: "lobby", State: supervisor.StateRunning,
		Destinations: []destinationReport{
			destinationReportOf(inject.Stats{URL: "rtsp://dss/lobby.sdp", State: inject.StateRecording,
				Verify: inject.Verify{State: inject.VerifyVerified, ServerDelay: 2600 * time.Millisecond}}),
			// inject says since when the check has been off: all along, which says nothing
			destinationReportOf(inject.Stats{URL: "rtmps://a.rtmp.youtube.com/live2", State: inject.StateRecording,
				Transport: "rtmps", Verify: inject.Verify{State: inject.VerifyOff, Since: time.Now().Add(-time.Hour)}}),
			destinationReportOf(inject.Stats{URL: "srt://receiver:9000", State: inject.StateBackoff}),
			{URL: "rtsp://old/lobby.sdp", State: inject.StateRecording, Verify: off},
		}}}})
	for _, want := range []string{
		`(?m)^DESTINATION +CHANNEL +KIND +STATE +VERIFY +SERVER DELAY +WHY$`,
		`(?m)^rtsp://dss/lobby\.sdp +lobby +rtsp +recording +verified +2\.6s +-$`,
		`(?m)^rtmps://a\.rtmp\.youtube\.com/live2 +lobby +rtmp +recording +off +- +not played back: rtmp$`,
		`(?m)^srt://receiver:9000 +lobby +srt +backoff +off +- +not played back: srt$`,
		`(?m)^rtsp://old/lobby\.sdp +lobby +rtsp +recording +off +- +-$`,
		// RTMP and SRT destinations that record are as they should be: 3 of 4
		`(?m)^lobby +running +- +0s +0\.0 +0 +3/4 ok `,
	} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("output does not match %s:\n%s", want, out.String())
		}
	}
}

// TestHealthzDestinationKinds: /healthz treats destinations of every kind alike: one that does
// not record is a problem whatever its kind, and one of a kind the return check does not play
// back is not taken for unverified.
func TestHealthzDestinationKinds(t *testing.T) {
	got := unhealthy([]supervisor.Status{{Name: "lobby", State: supervisor.StateRunning,
		Destinations: []inject.Stats{
			{URL: "rtmps://a.rtmp.youtube.com/live2", State: inject.StateRecording, Transport: "rtmps",
				Verify: inject.Verify{State: inject.VerifyOff}},
			{URL: "srt://receiver:9000", State: inject.StateRecording, Transport: "srt"},
			{URL: "rtmps://b.rtmp.youtube.com/live2?backup=1", State: inject.StateAuthFailed, LastError: "authentication failed"},
			{URL: "srt://receiver2:9000", State: inject.StateBackoff, LastError: "connection refused"},
		}}})
	want := []string{
		"channel lobby destination rtmps://b.rtmp.youtube.com/live2?backup=1: auth_failed: authentication failed",
		"channel lobby destination srt://receiver2:9000: backoff: connection refused",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("unhealthy:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
