// Package profiles reads liveinject's main config file and its directory of channel profiles.
package profiles

import (
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
}

// Relay configures the built-in RTSP relay. An empty Listen disables it.
type Relay struct {
	// Listen is the RTSP (TCP) listen address, e.g. "127.0.0.1:8554"; port 0 picks a free port.
	Listen string `toml:"listen"`

	// UDPRTPAddress and UDPRTCPAddress enable RTP/RTCP over UDP for players. Both or neither;
	// the ports must be an even number and the next one.
	UDPRTPAddress  string `toml:"udp_rtp_address"`
	UDPRTCPAddress string `toml:"udp_rtcp_address"`
}

// HTTP configures the HTTP endpoint of /status, /metrics and /healthz.
type HTTP struct {
	// Listen is the TCP listen address; "" turns the endpoint off. Default "127.0.0.1:9997".
	// Listening on another host than loopback is an explicit choice and then needs User and
	// PasswordFile (basic auth).
	Listen string `toml:"listen"`
	// User and PasswordFile enable basic auth; the file holds the password (trailing newline
	// ignored), read into Password when the config is loaded. A relative path is taken from the
	// config file's directory.
	User         string `toml:"user"`
	PasswordFile string `toml:"password_file"`
	Password     string `toml:"-"`
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

	Source       Source        `toml:"source"`
	Video        Video         `toml:"video"`
	Audio        Audio         `toml:"audio"`
	Destinations []Destination `toml:"destination"`
}

// Source says what ffmpeg captures.
type Source struct {
	// Kind of source. "testsrc": a test pattern with a tone.
	Kind string `toml:"kind"`
}

// Video is the video encoder's settings.
type Video struct {
	// Encoder is the ffmpeg H.264 encoder. Default "libx264".
	Encoder string `toml:"encoder"`
	// Bitrate in bits per second, written "2500k" or "4M". Default 2500k.
	Bitrate Bitrate `toml:"bitrate"`
	// GOP is the time between keyframes, written "2s". Default 2s.
	GOP Duration `toml:"gop"`
	// Size is the picture size, written "1280x720". Default 1280x720.
	Size Size `toml:"size"`
	// FPS is the frame rate. Default 25.
	FPS int `toml:"fps"`
}

// Audio is the audio encoder's settings.
type Audio struct {
	// Encoder is "aac" or "none". Default "aac".
	Encoder string `toml:"encoder"`
	// Bitrate in bits per second, written "128k". Default 128k.
	Bitrate Bitrate `toml:"bitrate"`
	// SampleRate in Hz. Default 48000.
	SampleRate int `toml:"sample_rate"`
	// Channels is 1 (mono) or 2 (stereo). Default 2.
	Channels int `toml:"channels"`
}

// Destination is one RTSP server the channel is pushed to.
type Destination struct {
	// URL is rtsp://host[:port]/path. "{channel}" is replaced by the channel's name when the
	// profile is loaded; "{relay}" stands for the built-in relay's bound address and is replaced
	// at run time (see ExpandRelay).
	URL string `toml:"url"`
	// Transport is "tcp" (interleaved, default), "udp", or "auto" (UDP, then TCP).
	Transport string `toml:"transport"`
	// User and Password authenticate with the server (Basic or Digest, as it asks), in place
	// of credentials in the URL. Password is read from PasswordFile or the environment variable
	// PasswordEnv when the file is loaded, or given as "password" (discouraged: it warns).
	User         string `toml:"user"`
	Password     string `toml:"-"`
	PasswordFile string `toml:"password_file"`
	PasswordEnv  string `toml:"password_env"`
	// SessionName is the SDP session name (s=) announced. Default: the channel's name.
	SessionName string `toml:"session_name"`
}

// Duration is a time.Duration written as a string such as "2s" or "500ms".
type Duration time.Duration

// Bitrate is in bits per second, written as "128000", "128k" or "4M".
type Bitrate int64

// Size is a picture size written as "1280x720".
type Size struct {
	Width, Height int
}
