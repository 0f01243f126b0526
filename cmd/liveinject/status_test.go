package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/webhook"
	"github.com/liveinject/liveinject/supervisor"
)

// TestStatusCommand runs `liveinject status` against a streaming instance and against a port
// where nothing listens.
func TestStatusCommand(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	waitSent(t, r, 0)
	status := func(args ...string) (int, string, string) {
		var stdout, stderr fftest.Buffer
		code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), append([]string{"status"}, args...))
		return code, stdout.String(), stderr.String()
	}

	t.Run("table", func(t *testing.T) {
		code, out, errs := status("--addr", r.inst.httpAddr)
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		var line string
		for l := range strings.Lines(out) {
			if strings.HasPrefix(l, "test ") {
				line = l
			}
		}
		if f := strings.Fields(line); len(f) != 9 || f[1] != "running" || f[2] != "source" || f[6] != "1/1" || f[8] != "-" {
			t.Errorf("channel line %q, want test running with its source on air, 1/1 destinations ok and no error:\n%s", line, out)
		}
		for _, want := range []string{"CHANNEL  STATE    ON AIR", "LAST ERROR", "relay rtsp://" + r.inst.relayAddr, "test.sdp  true"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		// its destination, its kind, with what the return check found (whichever it is by now)
		dest := regexp.QuoteMeta("rtsp://liveinject:xxxxx@" + r.inst.relayAddr + "/test.sdp")
		if !regexp.MustCompile(`(?m)^` + dest + ` +test +rtsp +recording +(off|checking|verified) `).MatchString(out) {
			t.Errorf("no line for the destination, recording:\n%s", out)
		}
	})

	t.Run("json", func(t *testing.T) {
		code, out, errs := status("--addr", r.inst.httpAddr, "--json")
		if code != exitOK {
			t.Fatalf("exit %d:\n%s", code, errs)
		}
		var s statusReport
		if err := json.Unmarshal([]byte(out), &s); err != nil || len(s.Channels) != 1 || s.Channels[0].Name != "test" {
			t.Errorf("%v: %+v\n%s", err, s, out)
		}
	})

	t.Run("nothing listens", func(t *testing.T) {
		addr := fmt.Sprintf("127.0.0.1:%d", fftest.FreePort(t))
		code, out, errs := status("--addr", addr)
		want := "liveinject status: nothing listens at " + addr + " ("
		if code != exitFail || out != "" || !strings.HasPrefix(errs, want) || !strings.Contains(errs, "is liveinject running?") {
			t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q... is liveinject running?", code, out, errs, exitFail, want)
		}
	})
}

// TestRestartCommand restarts a streaming channel with `liveinject restart`, and checks the
// endpoint's refusals: a request from a page of another site, a GET, and an unknown channel.
func TestRestartCommand(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	s := waitSent(t, r, 0)
	pid := s.Channels[0].FFmpegPID
	run := func(args ...string) (int, string) {
		var stdout, stderr fftest.Buffer
		code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), append([]string{"restart", "-addr", r.inst.httpAddr}, args...))
		return code, stdout.String() + stderr.String()
	}
	if code, out := run("test"); code != exitOK || out != "channel test: ffmpeg restarting\n" {
		t.Errorf("restart test: %d %q", code, out)
	}
	fftest.WaitFor(t, 20*time.Second, "a new ffmpeg streaming", func() bool {
		c := getStatusReport(t, r).Channels[0]
		return c.FFmpegPID != pid && c.FFmpegPID != 0 && c.FFmpegStarts == 2 && c.State == "running"
	})
	if code, out := run("nope"); code != exitFail || !strings.Contains(out, `404 Not Found: no channel "nope"`) {
		t.Errorf("restart nope: %d %q", code, out)
	}
	url := "http://" + r.inst.httpAddr + "/channels/test/restart"
	// as a page of another site would send it
	if code, _, body := do(t, http.MethodPost, url, http.Header{"Sec-Fetch-Site": {"cross-site"}}); code != http.StatusForbidden {
		t.Errorf("POST from another site: %d %s, want 403", code, body)
	}
	if code, _, _ := do(t, http.MethodGet, url, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d, want 405", code)
	}
	if c := getStatusReport(t, r).Channels[0]; c.FFmpegStarts != 2 {
		t.Errorf("%d ffmpeg starts, want 2: only the command restarted it", c.FFmpegStarts)
	}
}

// TestLastErrorAge: the status line puts a problem of now first, as it is, and says how long
// ago a problem of the past was, so that an old cause is not read as the channel's state.
func TestLastErrorAge(t *testing.T) {
	before := time.Now().Add(-90 * time.Second)
	running := channelReport{State: supervisor.StateRunning, LastCause: "ffmpeg exited with code 1", LastCauseAt: &before}
	if got, want := lastError(running), "ffmpeg exited with code 1 (1m30s ago)"; got != want {
		t.Errorf("running channel: %q, want %q", got, want)
	}
	failing := running
	failing.Destinations = []destinationReport{{URL: "rtsp://a/x.sdp", State: inject.StateBackoff,
		LastError: "connection refused", LastErrorAt: &before}}
	if got, want := lastError(failing), "rtsp://a/x.sdp: connection refused"; got != want {
		t.Errorf("failing destination: %q, want %q", got, want)
	}
	backoff := channelReport{State: supervisor.StateBackoff, LastCause: "ffmpeg exited with code 1", LastCauseAt: &before}
	if got, want := lastError(backoff), "ffmpeg exited with code 1"; got != want {
		t.Errorf("channel in backoff: %q, want %q", got, want)
	}
}

// TestStatusWebhooks: `liveinject status` lists the webhooks, a failing one with its queue and
// its last error.
func TestStatusWebhooks(t *testing.T) {
	at := time.Now().Add(-30 * time.Second)
	var out strings.Builder
	printStatus(&out, &statusReport{Webhooks: []webhook.Stats{
		{Name: "https://hooks.example/a", Up: true},
		{Name: "pager", Queued: 12, Dropped: 3, LastError: "answered 503 Service Unavailable", LastErrorAt: at},
	}})
	for _, want := range []string{
		"WEBHOOK                  STATE    QUEUED  DROPPED  LAST ERROR\n",
		"https://hooks.example/a  ok       0       0        \n",
		"pager                    failing  12      3        answered 503 Service Unavailable (30s ago)\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
