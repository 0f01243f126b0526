package profiles

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/liveinject/liveinject/internal/sdptext"
)

// channelFile is what decoding one profile yields.
type channelFile struct {
	channel  Channel // filled as far as the file allowed
	disabled bool    // enabled = false
	errs     Errors
	warnings Errors
	namePath int // line of the name key, 0 when the name is the file's
	// urlLines are the lines of the destinations' url keys, 0 for those of the main config's
	// templates.
	urlLines []int
}

// decodeChannel reads the profile of channel name (its file name) from src, the contents of
// file, on top of cfg's defaults; cfg's relay.listen is what "{relay}" in a destination URL
// needs.
func decodeChannel(file, name string, src []byte, cfg *Config) channelFile {
	d := &decoder{file: file}
	ch := Channel{
		Name: name, File: file, Video: cfg.Defaults.Video, Audio: cfg.Defaults.Audio, Record: cfg.Defaults.Record,
		FFmpeg: FFmpeg{StopGrace: defaultStopGrace, StallTimeout: defaultStallTimeout},
	}
	res := channelFile{}
	root := d.parse(src)
	if root == nil {
		res.channel, res.errs = ch, d.errs
		return res
	}

	namePath := d.str(root, "name", &ch.Name)
	_, nameSet := root.m["name"]
	if err := checkChannelName(ch.Name); err != nil {
		if nameSet {
			d.keyErrorf(namePath, "%v", err)
		} else {
			d.errorf(nil, "channel name (the file name) %v; rename the file or set name", err)
		}
	}
	if nameSet {
		res.namePath = d.lines.lineOf(namePath)
	}
	enabled := true
	d.boolean(root, "enabled", &enabled)
	d.hold(root, &ch.Hold)
	res.disabled = !enabled
	timingsRight := d.timings(root, &ch)

	source := d.table(root, "source")
	d.source(source, &ch.Source, false)
	backups := d.backups(root, &ch)
	video, audio, ff := d.table(root, "video"), d.table(root, "audio"), d.table(root, "ffmpeg")
	d.video(video, &ch.Video)
	d.audio(audio, &ch.Audio)
	d.ffmpeg(ff, &ch.FFmpeg)
	d.checkSourceFits(&ch, source, video, audio, ff, backups)
	d.slate(root, &ch.Slate)
	d.alarms(root, &ch)
	d.record(root, &ch.Record, true)
	fillDefaults(&ch)
	d.checkDevices(&ch, append([]*table{source}, backups...))
	if timingsRight {
		d.checkSlateAfter(root, &ch)
	}

	before := len(d.errs)
	if dests := d.tables(root, "destination"); len(dests) > 0 {
		seen := make(map[string]bool, len(dests))
		for _, t := range dests {
			dest, urlPath := d.destination(t, cfg.Relay.Listen)
			dest.URL = strings.ReplaceAll(dest.URL, "{channel}", ch.Name)
			dest.VerifyURL = strings.ReplaceAll(dest.VerifyURL, "{channel}", ch.Name)
			if id := strings.ReplaceAll(dest.StreamID, "{channel}", ch.Name); id != dest.StreamID {
				dest.StreamID = id
				if err := checkStreamID(id); err != nil {
					d.keyErrorf(t.path.key("streamid"), "%v", err)
				}
			}
			d.checkDuplicate(seen, dest, urlPath)
			ch.Destinations = append(ch.Destinations, dest)
			res.urlLines = append(res.urlLines, d.lines.lineOf(urlPath))
		}
	} else if len(d.errs) == before {
		if len(cfg.Defaults.Destinations) == 0 {
			// ([[defaults.destination]] in the main config would do too)
			d.errorf(root.path.key("destination"), "no [[destination]]: a channel needs at least one")
		}
		for _, dest := range cfg.Defaults.Destinations {
			dest.URL = strings.ReplaceAll(dest.URL, "{channel}", ch.Name)
			if err := checkDestinationURL(dest.URL, cfg.Relay.Listen); err != nil {
				d.errorf(nil, "[[defaults.destination]] of %s for this channel: %v", cfg.Path, err)
			}
			if dest.VerifyURL != "" {
				dest.VerifyURL = strings.ReplaceAll(dest.VerifyURL, "{channel}", ch.Name)
				if err := checkVerifyURL(dest.VerifyURL, cfg.Relay.Listen); err != nil {
					d.errorf(nil, "[[defaults.destination]] verify_url of %s for this channel: %v", cfg.Path, err)
				}
			}
			if id := strings.ReplaceAll(dest.StreamID, "{channel}", ch.Name); id != dest.StreamID {
				dest.StreamID = id
				if err := checkStreamID(id); err != nil {
					d.errorf(nil, "[[defaults.destination]] streamid of %s for this channel: %v", cfg.Path, err)
				}
			}
			ch.Destinations = append(ch.Destinations, dest)
		}
	}

	d.unknown(root)
	d.errs.sortByLine()
	d.warns.sortByLine()
	d.errs, d.warns = d.errs.capped(), d.warns.capped()
	res.channel, res.errs, res.warnings = ch, d.errs, d.warns
	return res
}

// video reads a [video] table over v.
func (d *decoder) video(t *table, v *Video) {
	d.check(d.str(t, "encoder", &v.Encoder), checkVideoEncoder(v.Encoder))
	d.str(t, "preset", &v.Preset) // checked with the encoder, below
	d.check(d.str(t, "profile", &v.Profile), checkH264Profile(v.Profile))
	d.check(d.text(t, "bitrate", &v.Bitrate, true), checkVideoBitrate(v.Bitrate))
	d.check(d.text(t, "gop", &v.GOP, false), checkPositive(v.GOP))
	d.check(d.text(t, "size", &v.Size, false), checkSize(v.Size))
	d.check(d.integer(t, "fps", &v.FPS), checkFPS(v.FPS))
	if p := d.str(t, "vaapi_device", &v.VAAPIDevice); v.VAAPIDevice != "" {
		d.check(p, checkDevicePath(v.VAAPIDevice))
	}
	d.unknown(t)
	d.checkVideoEncoderKeys(t, *v)
}

// hold reads the hold key: "off", or how long frames may stop before the hold begins.
func (d *decoder) hold(t *table, h *Duration) {
	*h = defaultHold
	var s string
	p := d.str(t, "hold", &s)
	switch s {
	case "":
	case "off":
		*h = 0
	default:
		v, err := time.ParseDuration(s)
		if err == nil {
			err = checkAtLeast(Duration(v), 100*time.Millisecond)
		}
		if err != nil {
			d.keyErrorf(p, `%v: want "off" or a duration such as "1s"`, err)
			return
		}
		*h = Duration(v)
	}
}

// audio reads an [audio] table over a.
func (d *decoder) audio(t *table, a *Audio) {
	d.check(d.str(t, "encoder", &a.Encoder), checkAudioEncoder(a.Encoder))
	d.check(d.text(t, "bitrate", &a.Bitrate, true), checkAudioBitrate(a.Bitrate))
	d.check(d.integer(t, "sample_rate", &a.SampleRate), checkSampleRate(a.SampleRate))
	d.check(d.integer(t, "channels", &a.Channels), checkAudioChannels(a.Channels))
	d.unknown(t)
	if a.Encoder == EncoderCopy {
		d.refuseWithCopy(t, "bitrate", "sample_rate", "channels")
	}
}

// destination reads one [[destination]] table, of a profile or of the main config's defaults,
// and returns it with the path of its url key. "{channel}" stays in the URL and the streamid;
// the check puts a name in its place.
func (d *decoder) destination(t *table, relayListen string) (Destination, keyPath) {
	dest := defaultDestination()
	urlPath := d.str(t, "url", &dest.URL)
	if dest.URL == "" {
		d.keyErrorf(urlPath, "missing")
	} else {
		d.check(urlPath, checkDestinationURL(strings.ReplaceAll(dest.URL, "{channel}", "channel"), relayListen))
	}
	kind := dest.Kind()
	d.refuseOtherKinds(t, dest.URL)
	if kind != KindRTSP && kind != "" {
		dest.Transport = ""
	}
	transportPath := d.str(t, "transport", &dest.Transport)
	if t.has("transport") {
		d.check(transportPath, checkTransport(dest.Transport))
	}
	// Text for the announced SDP: one line each, and together well under DSS's 4 KB.
	for _, k := range []struct {
		key string
		dst *string
	}{
		{"session_name", &dest.SessionName}, {"session_info", &dest.SessionInfo},
		{"session_author", &dest.SessionAuthor}, {"session_copyright", &dest.SessionCopyright},
		{"session_comment", &dest.SessionComment},
	} {
		d.check(d.str(t, k.key, k.dst), sdptext.Check(*k.dst))
	}
	d.credentials(t, &dest, urlPath)
	d.tls(t, &dest)
	if hasScheme(dest.URL, "rtsps") && dest.Transport == "udp" {
		d.keyErrorf(transportPath, "udp does not work with rtsps: use tcp")
	}
	d.verify(t, &dest, relayListen)
	d.streamKey(t, &dest, urlPath)
	d.srt(t, &dest)
	d.unknown(t)
	return dest, urlPath
}

// hasScheme reports whether raw is a URL of scheme, in any case.
func hasScheme(raw, scheme string) bool {
	s, _, ok := strings.Cut(raw, "://")
	return ok && strings.EqualFold(s, scheme)
}

// tls reads tls_ca_file and tls_insecure, for rtsps and rtmps URLs.
func (d *decoder) tls(t *table, dest *Destination) {
	caPath := d.str(t, "tls_ca_file", &dest.TLSCAFile)
	insecurePath := d.boolean(t, "tls_insecure", &dest.TLSInsecure)
	secure := hasScheme(dest.URL, "rtsps") || hasScheme(dest.URL, "rtmps")
	switch {
	case dest.TLSCAFile != "" && !secure:
		d.keyErrorf(caPath, "applies to rtsps:// and rtmps:// URLs only")
	case dest.TLSInsecure && !secure:
		d.keyErrorf(insecurePath, "applies to rtsps:// and rtmps:// URLs only")
	case dest.TLSCAFile != "" && dest.TLSInsecure:
		d.keyErrorf(insecurePath, "turns off the check tls_ca_file is for: give one of them")
	case dest.TLSCAFile != "":
		file := d.relative(dest.TLSCAFile)
		ca, err := readSecret(file)
		if err == nil && !x509.NewCertPool().AppendCertsFromPEM([]byte(ca)) {
			err = fmt.Errorf("%s holds no PEM certificate", file)
		}
		if err != nil {
			d.keyErrorf(caPath, "%v", err)
		}
		dest.TLSCA = ca
	case dest.TLSInsecure:
		d.warnf(insecurePath, "the server's certificate is not checked: whoever is on the way can pose as the server")
	}
}

// destinationKeys says which kinds of destination take each key that not all of them do; url
// and verify are every kind's (verify = false is harmless where there is no return check).
var destinationKeys = []struct {
	key   string
	kinds []string
}{
	{"transport", []string{KindRTSP}},
	{"user", []string{KindRTSP}}, {"password", []string{KindRTSP}},
	{"password_file", []string{KindRTSP}}, {"password_env", []string{KindRTSP}},
	{"session_name", []string{KindRTSP}}, {"session_info", []string{KindRTSP}},
	{"session_author", []string{KindRTSP}}, {"session_copyright", []string{KindRTSP}},
	{"session_comment", []string{KindRTSP}},
	{"verify_url", []string{KindRTSP}}, {"verify_every", []string{KindRTSP}},
	{"tls_ca_file", []string{KindRTSP, KindRTMP}}, {"tls_insecure", []string{KindRTSP, KindRTMP}},
	{"key_file", []string{KindRTMP}}, {"key_env", []string{KindRTMP}},
	{"latency", []string{KindSRT}}, {"passphrase_file", []string{KindSRT}},
	{"passphrase_env", []string{KindSRT}}, {"streamid", []string{KindSRT}},
}

// schemesOf names the URLs of kinds, for messages.
var schemesOf = map[string]string{KindRTSP: "rtsp:// and rtsps://", KindRTMP: "rtmp:// and rtmps://", KindSRT: "srt://"}

// refuseOtherKinds reports each key of t that the kind of rawURL does not take, and takes it
// out of t, so that the readers that follow leave it alone (a password file of an rtmp
// destination is not read). With a URL of no known kind nothing is refused: the URL is the
// mistake.
func (d *decoder) refuseOtherKinds(t *table, rawURL string) {
	kind := KindOf(rawURL)
	if kind == "" {
		return
	}
	scheme, _, _ := strings.Cut(rawURL, "://")
	scheme = strings.ToLower(scheme)
	for _, k := range destinationKeys {
		if !t.has(k.key) || slices.Contains(k.kinds, kind) {
			continue
		}
		_, p, _ := t.get(k.key)
		delete(t.m, k.key)
		switch {
		case kind == KindRTMP && (k.key == "user" || strings.HasPrefix(k.key, "password")):
			d.keyErrorf(p, "rtmp destinations take no user or password: %s", rtmpNoCredentials)
		case strings.HasPrefix(k.key, "tls_"):
			d.keyErrorf(p, "applies to rtsps:// and rtmps:// URLs only, not to %s://", scheme)
		default:
			var where []string
			for _, kk := range k.kinds {
				where = append(where, schemesOf[kk])
			}
			d.keyErrorf(p, "applies to %s URLs only, not to %s://", strings.Join(where, ", "), scheme)
		}
	}
}

// streamKey reads the stream key of an rtmp destination: key_file or key_env. Without either,
// a URL whose path names a stream after the application warns, as a password in it does: the
// stream key of most RTMP servers would show wherever the URL does.
func (d *decoder) streamKey(t *table, dest *Destination, urlPath keyPath) {
	filePath := d.str(t, "key_file", &dest.KeyFile)
	envPath := d.str(t, "key_env", &dest.KeyEnv)
	switch {
	case dest.KeyFile != "" && dest.KeyEnv != "":
		d.keyErrorf(envPath, "the stream key given twice: use key_file or key_env")
	case dest.KeyFile != "" || dest.KeyEnv != "":
		dest.StreamKey, _ = d.secret("stream key", dest.KeyFile, filePath, dest.KeyEnv, envPath, checkPassword)
	case dest.Kind() == KindRTMP && streamInURL(dest.URL):
		d.warnf(urlPath, "the stream after the application is the stream key of most RTMP servers, and shows in the logs, "+
			"/status, the dashboard and the metrics, as well as to anyone who can read this file: "+
			"if it is a key, leave it out of the URL and give it with key_file or key_env")
	}
}

// streamInURL reports whether an rtmp URL to another host than this one names a stream after its
// application that is not the channel's name alone ("rtmp://host/live/{channel}" names no
// secret).
func streamInURL(raw string) bool {
	u, err := url.Parse(strings.ReplaceAll(raw, "{channel}", "channel"))
	if err != nil || isLoopbackHost(u.Hostname()) {
		return false
	}
	elems := strings.Split(strings.Trim(u.Path, "/"), "/")
	if len(elems) < 2 {
		return false
	}
	_, last, _ := strings.Cut(raw, "://")
	last = strings.TrimRight(withoutQuery(last), "/")
	return last[strings.LastIndexByte(last, '/')+1:] != "{channel}"
}

// isLoopbackHost reports whether a URL's host is this machine.
func isLoopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SRT's bounds, as libsrt has them: a latency under 20 ms leaves no time for a retransmission
// on any real network, and over 8 s it delays the picture more than any player waits; a
// passphrase has 10 to 79 bytes (SRTO_PASSPHRASE), a stream ID at most 512 (SRTO_STREAMID).
const (
	MinSRTLatency                = 20 * time.Millisecond
	MaxSRTLatency                = 8 * time.Second
	minPassphrase, maxPassphrase = 10, 79
	maxStreamID                  = 512
)

// srt reads the keys of an srt destination: latency, passphrase_file or passphrase_env, and
// streamid, whose "{channel}" stays for the check that puts a name in its place.
func (d *decoder) srt(t *table, dest *Destination) {
	before := len(d.errs)
	latencyPath := d.text(t, "latency", &dest.Latency, false)
	if t.has("latency") && len(d.errs) == before {
		d.check(latencyPath, checkSRTLatency(dest.Latency)) // "0s" too: leave it out for libsrt's
	}
	filePath := d.str(t, "passphrase_file", &dest.PassphraseFile)
	envPath := d.str(t, "passphrase_env", &dest.PassphraseEnv)
	switch {
	case dest.PassphraseFile != "" && dest.PassphraseEnv != "":
		d.keyErrorf(envPath, "the passphrase given twice: use passphrase_file or passphrase_env")
	case dest.PassphraseFile != "" || dest.PassphraseEnv != "":
		dest.Passphrase, _ = d.secret("passphrase", dest.PassphraseFile, filePath, dest.PassphraseEnv, envPath,
			checkPassphrase)
	}
	idPath := d.str(t, "streamid", &dest.StreamID)
	d.check(idPath, checkStreamID(strings.ReplaceAll(dest.StreamID, "{channel}", "channel")))
}

// checkSRTLatency checks an SRT latency: whole milliseconds, as libsrt counts it, in range.
func checkSRTLatency(l Duration) error {
	switch {
	case l.Std()%time.Millisecond != 0:
		return fmt.Errorf("%s is not whole milliseconds, which SRT counts latency in", l)
	case l.Std() < MinSRTLatency || l.Std() > MaxSRTLatency:
		return fmt.Errorf("%s is outside %v..%v", l, MinSRTLatency, MaxSRTLatency)
	}
	return nil
}

// checkPassphrase checks an SRT passphrase, and never says it.
func checkPassphrase(pass string) error {
	if strings.ContainsFunc(pass, unicode.IsControl) {
		return errors.New("holds a control character (a passphrase is one line)")
	}
	if n := len(pass); n < minPassphrase || n > maxPassphrase {
		return fmt.Errorf("has %d characters: SRT takes %d to %d", n, minPassphrase, maxPassphrase)
	}
	return nil
}

// checkStreamID checks an SRT stream ID whose "{channel}" has been replaced.
func checkStreamID(id string) error {
	if strings.ContainsFunc(id, unicode.IsControl) {
		return errors.New("holds a control character")
	}
	if len(id) > maxStreamID {
		return fmt.Errorf("%d characters: SRT takes at most %d", len(id), maxStreamID)
	}
	return nil
}

// verify reads the return check's keys of a destination. "{channel}" stays in verify_url, as in
// url.
func (d *decoder) verify(t *table, dest *Destination, relayListen string) {
	d.boolean(t, "verify", &dest.Verify)
	urlPath := d.str(t, "verify_url", &dest.VerifyURL)
	if dest.VerifyURL != "" {
		d.check(urlPath, checkVerifyURL(strings.ReplaceAll(dest.VerifyURL, "{channel}", "channel"), relayListen))
		if u, err := url.Parse(dest.VerifyURL); err == nil {
			if _, ok := u.User.Password(); ok {
				d.warnf(urlPath, "password is readable by anyone who can read this file: leave it out, "+
					"and the destination's credentials are used")
			}
		}
	}
	everyPath := d.text(t, "verify_every", &dest.VerifyEvery, false)
	if dest.VerifyEvery != 0 {
		d.check(everyPath, checkAtLeast(dest.VerifyEvery, minVerifyEvery))
	}
	if !dest.Verify {
		for _, k := range []struct {
			set  bool
			path keyPath
		}{{dest.VerifyURL != "", urlPath}, {dest.VerifyEvery != 0, everyPath}} {
			if k.set {
				d.warnf(k.path, "has no effect: verify = false turns the return check off")
			}
		}
	}
}

// credentials reads a destination's user and password. The password may come from one place
// only: password_file, password_env, password, or the URL.
func (d *decoder) credentials(t *table, dest *Destination, urlPath keyPath) {
	userPath := d.str(t, "user", &dest.User)
	d.check(userPath, checkUser(dest.User))
	var literal string
	literalPath := d.str(t, "password", &literal)
	filePath := d.str(t, "password_file", &dest.PasswordFile)
	envPath := d.str(t, "password_env", &dest.PasswordEnv)

	var urlUser *url.Userinfo
	if u, err := url.Parse(dest.URL); err == nil {
		urlUser = u.User
	}
	_, urlHasPassword := urlUser.Password()
	var given []keyPath
	for _, g := range []struct {
		set  bool
		path keyPath
	}{{urlHasPassword, urlPath}, {literal != "", literalPath}, {dest.PasswordFile != "", filePath}, {dest.PasswordEnv != "", envPath}} {
		if g.set {
			given = append(given, g.path)
		}
	}
	if len(given) > 1 {
		d.keyErrorf(given[1], "password given more than once: use one of password_file, password_env, password, or the URL")
		return
	}

	switch {
	case literal != "":
		dest.Password = literal
		d.check(literalPath, checkPassword(literal))
		d.warnf(literalPath, "password is readable by anyone who can read this file: use password_file or password_env")
	case dest.PasswordFile != "" || dest.PasswordEnv != "":
		var ok bool
		if dest.Password, ok = d.secret("password", dest.PasswordFile, filePath, dest.PasswordEnv, envPath,
			checkPassword); !ok {
			return
		}
	case urlHasPassword:
		d.warnf(urlPath, "password is readable by anyone who can read this file: use user with password_file or password_env")
	}
	if dest.Password != "" && dest.User == "" && urlUser.Username() == "" {
		d.keyErrorf(given[0], "a password needs a user: set user")
	}
	if dest.User != "" && urlUser.Username() != "" {
		d.keyErrorf(userPath, "the URL has a user already: give it one way")
	}
}

// secret reads a secret given in a file (file, at filePath, relative to the file being decoded)
// or in an environment variable (env, at envPath), and checks it with check, whose error is
// said of "the <what>", never showing the secret. ok is false after an error.
func (d *decoder) secret(what, file string, filePath keyPath, env string, envPath keyPath,
	check func(string) error) (v string, ok bool) {
	if file != "" {
		file = d.relative(file)
		v, err := readSecret(file)
		if err == nil {
			if err = check(v); err != nil {
				err = fmt.Errorf("%s: the %s %w", file, what, err)
			}
		}
		if err != nil {
			d.keyErrorf(filePath, "%v", err)
			return "", false
		}
		return v, true
	}
	v, set := os.LookupEnv(env)
	if !set || v == "" {
		d.keyErrorf(envPath, "environment variable %s is not set", env)
		return "", false
	}
	if err := check(v); err != nil {
		d.keyErrorf(envPath, "environment variable %s: the %s %v", env, what, err)
		return "", false
	}
	return v, true
}

// relative returns a path given in the file being decoded: relative to the file's directory
// unless it is absolute.
func (d *decoder) relative(path string) string {
	if filepath.IsAbs(path) {
		return path
	}
	return filepath.Join(filepath.Dir(d.file), path)
}

// readSecret reads a password file: its content without the trailing newline.
func readSecret(file string) (string, error) {
	b, err := readFile(file)
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %v", file, pathErr(err))
	}
	pw := strings.TrimRight(string(b), "\r\n")
	if pw == "" {
		return "", fmt.Errorf("%s is empty", file)
	}
	return pw, nil
}

// readPassword reads a password file as readSecret does, and refuses a password of more
// than one line or with other control characters.
func readPassword(file string) (string, error) {
	pw, err := readSecret(file)
	if err == nil && checkPassword(pw) != nil {
		err = fmt.Errorf("%s holds a control character (a password is one line)", file)
	}
	return pw, err
}

// checkDuplicate reports a destination that repeats an earlier one of the channel: two
// sessions pushing the same name to one server fight over it.
// seen holds the streams (see streamOf) of the destinations before; dest's is added.
func (d *decoder) checkDuplicate(seen map[string]bool, dest Destination, urlPath keyPath) {
	stream := streamOf(dest)
	if seen[stream] {
		d.keyErrorf(urlPath, "%s is already a destination of this channel", describeStream(dest))
	}
	seen[stream] = true
}

// streamOf names the stream a destination pushes: the URL without credentials, its scheme
// and host in lower case, and the stream key (rtmp) or streamid (srt), which tell apart the
// streams of one server URL (a platform's ingest URL takes every channel's stream, each with
// its own key). It is a map key only: it holds the stream key, and never shows.
// The key is put in the path, as it is published: "rtmp://h/app" with key "k" is the stream of
// "rtmp://h/app/k".
func streamOf(dest Destination) string {
	u, err := url.Parse(dest.URL)
	if err != nil {
		return dest.URL
	}
	u.User = nil
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	switch dest.Kind() {
	case KindRTMP:
		if dest.StreamKey != "" {
			u.Path, u.RawPath = strings.TrimRight(u.Path, "/")+"/"+dest.StreamKey, ""
		}
	case KindSRT:
		u.Path = "" // srt://h:1/ is srt://h:1
		if dest.StreamID != "" {
			return u.String() + " streamid " + dest.StreamID
		}
	}
	return u.String()
}

// describeStream names the stream of a destination in messages: its URL redacted, with its
// streamid, or that it has a stream key, never the key.
func describeStream(dest Destination) string {
	switch {
	case dest.Kind() == KindRTMP && dest.StreamKey != "":
		return Redact(dest.URL) + " with the same stream key"
	case dest.Kind() == KindSRT && dest.StreamID != "":
		return fmt.Sprintf("%s streamid %q", Redact(withoutQuery(dest.URL)), dest.StreamID)
	case dest.Kind() == KindSRT:
		return Redact(withoutQuery(dest.URL)) // a query may hold a passphrase
	}
	return Redact(dest.URL)
}
