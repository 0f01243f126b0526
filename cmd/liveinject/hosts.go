package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/liveinject/liveinject/internal/ratelog"
)

// hostGuard refuses the requests whose Host header is not a name of the endpoint. Without it the
// endpoint, which has no credentials by default, answers any web page whose own host name has
// been made to resolve to this box (DNS rebinding): the browser takes the page and the endpoint
// for one origin, so the page reads /status, /metrics and the thumbnails and restarts channels.
// Such a page can choose its name but not the Host header its browser sends, which is that name.
// An IP address in the Host header is no such name: no DNS answer can rebind it.
type hostGuard struct {
	// anyIP takes every IP address: the endpoint listens on all of the box's addresses.
	anyIP bool
	ips   []netip.Addr
	// names are lower case, without a trailing dot.
	names  []string
	logger *slog.Logger

	refused atomic.Uint64
	logs    ratelog.Limiter // Every: hostLogEvery
}

// hostLogEvery is how often at most a refused request is logged: a page that keeps trying must
// not fill the log.
const hostLogEvery = time.Minute

// newHostGuard returns the guard of an endpoint listening on listen (as configured, such as
// "localhost:7580") and bound to bound (such as "127.0.0.1:7580" or "[::]:7580"), which also
// answers to hosts, the names of [http] hosts. It takes the addresses of bound (every address
// when it is a wildcard), the loopback addresses, "localhost", the machine's host name, the name
// in listen if it has one, and hosts.
func newHostGuard(listen, bound string, hosts []string, logger *slog.Logger) *hostGuard {
	g := &hostGuard{names: []string{"localhost"}, logger: logger}
	g.logs.Every = hostLogEvery
	if name, err := os.Hostname(); err == nil && name != "" {
		g.add(name)
	}
	for _, addr := range []string{listen, bound} {
		if host, _, err := net.SplitHostPort(addr); err == nil && host != "" {
			g.add(host)
		}
	}
	for _, h := range hosts {
		g.add(h)
	}
	return g
}

// add makes the guard take host, a name or an IP address.
func (g *hostGuard) add(host string) {
	if ip, ok := parseIP(host); ok {
		g.anyIP = g.anyIP || ip.IsUnspecified()
		g.ips = append(g.ips, ip)
		return
	}
	if name := canonicalName(host); !slices.Contains(g.names, name) {
		g.names = append(g.names, name)
	}
}

// allowed reports whether a request with the Host header host is for this endpoint. Any port
// goes: an SSH tunnel or a proxy may give the endpoint another one.
func (g *hostGuard) allowed(host string) bool {
	if host == "" {
		return true // HTTP/1.0 without Host: not a browser, which always sends one
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if ip, ok := parseIP(host); ok {
		return g.anyIP || ip.IsLoopback() || slices.Contains(g.ips, ip)
	}
	return slices.Contains(g.names, canonicalName(host))
}

// Handler refuses with 421 Misdirected Request the requests that are not for this endpoint,
// saying which [http] hosts entry would let them in, and passes the others to next.
func (g *hostGuard) Handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if g.allowed(r.Host) {
			next.ServeHTTP(w, r)
			return
		}
		g.logRefusal(r)
		name := r.Host
		if h, _, err := net.SplitHostPort(name); err == nil {
			name = h
		}
		name = canonicalName(name)
		// The answer names no host the endpoint takes: the page that gets it may be the one
		// this refusal keeps out.
		http.Error(w, fmt.Sprintf("liveinject's HTTP endpoint does not answer to the name %q: a web page whose "+
			"name resolves to this box must not read it. If this is a name of yours for the box, add it to the "+
			"main config: [http] hosts = [%q], and restart liveinject", name, name), http.StatusMisdirectedRequest)
	})
}

// logRefusal logs a refused request, at most once every hostLogEvery, with the number refused so
// far.
func (g *hostGuard) logRefusal(r *http.Request) {
	n := g.refused.Add(1)
	if _, ok := g.logs.Allow(time.Now()); !ok {
		return
	}
	g.logger.Warn("request refused: its Host is not a name of this endpoint (add it to [http] hosts if it is yours)",
		"host", r.Host, "remote", r.RemoteAddr, "path", r.URL.Path, "refused_total", n)
}

// parseIP parses an IP address as a Host header gives it: IPv6 in brackets or not, with or
// without a zone. IPv4-mapped IPv6 addresses are taken as IPv4.
func parseIP(host string) (netip.Addr, bool) {
	ip, err := netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
	if err != nil {
		return netip.Addr{}, false
	}
	return ip.Unmap().WithZone(""), true
}

// canonicalName is host in lower case without a trailing dot: the forms of one DNS name.
func canonicalName(host string) string {
	return strings.TrimSuffix(strings.ToLower(host), ".")
}
