package main

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestHostGuard checks which Host headers the endpoint takes for each kind of listen address.
func TestHostGuard(t *testing.T) {
	hostname, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name           string
		listen, bound  string
		hosts          []string
		allow, refused []string
	}{{
		name:   "loopback",
		listen: "127.0.0.1:7580", bound: "127.0.0.1:7580",
		allow: []string{"127.0.0.1:7580", "127.0.0.1", "127.0.0.1:8080", "localhost:7580", "localhost", "LocalHost.",
			"[::1]:7580", "::1", "127.0.0.2", hostname, hostname + ":7580", strings.ToUpper(hostname), ""},
		refused: []string{"evil.example:7580", "evil.example", "localhost.evil.example", "127.0.0.1.evil.example:7580",
			"192.0.2.7:7580", "[2001:db8::7]:7580", "encoder1.example.net", "xn--lcalhost-0ta", "local host"},
	}, {
		name:   "loopback with hosts",
		listen: "127.0.0.1:0", bound: "127.0.0.1:41234", hosts: []string{"encoder1.example.net", "Encoder1", "192.0.2.7"},
		allow: []string{"encoder1.example.net:7580", "ENCODER1.example.net.", "encoder1", "192.0.2.7:7580",
			"127.0.0.1:41234"},
		refused: []string{"encoder1.example.net.evil.example", "evil.example", "encoder2", "192.0.2.8", "example.net"},
	}, {
		name:   "a name to listen on",
		listen: "localhost:7580", bound: "127.0.0.1:7580",
		allow:   []string{"localhost:7580", "127.0.0.1:7580"},
		refused: []string{"evil.example:7580"},
	}, {
		name:   "an address of the box",
		listen: "192.0.2.7:7580", bound: "192.0.2.7:7580",
		allow:   []string{"192.0.2.7:7580", "[::ffff:192.0.2.7]:7580", "127.0.0.1:7580"},
		refused: []string{"192.0.2.8:7580", "evil.example:7580"},
	}, {
		name:   "every IPv4 address",
		listen: "0.0.0.0:7580", bound: "0.0.0.0:7580", hosts: []string{"encoder1.example.net"},
		allow:   []string{"192.0.2.8:7580", "10.1.2.3", "[2001:db8::7]:7580", "encoder1.example.net:7580", hostname},
		refused: []string{"evil.example:7580", "encoder2.example.net"},
	}, {
		name:   "every address",
		listen: ":7580", bound: "[::]:7580",
		allow:   []string{"192.0.2.8:7580", "[fe80::1%25eth0]:7580", "[2001:db8::7]"},
		refused: []string{"evil.example:7580"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			g := newHostGuard(tc.listen, tc.bound, tc.hosts, slog.New(slog.DiscardHandler))
			for _, h := range tc.allow {
				if !g.allowed(h) {
					t.Errorf("Host %q refused, want it taken", h)
				}
			}
			for _, h := range tc.refused {
				if g.allowed(h) {
					t.Errorf("Host %q taken, want it refused", h)
				}
			}
		})
	}
}

// TestHTTPRefusesOtherHosts asks every route of a running instance's endpoint, through its real
// handler, with the Host headers of a DNS rebinding page (a name of the attacker's that resolves
// to 127.0.0.1): each gets 421 and the name to add to [http] hosts, a restart restarts nothing,
// and the endpoint's own names are served. The endpoint answered them all.
func TestHTTPRefusesOtherHosts(t *testing.T) {
	fftest.Require(t)
	var hs *httpServer
	r := startRun(t, writeConfig(t, relayAny+httpAnyPort+"hosts = [\"encoder1.example.net\"]\n", "rtsp://{relay}/test.sdp"),
		func(m *Main) { m.configureHTTP = func(s *httpServer) { hs = s } })
	first := waitSent(t, r, 0).Channels[0]
	handler := hs.srv.Handler
	serve := func(method, host, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, "http://"+host+path, nil)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, req)
		return rec
	}

	routes := []struct{ method, path string }{
		{"GET", "/status"}, {"GET", "/metrics"}, {"GET", "/healthz"}, {"GET", "/"}, {"GET", "/assets/app.js"},
		{"GET", "/history"}, {"GET", "/channels/test/thumbnail.jpg"}, {"POST", "/channels/test/restart"},
		{"POST", "/channels/test/switch?to=slate"},
	}
	for _, host := range []string{"evil.example:7580", "evil.example", "127.0.0.1.evil.example:7580",
		"localhost.evil.example", "encoder1.example.net.evil.example:7580"} {
		for _, rt := range routes {
			rec := serve(rt.method, host, rt.path)
			name, _, _ := strings.Cut(host, ":")
			want := fmt.Sprintf(`[http] hosts = [%q]`, name)
			if rec.Code != http.StatusMisdirectedRequest || !strings.Contains(rec.Body.String(), want) {
				t.Errorf("%s %s with Host %s: %d %q, want 421 saying %s", rt.method, rt.path, host, rec.Code, clip(rec.Body.String()), want)
			}
		}
	}
	r.stderr.WaitFor(t, `msg="request refused: its Host is not a name of this endpoint`)

	_, port, _ := net.SplitHostPort(r.inst.httpAddr)
	for _, host := range []string{r.inst.httpAddr, "127.0.0.1", "localhost:" + port, "LOCALHOST", "encoder1.example.net:7580",
		"Encoder1.Example.Net.", "[::1]:" + port} {
		if rec := serve("GET", host, "/status"); rec.Code != http.StatusOK {
			t.Errorf("GET /status with Host %s: %d %q, want 200", host, rec.Code, clip(rec.Body.String()))
		}
	}
	if c := getStatusReport(t, r).Channels[0]; c.FFmpegPID != first.FFmpegPID || c.FFmpegStarts != first.FFmpegStarts {
		t.Errorf("restarts refused: ffmpeg pid %d, starts %d; want %d and %d", c.FFmpegPID, c.FFmpegStarts, first.FFmpegPID, first.FFmpegStarts)
	} else if c.Mode != "auto" || c.Switches.Manual != 0 {
		t.Errorf("switches refused: mode %q, %d manual switches; want auto and none", c.Mode, c.Switches.Manual)
	}
}

// TestStatusOfAnotherName runs status against an endpoint reached by a name it does not know: the
// command says which [http] hosts entry would let the name in.
func TestStatusOfAnotherName(t *testing.T) {
	// What the endpoint of a box that listens on its addresses answers, reached by a name of the
	// box that is not in its [http] hosts: the test has no such name, so it gives the Host.
	guard := newHostGuard("0.0.0.0:7580", "0.0.0.0:7580", nil, slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Host = "encoder2.example.net:7580"
		guard.Handler(http.NotFoundHandler()).ServeHTTP(w, r)
	}))
	defer srv.Close()
	code, out, errs := cli(t, "status", "-addr", srv.URL)
	want := `421 Misdirected Request: liveinject's HTTP endpoint does not answer to the name "encoder2.example.net"`
	if code != exitFail || out != "" || !strings.Contains(errs, want) ||
		!strings.HasSuffix(errs, `add it to the main config: [http] hosts = ["encoder2.example.net"], and restart liveinject`+"\n") {
		t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q... [http] hosts = [\"encoder2.example.net\"]...", code, out, errs, exitFail, want)
	}
}

// clip returns the start of a body, for a message.
func clip(body string) string {
	if len(body) > 200 {
		return body[:200] + "..."
	}
	return body
}

// rawRequest sends one request to addr with the Host header host and the headers given, and
// returns the status code and the body.
func rawRequest(t *testing.T, method, addr, host, path string, header ...string) (int, string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(20 * time.Second)) //nolint:errcheck
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nContent-Length: 0\r\n", method, path, host)
	for _, h := range header {
		req += h + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%s %s with Host %s: %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// TestBinaryRefusesOtherHosts runs the real binary, with no channel, and asks its endpoint as a
// DNS rebinding page and a page of another site would: /metrics and /healthz refuse the first
// with 421, the restart refuses the second with 403, while the names of the endpoint and
// `liveinject status` are served.
func TestBinaryRefusesOtherHosts(t *testing.T) {
	fftest.Require(t)
	bin := buildBinary(t)
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "liveinject.toml")
	if err := os.WriteFile(config, []byte(httpAnyPort+"hosts = [\"encoder1.example.net\"]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var stderr fftest.Buffer
	cmd := exec.Command(bin, "run", "-c", config)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Signal(syscall.SIGINT) //nolint:errcheck
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("exit: %v\n%s", err, stderr.String())
			}
		case <-time.After(10 * time.Second):
			cmd.Process.Kill() //nolint:errcheck
			<-exited
			t.Errorf("still running 10 s after SIGINT:\n%s", stderr.String())
		}
	}()
	stderr.WaitFor(t, `msg="http listening"`)
	addr := regexp.MustCompile(`msg="http listening" .*address=(\S+)`).FindStringSubmatch(stderr.String())[1]
	_, port, _ := net.SplitHostPort(addr)
	// With no profile the box is healthy once the supervisor runs.
	fftest.WaitFor(t, 10*time.Second, "/healthz ok", func() bool {
		code, _ := rawRequest(t, "GET", addr, addr, "/healthz")
		return code == http.StatusOK
	})

	for _, path := range []string{"/metrics", "/healthz", "/status"} {
		if code, body := rawRequest(t, "GET", addr, "evil.example:"+port, path); code != http.StatusMisdirectedRequest ||
			!strings.Contains(body, `[http] hosts = ["evil.example"]`) {
			t.Errorf("GET %s with Host evil.example:%s: %d %q, want 421 naming the hosts entry", path, port, code, clip(body))
		}
		for _, host := range []string{addr, "encoder1.example.net:" + port} {
			if code, body := rawRequest(t, "GET", addr, host, path); code != http.StatusOK {
				t.Errorf("GET %s with Host %s: %d %q, want 200", path, host, code, clip(body))
			}
		}
	}
	for _, header := range [][]string{
		{"Sec-Fetch-Site: cross-site", "Origin: http://evil.example", "Content-Type: application/x-www-form-urlencoded"},
		{"Origin: http://evil.example"},
	} {
		if code, body := rawRequest(t, "POST", addr, addr, "/channels/test/restart", header...); code != http.StatusForbidden {
			t.Errorf("POST of a restart with %q: %d %q, want 403", header, code, body)
		}
	}

	out, err := exec.Command(bin, "status", "-addr", addr).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "(no channels)") {
		t.Errorf("liveinject status -addr %s: %v\n%s", addr, err, out)
	}
}
