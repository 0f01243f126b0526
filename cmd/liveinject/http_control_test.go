package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/supervisor"
)

// openFiles returns the number of this process's open file descriptors.
func openFiles(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	return len(fds)
}

// TestHTTPIdleTimeout opens keep-alive connections that make one request each and then say
// nothing: the server closes every one after its idle timeout, and the files they held are
// given back.
func TestHTTPIdleTimeout(t *testing.T) {
	fftest.Require(t)
	const idle = 500 * time.Millisecond
	const clients = 100
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"),
		func(m *Main) { m.configureHTTP = func(s *httpServer) { s.IdleTimeout = idle } })
	waitSent(t, r, 0)

	before := openFiles(t)
	conns := make([]net.Conn, clients)
	for i := range conns {
		c, err := net.Dial("tcp", r.inst.httpAddr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body) //nolint:errcheck
		resp.Body.Close()
		if resp.Close {
			t.Fatalf("the server closes after a request: nothing to test")
		}
	}
	open := openFiles(t)
	if open < before+clients {
		t.Errorf("%d open files with %d idle clients, %d before: want at least one more each", open, clients, before)
	}

	// The server closes each connection: a read gets EOF within the idle timeout and a margin.
	start := time.Now()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(idle + 5*time.Second)) //nolint:errcheck
		if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
			t.Fatalf("client %d: read %v after %v, want EOF: the server held the idle connection", i, err, time.Since(start))
		}
	}
	closedAfter := time.Since(start)
	for _, c := range conns {
		c.Close()
	}
	var after int
	fftest.WaitFor(t, 5*time.Second, "the idle connections' files to be closed", func() bool {
		after = openFiles(t)
		return after <= before+2 // slack for what the channel opens meanwhile
	})
	t.Logf("open files: %d before, %d with %d idle keep-alive clients, %d after the %v idle timeout (all closed by the server within %v)",
		before, open, clients, after, idle, closedAfter.Round(time.Millisecond))
}

// TestRestartRefusesOtherSites sends the restart of the test channel as a browser does for a page
// of another site (a form, or a script): refused, and ffmpeg keeps running; as the dashboard's own
// page does: ffmpeg is restarted.
func TestRestartRefusesOtherSites(t *testing.T) {
	fftest.Require(t)
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort, "rtsp://{relay}/test.sdp"))
	first := waitSent(t, r, 0).Channels[0]
	base := "http://" + r.inst.httpAddr
	url := base + "/channels/test/restart"

	for _, tc := range []struct {
		name   string
		header http.Header
	}{
		{"a form of another site", http.Header{"Content-Type": {"application/x-www-form-urlencoded"},
			"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"}}},
		{"a script of another site", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://evil.example"},
			controlHeader: {"1"}}},
		{"another port of the box", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://127.0.0.1:8080"}}},
		{"a browser without Sec-Fetch-Site", http.Header{"Origin": {"http://evil.example"}}},
	} {
		if code, _, body := do(t, "POST", url, tc.header); code != http.StatusForbidden {
			t.Errorf("POST from %s: %d %s, want 403", tc.name, code, body)
		}
	}
	if code, _, _ := do(t, "GET", url, nil); code != http.StatusMethodNotAllowed {
		t.Errorf("GET of the restart: %d, want 405", code)
	}
	if c := getStatusReport(t, r).Channels[0]; c.FFmpegPID != first.FFmpegPID || c.FFmpegStarts != first.FFmpegStarts {
		t.Errorf("refused restart: ffmpeg pid %d, starts %d; want %d and %d", c.FFmpegPID, c.FFmpegStarts, first.FFmpegPID, first.FFmpegStarts)
	}

	// what the dashboard's page sends
	code, _, body := do(t, "POST", url, http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {base}})
	if code != http.StatusAccepted {
		t.Fatalf("POST from the dashboard: %d %s, want 202", code, body)
	}
	fftest.WaitFor(t, 20*time.Second, "a new ffmpeg", func() bool {
		c := getStatusReport(t, r).Channels[0]
		return c.FFmpegPID != 0 && c.FFmpegPID != first.FFmpegPID && c.FFmpegStarts == first.FFmpegStarts+1
	})
	// a program such as curl says nothing of where it comes from
	if code, _, _ := do(t, "POST", base+"/channels/nope/restart", nil); code != http.StatusNotFound {
		t.Errorf("restart of an unknown channel: %d, want 404", code)
	}
}

// TestRestartChannelInError asks to restart a channel whose profile cannot run (its injector
// refuses the destination), so that no ffmpeg runs: the answer is 409 with what to do, not 202.
func TestRestartChannelInError(t *testing.T) {
	bad := profiles.Channel{Name: "bad", File: "/etc/liveinject/profiles/bad.toml", Source: profiles.Source{Kind: "testsrc"},
		Destinations: []profiles.Destination{{URL: "http://127.0.0.1:1/bad.sdp"}}}
	sup := &supervisor.Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{bad}}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- sup.Run(ctx) }()
	defer func() {
		cancel()
		<-done
	}()
	fftest.WaitFor(t, 10*time.Second, "the channel in state error", func() bool {
		st := sup.Status()
		return len(st) == 1 && st[0].State == supervisor.StateError
	})
	hs := &httpServer{Address: "127.0.0.1:0", Instance: &instance{sup: sup}, Logger: slog.New(slog.DiscardHandler)}
	if err := hs.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer hs.Close()

	code, _, body := do(t, "POST", "http://"+hs.Addr()+"/channels/bad/restart", http.Header{controlHeader: {"1"}})
	if code != http.StatusConflict || !strings.Contains(string(body), "fix its profile "+bad.File) {
		t.Errorf("restart of a channel in state error: %d %s, want 409 saying to fix %s", code, body, bad.File)
	}
	if st := sup.Status()[0]; st.State != supervisor.StateError || st.Starts != 0 {
		t.Errorf("status %+v, want still in error, no ffmpeg started", st)
	}
	if code, _, _ := do(t, "POST", "http://"+hs.Addr()+"/channels/nope/restart", http.Header{controlHeader: {"1"}}); code != http.StatusNotFound {
		t.Errorf("restart of an unknown channel: %d, want 404", code)
	}
}
