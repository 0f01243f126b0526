package profiles

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/liveinject/liveinject/internal/webhook"
)

// decodeConfig reads the main config file from src, the contents of file. It returns a nil
// Config only when src is not TOML at all: otherwise the profile directory is known and its
// profiles can be checked too.
func decodeConfig(file string, src []byte) (*Config, Errors) {
	d := &decoder{file: file}
	cfg := &Config{
		Path:     file,
		FFmpeg:   defaultFFmpeg,
		Profiles: defaultProfiles,
		HTTP:     HTTP{Listen: DefaultHTTPListen},
		Log:      Log{Level: defaultLogLevel, Format: defaultLogFormat},
		Defaults: builtinDefaults(),
	}
	root := d.parse(src)
	if root == nil {
		return nil, d.errs
	}
	d.check(d.str(root, "ffmpeg", &cfg.FFmpeg), notEmpty(cfg.FFmpeg))
	d.check(d.str(root, "profiles", &cfg.Profiles), notEmpty(cfg.Profiles))

	relay := d.table(root, "relay")
	r := &cfg.Relay
	rtpPath := d.str(relay, "udp_rtp_address", &r.UDPRTPAddress)
	rtcpPath := d.str(relay, "udp_rtcp_address", &r.UDPRTCPAddress)
	d.checkUDPPair(r, rtpPath, rtcpPath)
	// Publishing into the relay from other hosts needs the credentials its channels use.
	d.listenWithCredentials(relay, "relay", &r.Listen, &r.User, &r.PasswordFile, &r.Password)
	d.unknown(relay)

	d.decodeHTTP(d.table(root, "http"), &cfg.HTTP)

	log := d.table(root, "log")
	d.check(d.str(log, "level", &cfg.Log.Level), oneOf(cfg.Log.Level, "debug", "info", "warn", "error"))
	d.check(d.str(log, "format", &cfg.Log.Format), oneOf(cfg.Log.Format, "text", "json"))
	d.unknown(log)

	defs := d.table(root, "defaults")
	d.video(d.table(defs, "video"), &cfg.Defaults.Video)
	d.audio(d.table(defs, "audio"), &cfg.Defaults.Audio)
	d.record(defs, &cfg.Defaults.Record, false)
	seen := map[string]bool{}
	for _, t := range d.tables(defs, "destination") {
		dest, urlPath := d.destination(t, cfg.Relay.Listen)
		d.checkDuplicate(seen, dest, urlPath)
		cfg.Defaults.Destinations = append(cfg.Defaults.Destinations, dest)
	}
	d.unknown(defs)

	hooks := map[string]bool{}
	for _, t := range d.tables(root, "webhook") {
		cfg.Webhooks = append(cfg.Webhooks, d.webhook(t, hooks))
	}

	d.unknown(root)
	d.errs.sortByLine()
	d.warns.sortByLine()
	d.errs, d.warns = d.errs.capped(), d.warns.capped()
	cfg.Warnings = d.warns
	return cfg, d.errs
}

// defaultWebhookTimeout bounds a webhook's try when its config does not; maxWebhookTimeout
// at most: a receiver slower than that is as good as down.
const (
	defaultWebhookTimeout = 10 * time.Second
	maxWebhookTimeout     = time.Minute
)

// webhook reads a [[webhook]]; seen holds the URLs of those before, and gets its own.
func (d *decoder) webhook(t *table, seen map[string]bool) Webhook {
	w := Webhook{Timeout: Duration(defaultWebhookTimeout)}
	urlPath := d.str(t, "url", &w.URL)
	switch u, err := url.Parse(w.URL); {
	case w.URL == "":
		d.keyErrorf(urlPath, "required: the receiver's http:// or https:// URL")
	case err != nil || strings.ContainsFunc(w.URL, unicode.IsControl):
		d.keyErrorf(urlPath, "not a URL")
	case u.Scheme != "http" && u.Scheme != "https":
		d.keyErrorf(urlPath, "%s: want an http:// or https:// URL", webhook.DefaultName(w.URL))
	case u.Host == "":
		d.keyErrorf(urlPath, "%s: no host", webhook.DefaultName(w.URL))
	case seen[w.URL]:
		d.keyErrorf(urlPath, "%s is already a webhook: each event goes to it once", webhook.DefaultName(w.URL))
	}
	seen[w.URL] = true
	namePath := d.str(t, "name", &w.Name)
	if strings.ContainsFunc(w.Name, unicode.IsControl) || len(w.Name) > 128 {
		d.keyErrorf(namePath, "want one line of at most 128 bytes")
	}
	if w.Name == "" {
		w.Name = webhook.DefaultName(w.URL)
	}
	filePath := d.str(t, "secret_file", &w.SecretFile)
	if w.SecretFile != "" {
		secret, err := readSecret(d.relative(w.SecretFile))
		d.check(filePath, err)
		w.Secret = secret
	}
	eventsPath := d.strs(t, "events", &w.Events)
	if t.has("events") && w.Events == nil {
		d.keyErrorf(eventsPath, "empty: leave it out for every event")
	}
	for i, e := range w.Events {
		if err := webhook.CheckEvents([]string{e}); err != nil {
			d.errorf(eventsPath.index(i), "%s: %v", eventsPath.name(), err)
		}
	}
	timeoutPath := d.text(t, "timeout", &w.Timeout, false)
	if w.Timeout <= 0 || w.Timeout.Std() > maxWebhookTimeout {
		d.keyErrorf(timeoutPath, "%v: want more than 0 and at most %v", w.Timeout, maxWebhookTimeout)
	}
	d.unknown(t)
	return w
}

// decodeHTTP reads [http]. Serving status to other hosts is a choice to make explicitly, with
// credentials: the status shows what the box streams where.
func (d *decoder) decodeHTTP(t *table, h *HTTP) {
	d.listenWithCredentials(t, "http", &h.Listen, &h.User, &h.PasswordFile, &h.Password)
	hostsPath := d.strs(t, "hosts", &h.Hosts)
	for i, host := range h.Hosts {
		if err := checkHostName(host); err != nil {
			d.errorf(hostsPath.index(i), "%s: %v", hostsPath.name(), err)
		}
	}
	d.unknown(t)
}

// checkHostName checks an [http] hosts entry: a name or an IP address as a request's Host header
// gives it, without the port, which the endpoint does not compare.
func checkHostName(host string) error {
	if host == "" {
		return errors.New("must not be empty")
	}
	if net.ParseIP(strings.Trim(host, "[]")) != nil {
		return nil
	}
	if strings.Contains(host, "://") || strings.ContainsAny(host, "/?#@") {
		return fmt.Errorf("%q is not a host name: give the name alone, as in \"encoder1.example.net\"", host)
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return fmt.Errorf("%q has a port: give the name alone (%q); any port is taken", host, h)
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return fmt.Errorf("%q is not a host name: %q is neither a letter, a digit, '.', '-' nor '_'", host, r)
		}
	}
	return nil
}

// listenWithCredentials reads the listen, user and password_file keys of table t, named
// section: an address other hosts can reach needs the user and the password.
func (d *decoder) listenWithCredentials(t *table, section string, listen, user, file, password *string) {
	listenPath := d.str(t, "listen", listen)
	userPath := d.str(t, "user", user)
	filePath := d.str(t, "password_file", file)
	if (*user == "") != (*file == "") {
		if *user == "" {
			d.keyErrorf(filePath, "set without %s.user: set both or neither", section)
		} else {
			d.keyErrorf(userPath, "set without %s.password_file: set both or neither", section)
		}
	}
	if section == "relay" {
		// liveinject's own channels send it to the relay, in Authorization headers
		d.check(userPath, checkUser(*user))
	} else if strings.ContainsFunc(*user, unicode.IsControl) {
		d.keyErrorf(userPath, "holds a control character")
	}
	if *file != "" {
		pw, err := readPassword(d.relative(*file))
		d.check(filePath, err)
		*password = pw
	}
	if *listen == "" {
		return
	}
	if _, err := checkAddress(*listen, true); err != nil {
		d.keyErrorf(listenPath, "%v", err)
		return
	}
	if !isLoopback(*listen) && *user == "" {
		d.keyErrorf(listenPath, "%q is reachable from other hosts: set %s.user and %s.password_file, "+
			"or listen on 127.0.0.1", *listen, section, section)
	}
}

// isLoopback reports whether a listen address takes connections from this host only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// oneOf checks that s is one of the choices.
func oneOf(s string, choices ...string) error {
	if slices.Contains(choices, s) {
		return nil
	}
	return fmt.Errorf("%q is not one of %s", s, strings.Join(choices, ", "))
}

// checkUDPPair checks the relay's UDP addresses: RTP and RTCP go together, on an even port and
// the next one, as RTP over UDP and gortsplib's server require.
func (d *decoder) checkUDPPair(r *Relay, rtpPath, rtcpPath keyPath) {
	switch {
	case r.UDPRTPAddress == "" && r.UDPRTCPAddress == "":
		return
	case r.UDPRTCPAddress == "":
		d.keyErrorf(rtpPath, "set without relay.udp_rtcp_address: set both or neither")
		return
	case r.UDPRTPAddress == "":
		d.keyErrorf(rtcpPath, "set without relay.udp_rtp_address: set both or neither")
		return
	}
	rtp, rtpErr := checkAddress(r.UDPRTPAddress, false)
	d.check(rtpPath, rtpErr)
	rtcp, rtcpErr := checkAddress(r.UDPRTCPAddress, false)
	d.check(rtcpPath, rtcpErr)
	if rtpErr != nil || rtcpErr != nil {
		return
	}
	if rtp%2 != 0 {
		d.keyErrorf(rtpPath, "port %d must be even", rtp)
	} else if rtcp != rtp+1 {
		d.keyErrorf(rtcpPath, "port %d must be the RTP port + 1 (%d)", rtcp, rtp+1)
	}
}

func notEmpty(s string) error {
	if s == "" {
		return errors.New("must not be empty")
	}
	return nil
}
