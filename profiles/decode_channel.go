package profiles

import (
	"crypto/x509"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

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
				if err := checkDestinationURL(dest.VerifyURL, cfg.Relay.Listen); err != nil {
					d.errorf(nil, "[[defaults.destination]] verify_url of %s for this channel: %v", cfg.Path, err)
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
// and returns it with the path of its url key. "{channel}" stays in the URL; the check puts a
// name in its place.
func (d *decoder) destination(t *table, relayListen string) (Destination, keyPath) {
	dest := defaultDestination()
	urlPath := d.str(t, "url", &dest.URL)
	if dest.URL == "" {
		d.keyErrorf(urlPath, "missing")
	} else {
		d.check(urlPath, checkDestinationURL(strings.ReplaceAll(dest.URL, "{channel}", "channel"), relayListen))
	}
	transportPath := d.str(t, "transport", &dest.Transport)
	d.check(transportPath, checkTransport(dest.Transport))
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

	caPath := d.str(t, "tls_ca_file", &dest.TLSCAFile)
	insecurePath := d.boolean(t, "tls_insecure", &dest.TLSInsecure)
	rtsps := strings.HasPrefix(dest.URL, "rtsps://")
	switch {
	case dest.TLSCAFile != "" && !rtsps:
		d.keyErrorf(caPath, "applies to rtsps:// URLs only")
	case dest.TLSInsecure && !rtsps:
		d.keyErrorf(insecurePath, "applies to rtsps:// URLs only")
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
	if rtsps && dest.Transport == "udp" {
		d.keyErrorf(transportPath, "udp does not work with rtsps: use tcp")
	}
	d.verify(t, &dest, relayListen)
	d.unknown(t)
	return dest, urlPath
}

// verify reads the return check's keys of a destination. "{channel}" stays in verify_url, as in
// url.
func (d *decoder) verify(t *table, dest *Destination, relayListen string) {
	d.boolean(t, "verify", &dest.Verify)
	urlPath := d.str(t, "verify_url", &dest.VerifyURL)
	if dest.VerifyURL != "" {
		d.check(urlPath, checkDestinationURL(strings.ReplaceAll(dest.VerifyURL, "{channel}", "channel"), relayListen))
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
	case dest.PasswordFile != "":
		pw, err := readPassword(d.relative(dest.PasswordFile))
		if err != nil {
			d.keyErrorf(filePath, "%v", err)
			return
		}
		dest.Password = pw
	case dest.PasswordEnv != "":
		pw, ok := os.LookupEnv(dest.PasswordEnv)
		if !ok || pw == "" {
			d.keyErrorf(envPath, "environment variable %s is not set", dest.PasswordEnv)
			return
		}
		if checkPassword(pw) != nil {
			d.keyErrorf(envPath, "environment variable %s holds a control character", dest.PasswordEnv)
			return
		}
		dest.Password = pw
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
	stream := streamOf(dest.URL)
	if seen[stream] {
		d.keyErrorf(urlPath, "%s is already a destination of this channel", Redact(dest.URL))
	}
	seen[stream] = true
}

// streamOf names the stream a destination URL pushes: the URL without credentials, its scheme
// and host in lower case.
func streamOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	u.User = nil
	u.Scheme, u.Host = strings.ToLower(u.Scheme), strings.ToLower(u.Host)
	return u.String()
}
