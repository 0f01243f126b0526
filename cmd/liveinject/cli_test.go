package main

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
)

// cli runs a command line in-process and returns its exit status, standard output and standard
// error.
func cli(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr fftest.Buffer
	code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), args)
	return code, stdout.String(), stderr.String()
}

// TestHelp checks that every way of asking for help succeeds, on standard output, with the
// commands or the command's flags and an example.
func TestHelp(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"-h"}, []string{"usage: liveinject <command>", "run ", "check ", "status ", "restart ", "switch ", "version ", "examples:"}},
		{[]string{"--help"}, []string{"usage: liveinject <command>", "liveinject check -c /etc/liveinject/liveinject.toml"}},
		{[]string{"help"}, []string{"usage: liveinject <command>"}},
		{[]string{"run", "--help"}, []string{"usage: liveinject run [-c config]", "-log-level level", "debug, info, warn or error", "example:\n  liveinject run -c "}},
		{[]string{"run", "-c", "x.toml", "-h"}, []string{"usage: liveinject run"}},
		{[]string{"check", "-h"}, []string{"usage: liveinject check [-c config]", "(default \"/etc/liveinject/liveinject.toml\")", "example:"}},
		{[]string{"status", "-help"}, []string{"usage: liveinject status [-addr host:port] [-json]", "(default \"127.0.0.1:7580\")", "example:"}},
		{[]string{"restart", "--help"}, []string{"usage: liveinject restart [-addr host:port] NAME", "example:\n  liveinject restart lobby"}},
		{[]string{"switch", "-h"}, []string{"usage: liveinject switch [-addr host:port] NAME source|backup N|slate|auto",
			"(default \"127.0.0.1:7580\")", "example:\n  liveinject switch lobby backup 1"}},
		{[]string{"version", "-h"}, []string{"usage: liveinject version\n", "example:"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != exitOK || errs != "" {
				t.Errorf("exit %d, stderr %q; want 0 and nothing", code, errs)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
		})
	}
}

func TestVersionFlag(t *testing.T) {
	for _, arg := range []string{"--version", "-version", "-V"} {
		code, out, errs := cli(t, arg)
		if code != exitOK || !strings.HasPrefix(out, "liveinject ") || errs != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 0 and liveinject's version", arg, code, out, errs)
		}
	}
}

// TestSlips checks the hints for the usual mistakes on the command line: each exits 2 and says
// what to type instead.
func TestSlips(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"log level verbose", []string{"run", "-log-level", "verbose", "-c", "../../examples/liveinject.toml"},
			[]string{`invalid value "verbose" for flag -log-level: not one of debug, info, warn, error (debug is the most verbose)`,
				"usage: liveinject run [-c config] [-log-level debug|info|warn|error]"}},
		{"log format yaml", []string{"run", "-log-format", "yaml"},
			[]string{`invalid value "yaml" for flag -log-format: not one of text, json`}},
		{"config without -c", []string{"check", "cfg.toml"},
			[]string{`liveinject check: unexpected argument "cfg.toml": the config is given with -c: liveinject check -c cfg.toml`}},
		{"run config without -c", []string{"run", "/etc/x/cfg.toml"},
			[]string{"liveinject run -c /etc/x/cfg.toml"}},
		{"profile as the config", []string{"check", "-c", "../../examples/profiles/test.toml"},
			[]string{"../../examples/profiles/test.toml is a channel profile, not the main config",
				"here perhaps -c ../../examples/liveinject.toml"}},
		{"profile as the config of run", []string{"run", "-c", "../../examples/rack/profiles/lobby.toml"},
			[]string{"is a channel profile, not the main config"}},
		{"config as a command", []string{"cfg.toml"},
			[]string{`"cfg.toml" is not a command: liveinject check -c cfg.toml`}},
		{"flag before the command", []string{"-c", "cfg.toml", "run"},
			[]string{`"-c" before the command: the command comes first: liveinject run -c cfg.toml`}},
		{"flag and no command", []string{"-c", "cfg.toml"},
			[]string{`"-c" before a command: the command comes first, as in liveinject run -c cfg.toml`, "usage: liveinject <command>"}},
		{"unknown command", []string{"stats"}, []string{`unknown command "stats"`, "usage: liveinject <command>"}},
		{"unknown flag", []string{"check", "-x"}, []string{"flag provided but not defined: -x", "liveinject check -h for more"}},
		{"stray argument", []string{"status", "now"}, []string{`liveinject status: unexpected argument "now"`, "usage: liveinject status"}},
		{"switch with a flag last", []string{"switch", "lobby", "slate", "-addr", "127.0.0.1:1"},
			[]string{`liveinject switch: "-addr" after an argument: flags come first: liveinject switch [-addr host:port] NAME`}},
		{"switch without an input", []string{"switch", "lobby"},
			[]string{"liveinject switch: give a channel name and an input: liveinject switch [-addr host:port] NAME source|backup N|slate|auto"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, tc.args...)
			if code != exitConfig || out != "" {
				t.Errorf("exit %d, stdout %q; want %d and nothing", code, out, exitConfig)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
			if strings.Contains(errs, "unknown key") || strings.Contains(errs, "slog:") {
				t.Errorf("stderr shows a raw error:\n%s", errs)
			}
		})
	}
}

// fakeServer serves each connection on 127.0.0.1 with serve until the test ends.
func fakeServer(t *testing.T, serve func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c)
			})
		}
	})
	t.Cleanup(func() {
		l.Close()
		wg.Wait()
	})
	return l.Addr().String()
}

// readRequest reads a request's header from c and reports whether it came whole.
func readRequest(c net.Conn) bool {
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return false
		}
		if line == "\r\n" {
			return true
		}
	}
}

// TestStatusOfSomethingElse runs status and restart against ports where something other than
// liveinject answers: they must say so, not print a raw EOF or parse error.
func TestStatusOfSomethingElse(t *testing.T) {
	// Reads the whole request first: closing with unread bytes would reset the connection.
	closes := fakeServer(t, func(c net.Conn) { readRequest(c) })
	rtsp := fakeServer(t, func(c net.Conn) {
		if readRequest(c) {
			c.Write([]byte("RTSP/1.0 400 Bad Request\r\nCSeq: 0\r\n\r\n")) //nolint:errcheck // the test reads the client's view
		}
	})
	other := httptest.NewServer(http.NotFoundHandler())
	defer other.Close()
	otherAddr := strings.TrimPrefix(other.URL, "http://")
	// The slip of giving status the relay's port instead of the HTTP endpoint's.
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()

	for _, tc := range []struct {
		name, addr string
		want       string
	}{
		{"closes at once", closes, closes + " closed the connection without an answer (EOF): it is not liveinject's HTTP endpoint; give -addr liveinject's [http] listen address (default 127.0.0.1:7580)"},
		{"RTSP server", rtsp, rtsp + " answered as an RTSP server does"},
		{"liveinject's relay", rl.Addr(), rl.Addr() + " closed the connection without an answer"},
		{"another HTTP server", otherAddr, otherAddr + " answers HTTP, but has no /status (404 Not Found): it is not liveinject's HTTP endpoint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errs := cli(t, "status", "-addr", tc.addr)
			if code != exitFail || out != "" || !strings.HasPrefix(errs, "liveinject status: "+tc.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, out, errs, exitFail, tc.want)
			}
			if strings.Contains(errs, `Get "`) {
				t.Errorf("stderr shows the raw error: %s", errs)
			}
		})
	}
	if code, _, errs := cli(t, "restart", "-addr", closes, "lobby"); code != exitFail ||
		!strings.Contains(errs, "closed the connection without an answer") {
		t.Errorf("restart: exit %d, stderr %q; want %d and a word that this is not liveinject", code, errs, exitFail)
	}
}
