// Package profiles reads liveinject's main config file and its directory of channel profiles.
package profiles

import (
	"strconv"
	"time"
)

// Config is the main config file together with the channels of its profile directory.
type Config struct {
	// Path is the file the config was read from.
	Path string `toml:"-"`

	// FFmpeg is the ffmpeg binary to run: a name looked up in PATH, or a path. Default "ffmpeg".
	FFmpeg string `toml:"ffmpeg"`

	// Profiles is the profile directory, relative to the config file's directory. Default "profiles".
	Profiles string `toml:"profiles"`

	// Relay configures the built-in RTSP relay.
	Relay Relay `toml:"relay"`

	// HTTP configures the status and metrics endpoint.
	HTTP HTTP `toml:"http"`

	// Log configures the log.
	Log Log `toml:"log"`

	// Defaults are what every profile starts from.
	Defaults Defaults `toml:"defaults"`

	// Webhooks are the programs told of what happens to the channels, one [[webhook]] each.
	// Read at start only.
	Webhooks []Webhook `toml:"webhook"`

	// Channels are the enabled channels of the profile directory, sorted by name.
	Channels []Channel `toml:"-"`
	// Disabled names the profiles with enabled = false, sorted.
	Disabled []string `toml:"-"`
	// Warnings are settings that work but should be written otherwise, such as a password in
	// a profile, each as file:line: message.
	Warnings Errors `toml:"-"`
}

// Defaults are the settings every profile starts from, so that a rack's profiles hold only
// what is their own.
type Defaults struct {
	Video Video `toml:"video"`
	Audio Audio `toml:"audio"`
	// Destinations are templates for the profiles that have no [[destination]] of their own:
	// "{channel}" in a URL becomes the channel's name.
	Destinations []Destination `toml:"destination"`
	// Record, when On, records every channel whose profile does not say record = "off"; a
	// profile's [record] sets its keys over it.
	Record Record `toml:"record"`
}

// Webhook is one receiver of events (see package internal/webhook): a JSON POST for each.
type Webhook struct {
	// Name names it in logs, metrics and /status. Default: its URL without credentials and
	// query.
	Name string `toml:"name"`
	// URL is where the events go: http:// or https://.
	URL string `toml:"url"`
	// SecretFile, when set, holds the key (trailing newline ignored) of the HMAC-SHA256 that
	// signs each body, read into Secret when the config is loaded; relative to the config
	// file's directory unless absolute.
	SecretFile string `toml:"secret_file"`
	Secret     string `toml:"-"`
	// Events are the kinds of event it gets ("channel.started"), or families ("channel.*");
	// empty: every kind.
	Events []string `toml:"events"`
	// Timeout bounds each try. Default 10s.
	Timeout Duration `toml:"timeout"`
}

// Relay configures the built-in RTSP relay. An empty Listen disables it.
type Relay struct {
	// Listen is the RTSP (TCP) listen address, e.g. "127.0.0.1:7554"; port 0 picks a free port.
	Listen string `toml:"listen"`

	// UDPRTPAddress and UDPRTCPAddress enable RTP/RTCP over UDP for players. Both or neither;
	// the ports must be an even number and the next one.
	UDPRTPAddress  string `toml:"udp_rtp_address"`
	UDPRTCPAddress string `toml:"udp_rtcp_address"`

	// User and PasswordFile are what a publisher must give the relay (Basic or Digest); the
	// file holds the password, read into Password when the config is loaded. A listen address
	// other hosts can reach needs them. Without them run makes up credentials at start, which
	// its own channels use: no other program can publish, nor replace a channel's publisher.
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	Password     string `toml:"-"`
}

// HTTP configures the HTTP endpoint of /status, /metrics and /healthz.
type HTTP struct {
	// Listen is the TCP listen address; "" turns the endpoint off. Default "127.0.0.1:7580".
	// Listening on another host than loopback is an explicit choice and then needs User and
	// PasswordFile (basic auth).
	Listen string `toml:"listen"`
	// User and PasswordFile enable basic auth; the file holds the password (trailing newline
	// ignored), read into Password when the config is loaded. A relative path is taken from the
	// config file's directory.
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	Password     string `toml:"-"`
	// Hosts are the names, beside the listen address, localhost and the machine's host name, by
	// which clients reach the endpoint: a request whose Host header is another name is refused,
	// so that a web page whose own name resolves to this box (DNS rebinding) cannot read it.
	Hosts []string `toml:"hosts"`
}

// Log configures the log on standard error.
type Log struct {
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `toml:"level"`
	// Format is "text" (default) or "json".
	Format string `toml:"format"`
}

// Channel is one profile file: one source, encoded once, pushed to every destination.
type Channel struct {
	// Name is the channel's name: the profile's file name without ".toml", unless the profile
	// sets name. Names are unique.
	Name string `toml:"name"`

	// File is the profile's path.
	File string `toml:"-"`

	// Hold is how long the channel's frames may stop (ffmpeg crashed, stalled, restarting)
	// before every destination gets the last keyframe again, twice a second, until they come
	// back, with AAC silence on the audio track: the sessions stay and viewers see the last
	// picture. 0 ("off") sends nothing. Default 1s.
	Hold Duration `toml:"hold"`

	Source Source `toml:"source"`
	// Backups are the inputs that go on air, in order, when the source fails: up to
	// MaxBackups [[backup]] tables with the keys of [source] (and input_args for kind
	// "ffmpeg"). [video] and [audio] apply to every input, so that the stream the
	// destinations get stays the same (SPS, PPS, AudioSpecificConfig) across a switch.
	Backups []Source `toml:"backup"`
	// FailoverAfter is how long the input on air may give no frame before the next working
	// input goes on air (the hold covers the time between). Default 3s.
	FailoverAfter Duration `toml:"failover_after"`
	// ReturnAfter is how long an input before the one on air (the source, or an earlier
	// backup) must deliver frames without a break before it goes back on air, at its next
	// keyframe. Default 10s.
	ReturnAfter Duration `toml:"return_after"`
	// SlateAfter is how long no input may work before the slate goes on air. Default 10s.
	SlateAfter Duration `toml:"slate_after"`
	// Slate is what goes on air when no input works: [slate], or slate = "off".
	Slate Slate `toml:"slate"`
	// Alarms are the content checks of the input on air: [alarms], or alarms = "off".
	Alarms Alarms `toml:"alarms"`

	Video        Video         `toml:"video"`
	Audio        Audio         `toml:"audio"`
	FFmpeg       FFmpeg        `toml:"ffmpeg"`
	Destinations []Destination `toml:"destination"`
	// Record keeps the channel's program on disk: [record], or record = "off" against
	// [defaults.record].
	Record Record `toml:"record"`
}

// Source kinds.
const (
	SourceTestsrc = "testsrc" // a test pattern with a 1 kHz tone
	SourceV4L2    = "v4l2"    // a camera or capture card, with ALSA or PulseAudio sound
	SourceRTSP    = "rtsp"    // an IP camera or any RTSP server, pulled over TCP
	SourceFile    = "file"    // a media file, looped forever at its own pace
	SourceFFmpeg  = "ffmpeg"  // ffmpeg input arguments written by hand ([ffmpeg] input_args)
)

// MaxBackups is how many [[backup]] inputs a profile may have.
const MaxBackups = 4

// InputName names a channel's input i in messages, status and logs: 0 is "source", i > 0 is
// Backups[i-1], "backup i", as an operator counts the [[backup]] tables of the profile.
func InputName(i int) string {
	if i == 0 {
		return "source"
	}
	return "backup " + strconv.Itoa(i)
}

// Slate is the picture that goes on air when no input works, encoded by ffmpeg at the
// channel's own settings, with AAC silence.
type Slate struct {
	// Off keeps the last picture held instead (slate = "off").
	Off bool `toml:"-"`
	// Image is a PNG or JPEG file shown full frame (fitted, with black bars), its path
	// relative to the profile's directory unless absolute (made absolute when the profile is
	// loaded). "" draws a card: the channel's name, Text and the time.
	Image string `toml:"image"`
	// Text is the card's line under the channel's name. Default "Back soon".
	Text string `toml:"text"`
}

// Alarms are a channel's content checks: ffmpeg's blackdetect, freezedetect and silencedetect
// in the encoding graph of each of its inputs (not the slate's), which say when the picture is
// black, when it stands still, and when the sound is silent. A stream copied through (encoder
// "copy") is not decoded: its video, or its audio, has no alarms.
type Alarms struct {
	// Off runs none of the checks (alarms = "off").
	Off bool `toml:"-"`
	// BlackAfter is how long the picture must be black before the black alarm. Default 5s.
	BlackAfter Duration `toml:"black_after"`
	// BlackThreshold is the luma (0 to 1 of the limited range) under which a pixel is black
	// (blackdetect's pix_th); BlackRatio the share of the picture's pixels that must be black
	// (its picture_black_ratio_th). Defaults 0.10 and 0.98.
	BlackThreshold float64 `toml:"black_threshold"`
	BlackRatio     float64 `toml:"black_ratio"`
	// FrozenAfter is how long the picture must stand still before the frozen alarm. Default 10s.
	FrozenAfter Duration `toml:"frozen_after"`
	// FrozenNoise is the difference between two pictures under which they are the same
	// (freezedetect's n). Default -60dB.
	FrozenNoise Level `toml:"frozen_noise"`
	// SilentAfter is how long the sound must be silent before the silent alarm. Default 10s.
	SilentAfter Duration `toml:"silent_after"`
	// SilentLevel is the level under which sound is silence (silencedetect's n). Default -60dB.
	SilentLevel Level `toml:"silent_level"`
}

// Source says what ffmpeg captures. Which keys apply depends on Kind; the others stay zero.
type Source struct {
	// Kind of source: one of the Source* constants.
	Kind string `toml:"kind"`

	// Device is the v4l2 device. Default "/dev/video0".
	Device string `toml:"device"`
	// InputFormat is the v4l2 capture format, as `ffmpeg -f v4l2 -list_formats all -i DEVICE`
	// names it ("mjpeg", "yuyv422", "h264"); "" takes the device's default.
	InputFormat string `toml:"input_format"`
	// Size and FPS are what the v4l2 device is asked to capture; zero takes the device's
	// default. When they differ from [video]'s, ffmpeg scales and drops or repeats frames.
	Size Size `toml:"size"`
	FPS  int  `toml:"fps"`
	// Audio is the v4l2 source's sound: "alsa:DEVICE" ("alsa:hw:1,0") or "pulse:DEVICE"
	// ("pulse:default"); "" for none.
	Audio string `toml:"audio"`

	// URL is the rtsp source's address, rtsp://[user:password@]host[:port]/path.
	URL string `toml:"url"`
	// Timeout is how long a read from the rtsp source may block before ffmpeg gives up.
	// Default 5s.
	Timeout Duration `toml:"timeout"`

	// Path is the file source's path, relative to the profile's directory unless absolute
	// (made absolute when the profile is loaded).
	Path string `toml:"path"`

	// InputArgs are a [[backup]]'s whole ffmpeg input part for kind "ffmpeg", as [ffmpeg]
	// input_args are the source's. Always empty in [source].
	InputArgs []string `toml:"input_args"`
}

// Video encoders.
const (
	EncoderX264  = "libx264"
	EncoderNVENC = "h264_nvenc"
	EncoderVAAPI = "h264_vaapi"
	EncoderQSV   = "h264_qsv"
	// EncoderCopy passes the source's H.264 (or AAC, for audio) through unchanged.
	EncoderCopy = "copy"
)

// Video is the video encoder's settings.
type Video struct {
	// Encoder is the ffmpeg H.264 encoder, or "copy". Default "libx264".
	Encoder string `toml:"encoder"`
	// Preset trades speed for quality, in the encoder's own words: libx264's "ultrafast" ..
	// "placebo", h264_qsv's "veryfast" .. "veryslow", h264_nvenc's "p1" .. "p7"; h264_vaapi has
	// none. Default: "veryfast" for libx264 and h264_qsv, "p3" for h264_nvenc (set when the
	// profile is loaded).
	Preset string `toml:"preset"`
	// Profile is the H.264 profile: "baseline", "main" or "high". Default "high".
	Profile string `toml:"profile"`
	// Bitrate in bits per second, written "2500k" or "4M". Default 2500k.
	Bitrate Bitrate `toml:"bitrate"`
	// GOP is the time between keyframes, written "2s". Default 2s.
	GOP Duration `toml:"gop"`
	// Size is the picture size, written "1280x720". Default 1280x720.
	Size Size `toml:"size"`
	// FPS is the frame rate. Default 25.
	FPS int `toml:"fps"`
	// VAAPIDevice is h264_vaapi's DRM render node. Default "/dev/dri/renderD128" (set when
	// the profile is loaded, with h264_vaapi only).
	VAAPIDevice string `toml:"vaapi_device"`
}

// Audio is the audio encoder's settings.
type Audio struct {
	// Encoder is "aac", "copy" (the source's AAC unchanged) or "none". Default "aac".
	Encoder string `toml:"encoder"`
	// Bitrate in bits per second, written "128k". Default 128k.
	Bitrate Bitrate `toml:"bitrate"`
	// SampleRate in Hz. Default 48000.
	SampleRate int `toml:"sample_rate"`
	// Channels is 1 (mono) or 2 (stereo). Default 2.
	Channels int `toml:"channels"`
}

// FFmpeg holds ffmpeg arguments written by hand, for experts: liveinject passes them on
// unchecked, and its own output arguments always come last.
type FFmpeg struct {
	// InputArgs are the whole input part of the command line for source kind "ffmpeg", e.g.
	// ["-f", "lavfi", "-i", "testsrc2"]. The first video and first audio stream of the first
	// input are used.
	InputArgs []string `toml:"input_args"`
	// ExtraOutputArgs come after the encoder settings, e.g. ["-vf", "yadif"]. A -vf here
	// replaces liveinject's own video filter (scaling, frame rate, hwupload).
	ExtraOutputArgs []string `toml:"extra_output_args"`
	// StopGrace is how long ffmpeg gets to exit after SIGINT before SIGKILL. Default 3s.
	StopGrace Duration `toml:"stop_grace"`
	// StallTimeout: no video frame (no frame at all without video) for this long, and ffmpeg is
	// killed and started again. Default 10s.
	StallTimeout Duration `toml:"stall_timeout"`
}

// Destination kinds, as Destination.Kind names them.
const (
	KindRTSP = "rtsp" // rtsp:// and rtsps://: RTP pushed with ANNOUNCE, SETUP and RECORD
	KindRTMP = "rtmp" // rtmp:// and rtmps://: H.264 and AAC in FLV
	KindSRT  = "srt"  // srt://: MPEG-TS over SRT, in caller mode
)

// Destination is one server the channel is pushed to. Which keys apply depends on the kind of
// its URL (see Kind); the others stay zero.
type Destination struct {
	// URL is rtsp://host[:port]/path (or rtsps), rtmp://host[:port]/app[/stream] (or rtmps),
	// or srt://host:port. "{channel}" is replaced by the channel's name when the profile is
	// loaded; "{relay}", in rtsp URLs only, stands for the built-in relay's bound address and
	// is replaced at run time (see ExpandRelay).
	URL string `toml:"url"`
	// Transport is "tcp" (interleaved, default), "udp", or "auto" (UDP, then TCP). RTSP only;
	// empty for the other kinds.
	Transport string `toml:"transport"`
	// User and Password authenticate with an RTSP server (Basic or Digest, as it asks), in place
	// of credentials in the URL. Password is read from PasswordFile or the environment variable
	// PasswordEnv when the file is loaded, or given as "password" (discouraged: it warns).
	User         string `toml:"user"`
	Password     string `toml:"-"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	// SessionName is the SDP session name (s=, and QuickTime's a=x-qt-text-nam) announced.
	// Default: the channel's name.
	SessionName string `toml:"session_name"`
	// SessionInfo (i=, and a=x-qt-text-inf), SessionAuthor, SessionCopyright and SessionComment
	// (a=x-qt-text-aut, -cpy, -cmt) describe the stream to players, as DarwinInjector's
	// announcements did. Empty ones are left out.
	SessionInfo      string `toml:"session_info"`
	SessionAuthor    string `toml:"session_author"`
	SessionCopyright string `toml:"session_copyright"`
	SessionComment   string `toml:"session_comment"`
	// TLSCAFile, for an rtsps URL, is a PEM file of the authorities that sign the server's
	// certificate, checked in place of the system's; relative to the file's directory unless
	// absolute. TLSCA is its content, read when the file is loaded.
	TLSCAFile string `toml:"tls_ca_file"`
	TLSCA     string `toml:"-"`
	// TLSInsecure, for an rtsps URL, skips the check of the server's certificate.
	TLSInsecure bool `toml:"tls_insecure"`
	// Verify has the stream played back from the server at VerifyURL and checked to be the
	// channel's (the return check). Default true; false for a server that does not let the box
	// play.
	Verify bool `toml:"verify"`
	// VerifyURL is where players get the stream, rtsp or rtsps; "{channel}" and "{relay}" as in
	// URL. Default: URL. It is played with the destination's credentials unless it has its own.
	VerifyURL string `toml:"verify_url"`
	// VerifyEvery is 0 (the default) for a check that plays the stream all the time, else the
	// time between short checks, for servers where a player costs something.
	VerifyEvery Duration `toml:"verify_every"`

	// StreamKey, for rtmp and rtmps, is the stream key, published as the last element of the
	// path after URL's (which then names the application only). It is read from KeyFile
	// (relative to the file's directory unless absolute) or the environment variable KeyEnv
	// when the file is loaded, so a new key applies on reload; it never shows in messages.
	StreamKey string `toml:"-"`
	KeyFile   string `toml:"key_file"`
	KeyEnv    string `toml:"key_env"`

	// Latency, for srt, is the receiver's buffer that SRT retransmits lost packets within,
	// MinSRTLatency to MaxSRTLatency; 0 is libsrt's default (120 ms).
	Latency Duration `toml:"latency"`
	// Passphrase, for srt, encrypts the stream (AES): 10 to 79 characters, read from
	// PassphraseFile or the environment variable PassphraseEnv when the file is loaded; ""
	// sends in the clear. It never shows in messages.
	Passphrase     string `toml:"-"`
	PassphraseFile string `toml:"passphrase_file"`
	PassphraseEnv  string `toml:"passphrase_env"`
	// StreamID, for srt, is the stream ID the listener may ask for (MediaMTX's
	// "publish:NAME"); "{channel}" is replaced as in URL. At most 512 characters.
	StreamID string `toml:"streamid"`
}

// Kind returns the kind of the destination's URL: KindRTSP, KindRTMP or KindSRT, or "" for a
// URL of another scheme.
func (d Destination) Kind() string {
	return KindOf(d.URL)
}

// Duration is a time.Duration written as a string such as "2s" or "500ms".
type Duration time.Duration

// Bitrate is in bits per second, written as "128000", "128k" or "4M".
type Bitrate int64

// Size is a picture size written as "1280x720".
type Size struct {
	Width, Height int
}
