package profiles

import (
	"net"
	"strings"
)

// ExpandRelay replaces "{relay}" in a destination URL with relayAddr, the built-in relay's
// bound address ("127.0.0.1:7554", or "[::]:7554" as a listener reports ":7554"). The relay is
// known only at run time because its listen port may be 0. An unspecified host (empty,
// 0.0.0.0 or ::) is something one listens on, not dials, so it becomes the loopback address.
func ExpandRelay(url, relayAddr string) string {
	if !strings.Contains(url, "{relay}") {
		return url
	}
	return strings.ReplaceAll(url, "{relay}", dialable(relayAddr))
}

// dialable turns a listen address into one a client on the same host can connect to.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// Redact returns url with the password of its userinfo replaced by "xxxxx"
// ("rtsp://user:xxxxx@host/path"), for every log line, status page and error that shows a
// destination. It works on the text rather than through net/url so that it also hides
// passwords in URLs that do not parse, such as one with a raw '/' or '#' in the password;
// when in doubt it hides too much rather than too little.
func Redact(url string) string {
	i := strings.Index(url, "://")
	if i < 0 {
		return url
	}
	start := i + len("://")
	rest := url[start:]
	// A well-formed authority ends at the first '/', '?' or '#', and its userinfo at its last '@'.
	// A password with a raw '/', '?' or '#' ends the authority too early, so then the last '@' of
	// the whole URL is taken instead.
	authority := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		authority = rest[:end]
	}
	at := strings.LastIndex(authority, "@")
	if at < 0 {
		at = strings.LastIndex(rest, "@")
	}
	if at < 0 {
		return url
	}
	colon := strings.Index(rest[:at], ":")
	if colon < 0 || colon == at-1 {
		return url
	}
	return url[:start+colon+1] + "xxxxx" + url[start+at:]
}
