package profiles

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode"
	"unicode/utf8"
)

// The checks below look at one value each and say what is wrong with it; the decoder reports
// their errors at the line of the key. The lists of known values are short on purpose: each
// entry needs its own ffmpeg arguments, and a value liveinject cannot run yet is better refused
// by "check" than failing in a restart loop.

// checkChannelName refuses names that would not survive being put into a destination URL by
// "{channel}", or into log attributes and metric labels.
// An empty name is refused too: it could only come from name = "".
func checkChannelName(name string) error {
	if name == "" {
		return errors.New("must not be empty")
	}
	if name == "." || name == ".." {
		// it names a path segment: {channel} in a URL, the status API's /channels/NAME
		return fmt.Errorf("%q is not a name", name)
	}
	if len(name) > maxChannelName {
		return fmt.Errorf("%d characters: at most %d", len(name), maxChannelName)
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", name)
		}
	}
	return nil
}

const knownKinds = "known kinds: testsrc, v4l2, rtsp, file, ffmpeg"

func checkSourceKind(kind string) error {
	switch kind {
	case SourceTestsrc, SourceV4L2, SourceRTSP, SourceFile, SourceFFmpeg:
		return nil
	case "":
		return errors.New("missing (" + knownKinds + ")")
	}
	return fmt.Errorf("unknown kind %q (%s)", kind, knownKinds)
}

func checkVideoEncoder(encoder string) error {
	switch encoder {
	case EncoderX264, EncoderNVENC, EncoderVAAPI, EncoderQSV, EncoderCopy:
		return nil
	}
	return fmt.Errorf("unsupported encoder %q (supported: libx264, h264_nvenc, h264_vaapi, h264_qsv, copy)", encoder)
}

func checkAudioEncoder(encoder string) error {
	if encoder != "aac" && encoder != EncoderCopy && encoder != "none" {
		return fmt.Errorf("unsupported encoder %q (supported: aac, copy, none)", encoder)
	}
	return nil
}

// checkPreset checks a preset against the names the encoder knows (those of ffmpeg 5.1 and
// later); h264_nvenc's older names ("llhq" ...) are left out, as newer drivers drop them.
func checkPreset(encoder, preset string) error {
	var known []string
	switch encoder {
	case EncoderX264:
		known = []string{"ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"}
	case EncoderQSV:
		known = []string{"veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"}
	case EncoderNVENC:
		known = []string{"p1", "p2", "p3", "p4", "p5", "p6", "p7"}
	default:
		return fmt.Errorf("encoder %q has no preset", encoder)
	}
	if !slices.Contains(known, preset) {
		return fmt.Errorf("%q is not a %s preset (%s)", preset, encoder, strings.Join(known, ", "))
	}
	return nil
}

// checkH264Profile accepts the profiles every H.264 encoder offers, all of them 8-bit 4:2:0.
func checkH264Profile(profile string) error {
	return oneOf(profile, "baseline", "main", "high")
}

// checkSourceAudio checks a v4l2 source's sound: an ffmpeg input device and its device name.
func checkSourceAudio(audio string) error {
	system, device, _ := strings.Cut(audio, ":")
	if (system != "alsa" && system != "pulse") || device == "" {
		return fmt.Errorf("%q is not \"alsa:DEVICE\" (e.g. \"alsa:hw:1,0\") or \"pulse:DEVICE\" (e.g. \"pulse:default\")", audio)
	}
	return nil
}

// checkDevicePath wants an absolute path: a relative one would depend on liveinject's working
// directory. Whether the device is there is for the checks before each start: a camera may be
// plugged in later.
func checkDevicePath(path string) error {
	if !strings.HasPrefix(path, "/") {
		return fmt.Errorf("%q is not an absolute path such as \"/dev/video0\"", path)
	}
	return nil
}

func checkFPS(fps int) error {
	if fps < 1 || fps > 120 {
		return fmt.Errorf("%d is out of range 1..120", fps)
	}
	return nil
}

// checkSize wants even sides because H.264 with 4:2:0 chroma, what players expect, has no odd
// ones.
func checkSize(s Size) error {
	if s.Width <= 0 || s.Height <= 0 || s.Width%2 != 0 || s.Height%2 != 0 {
		return fmt.Errorf("%s: width and height must be even and greater than 0", s)
	}
	if s.Width > maxSide || s.Height > maxSide {
		return fmt.Errorf("%s: at most %d in either dimension (H.264's largest levels)", s, maxSide)
	}
	return nil
}

// Bounds of what the encoders can make, so that a slip of the keyboard is refused at load
// rather than found by ffmpeg restarting all night.
const (
	maxChannelName = 64
	maxSide        = 8192
	// H.264 at 16 kbit/s is a slideshow; at level 6.2 High it allows 800 Mbit/s.
	minVideoBitrate, maxVideoBitrate Bitrate = 16_000, 800_000_000
	// AAC below 8 kbit/s or above 512 kbit/s (stereo) is not made by ffmpeg's encoder.
	minAudioBitrate, maxAudioBitrate Bitrate = 8_000, 512_000
)

func checkVideoBitrate(b Bitrate) error { return checkBitrate(b, minVideoBitrate, maxVideoBitrate) }
func checkAudioBitrate(b Bitrate) error { return checkBitrate(b, minAudioBitrate, maxAudioBitrate) }

func checkBitrate(b, least, most Bitrate) error {
	if b < least || b > most {
		return fmt.Errorf("%s is outside %s..%s (bits per second: \"2500k\", \"4M\")", b, least, most)
	}
	return nil
}

func checkPositive(d Duration) error {
	if d <= 0 {
		return fmt.Errorf("%s must be greater than 0", d)
	}
	return checkAtMost(d, time.Hour)
}

// checkAtLeast refuses a duration under min: shorter would kill a healthy ffmpeg.
func checkAtLeast(d Duration, min time.Duration) error {
	if time.Duration(d) < min {
		return fmt.Errorf("%s is too short: at least %v", d, min)
	}
	return checkAtMost(d, time.Hour)
}

// checkAtMost refuses durations long enough to be a slip ("1000000h"): waits that would never
// end in practice.
func checkAtMost(d Duration, most time.Duration) error {
	if time.Duration(d) > most {
		return fmt.Errorf("%s is too long: at most %v", d, most)
	}
	return nil
}

// checkSampleRate accepts the rates an AAC AudioSpecificConfig can name by index, which are
// the ones every decoder handles.
func checkSampleRate(rate int) error {
	switch rate {
	case 8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200, 96000:
		return nil
	}
	return fmt.Errorf("%d is not an AAC sample rate "+
		"(8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000, 64000, 88200 or 96000)", rate)
}

func checkAudioChannels(n int) error {
	if n != 1 && n != 2 {
		return fmt.Errorf("%d is not 1 (mono) or 2 (stereo)", n)
	}
	return nil
}

func checkTransport(transport string) error {
	switch transport {
	case "tcp", "udp", "auto":
		return nil
	}
	return fmt.Errorf("unknown transport %q (known: tcp, udp, auto)", transport)
}

// KindOf returns the kind of destination a URL names by its scheme (KindRTSP, KindRTMP,
// KindSRT: rtsps is rtsp, rtmps rtmp), or "" for another scheme.
func KindOf(raw string) string {
	scheme, _, ok := strings.Cut(raw, "://")
	if !ok {
		return ""
	}
	switch strings.ToLower(scheme) {
	case "rtsp", "rtsps":
		return KindRTSP
	case "rtmp", "rtmps":
		return KindRTMP
	case "srt":
		return KindSRT
	}
	return ""
}

const knownSchemes = "rtsp, rtsps, rtmp, rtmps or srt"

// checkDestinationURL checks a destination URL whose "{channel}" has been replaced. "{relay}"
// stands for the built-in relay, so it needs relay.listen, whose address is put in its place
// for the check. Messages show the URL redacted since they end up in logs.
func checkDestinationURL(raw, relayListen string) error {
	kind := KindOf(raw)
	relay := strings.Contains(raw, "{relay}")
	if relay {
		if kind != KindRTSP && kind != "" {
			return fmt.Errorf("%s: {relay} is the built-in RTSP relay: it goes in rtsp:// URLs only", Redact(raw))
		}
		if relayListen == "" {
			return errors.New("{relay} needs relay.listen in the main config")
		}
		raw = ExpandRelay(raw, relayListen)
	}
	if i := strings.IndexByte(raw, '{'); i >= 0 {
		placeholder, _, _ := strings.Cut(raw[i:], "}")
		return fmt.Errorf("unknown placeholder %q in %s (known: {channel}, {relay})", placeholder+"}", Redact(raw))
	}
	switch kind {
	case KindRTMP:
		return checkRTMPURL(raw)
	case KindSRT:
		return checkSRTURL(raw)
	case "":
		if _, err := parseURL(raw); err != nil {
			return err
		}
		return fmt.Errorf("%s: scheme must be %s", Redact(withoutQuery(raw)), knownSchemes)
	}
	return checkRTSPDestinationURL(raw, relay)
}

// checkVerifyURL checks a verify_url whose "{channel}" has been replaced: an RTSP URL as a
// destination's is, since the return check is an RTSP player.
func checkVerifyURL(raw, relayListen string) error {
	if k := KindOf(raw); k != KindRTSP {
		if _, err := parseURL(raw); err != nil {
			return err
		}
		return fmt.Errorf("%s: scheme must be rtsp or rtsps", Redact(withoutQuery(raw)))
	}
	return checkDestinationURL(raw, relayListen)
}

// withoutQuery returns raw without its query and fragment, which may hold a secret of a kind
// Redact does not know.
func withoutQuery(raw string) string {
	if i := strings.IndexAny(raw, "?#"); i >= 0 {
		return raw[:i]
	}
	return raw
}

// checkRTSPDestinationURL checks an rtsp:// or rtsps:// destination URL, whose "{relay}", if
// relay, has been replaced.
func checkRTSPDestinationURL(raw string, relay bool) error {
	if err := checkRTSPURL(raw); err != nil {
		return err
	}
	// gortsplib refuses a URL with a fragment at every connect ("URLs with fragments are not
	// supported"), so it would pass check and reload and then fail forever. A query is kept:
	// gortsplib sends it in ANNOUNCE and puts "/trackID=N" after it in SETUP, as servers that
	// take one (MediaMTX's "?jwt=") expect; DSS paths have none.
	if strings.Contains(raw, "#") {
		return fmt.Errorf("%s has a fragment (#...): RTSP URLs have none, and the connection would be refused at every try "+
			"(write a '#' in a password as %%23)", Redact(raw))
	}
	if relay {
		return nil // a relay on port 0 gets its port when it starts
	}
	return checkURLPort(raw)
}

// parseURL parses a destination URL for the checks of its kind. url.Error repeats the URL,
// and may quote part of a password, as in "invalid port", or a query's passphrase: the message
// leaves them out.
func parseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err == nil {
		return u, nil
	}
	if shown := Redact(withoutQuery(raw)); shown != raw {
		return nil, fmt.Errorf("%s is not a valid URL", shown)
	}
	return nil, fmt.Errorf("not a valid URL: %w", err)
}

// checkRTMPURL checks an rtmp:// or rtmps:// URL: a host and an application (the first
// element of the path). The stream key is not for the URL: gortmplib takes a fragment for it,
// and credentials in it would go to Adobe authentication (see checkRTMPKeys).
func checkRTMPURL(raw string) error {
	u, err := parseURL(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Hostname() == "":
		return fmt.Errorf("%s has no host", Redact(raw))
	case u.User != nil:
		return fmt.Errorf("%s: RTMP URLs take no user:password@ (%s)", Redact(raw), rtmpNoCredentials)
	case strings.Contains(raw, "#"):
		return fmt.Errorf("%s has a fragment (#...): the RTMP library would take it for the stream key; "+
			"give the key with key_file or key_env", Redact(raw))
	case strings.Trim(u.Path, "/") == "":
		return fmt.Errorf("%s names no application: want rtmp://host[:port]/app[/stream]", Redact(raw))
	}
	return checkURLPort(raw)
}

// rtmpNoCredentials says why RTMP destinations take no user and password. gortmplib v1.0.1
// answers Adobe authentication's challenge with the user "myuser" whatever the URL says
// (client.go), which a server that looks the user up (Wowza, Adobe Media Server) refuses.
const rtmpNoCredentials = "the RTMP library's Adobe authentication answers with a fixed user name, which servers that look the user up refuse; " +
	"give what the server asks for in the stream key, with key_file or key_env"

// checkSRTURL checks an srt:// URL: a host and a port, nothing else. SRT's options are keys of
// the destination; a passphrase in the query would be readable wherever the URL shows.
func checkSRTURL(raw string) error {
	shown := Redact(withoutQuery(raw)) // the query may hold a passphrase
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%s is not a valid URL", shown)
	}
	switch {
	case u.Hostname() == "":
		return fmt.Errorf("%s has no host", shown)
	case u.RawQuery != "" || u.ForceQuery:
		if strings.Contains(strings.ToLower(u.RawQuery), "passphrase") {
			return fmt.Errorf("%s: a passphrase in the URL is readable wherever the URL shows (logs, /status, metrics): "+
				"leave it out, and give it with passphrase_file or passphrase_env", shown)
		}
		return fmt.Errorf("%s has a query (?...): SRT's options are keys of the destination "+
			"(latency, passphrase_file, passphrase_env, streamid)", shown)
	case u.User != nil:
		return fmt.Errorf("%s: SRT URLs take no user:password@ (a passphrase goes in passphrase_file or passphrase_env)", shown)
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return fmt.Errorf("%s has a fragment (#...): SRT URLs have none", shown)
	case u.Path != "" && u.Path != "/":
		return fmt.Errorf("%s has a path: want srt://host:port (a listener that tells streams apart takes a streamid)", shown)
	case u.Port() == "":
		return fmt.Errorf("%s has no port: want srt://host:port", shown)
	}
	return checkURLPort(raw)
}

// checkURLPort refuses a port outside 1..65535 in a URL that parses.
func checkURLPort(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("%s: port %s is outside 1..65535", Redact(raw), p)
		}
	}
	return nil
}

// checkUser checks a user name that goes into an RTSP Authorization header: no control
// character, which would end the header line and start one of the file's making; neither '"'
// nor '\', which would end or escape the quoted username of a Digest answer and add parameters
// to it; and no ':', which ends the user of a Basic answer (user:password). gortsplib writes
// the name as it is (and decodes a URL's "%0D%0A").
func checkUser(user string) error {
	if strings.ContainsFunc(user, unicode.IsControl) {
		return errors.New("holds a control character")
	}
	if i := strings.IndexAny(user, `"\`); i >= 0 {
		return fmt.Errorf("holds '%c': a Digest user name is sent between quotes, as it is", user[i])
	}
	if strings.Contains(user, ":") {
		return errors.New("holds ':', which Basic authentication takes for the end of the user name")
	}
	return nil
}

// checkPassword refuses a control character in a password: it is a slip (a password file of
// two lines, a tab pasted with it) that would only show as a refusal at the server.
func checkPassword(password string) error {
	if strings.ContainsFunc(password, unicode.IsControl) {
		return errors.New("holds a control character")
	}
	return nil
}

// checkRTSPURL checks an rtsp:// or rtsps:// URL with a host, and the user and password it
// holds. Messages show the URL redacted since they end up in logs.
func checkRTSPURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		// url.Error repeats the URL and may quote part of a password, as in "invalid port".
		if redacted := Redact(raw); redacted != raw {
			return fmt.Errorf("%s is not a valid URL", redacted)
		}
		return fmt.Errorf("not a valid URL: %w", err)
	}
	if u.Scheme != "rtsp" && u.Scheme != "rtsps" {
		return fmt.Errorf("%s: scheme must be rtsp or rtsps", Redact(raw))
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%s has no host", Redact(raw))
	}
	if err := checkUser(u.User.Username()); err != nil {
		return fmt.Errorf("%s: the user %w", Redact(raw), err)
	}
	pw, _ := u.User.Password()
	if err := checkPassword(pw); err != nil {
		return fmt.Errorf("%s: the password %w", Redact(raw), err)
	}
	return nil
}

// checkAddress checks a listen address: host:port, with an empty host for all interfaces and
// port 0 for any free port when allowZero is set.
func checkAddress(addr string, allowZero bool) (port int, err error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, fmt.Errorf("%q is not host:port", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return 0, fmt.Errorf("%q has no valid port", addr)
	}
	if port == 0 && !allowZero {
		return 0, fmt.Errorf("%q needs a fixed port, not 0", addr)
	}
	return port, nil
}

// maxSlateText is the most characters of the slate's text: it is one line on the card, under
// the channel's name, and must fit the narrowest picture at a size viewers can read.
const maxSlateText = 80

// checkSlateText checks the line the slate's card shows.
func checkSlateText(text string) error {
	if strings.ContainsFunc(text, unicode.IsControl) {
		return errors.New("holds a control character: the text is one line")
	}
	if n := utf8.RuneCountInString(text); n > maxSlateText {
		return fmt.Errorf("%d characters: at most %d, one line on the card", n, maxSlateText)
	}
	return nil
}

// The first bytes of the image files ffmpeg is given for the slate.
var (
	pngMagic  = []byte("\x89PNG\r\n\x1a\n")
	jpegMagic = []byte{0xff, 0xd8, 0xff}
)

// checkImage checks the slate's image: a regular file that liveinject can read and that starts
// as a PNG or JPEG file does. Found at load, a wrong image is an error of the profile, rather
// than a slate that fails to start in the middle of an outage. Only its first bytes are read:
// an image may well be larger than the files of the configuration.
func checkImage(file string) error {
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s does not exist", file)
	}
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", file, pathErr(err))
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s: %v", file, checkRegular(info))
	}
	// O_NONBLOCK: what is opened may have been swapped for a FIFO since the Stat.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("cannot read %s: %v", file, pathErr(err))
	}
	defer f.Close()
	head := make([]byte, len(pngMagic))
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("cannot read %s: %v", file, pathErr(err))
	}
	if head = head[:n]; !bytes.HasPrefix(head, pngMagic) && !bytes.HasPrefix(head, jpegMagic) {
		return fmt.Errorf("%s is not a PNG or JPEG image", file)
	}
	return nil
}

// pathErr returns the cause of a *fs.PathError, whose message would repeat the file's name.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
