package profiles

import "time"

// Defaults make the smallest profile a [source] and a [[destination]]: a 720p25 H.264 + AAC
// stream that every player and DSS version takes, with a 2 s GOP so that a player that joins
// late waits at most two seconds for a picture.
const (
	defaultFFmpeg    = "ffmpeg"
	defaultProfiles  = "profiles"
	defaultTransport = "tcp" // DSS and firewalls take interleaved RTP most readily.
	// DefaultHTTPListen is where status and metrics are served unless the config says
	// otherwise: loopback only, MediaMTX's API port.
	DefaultHTTPListen = "127.0.0.1:9997"
	defaultLogLevel   = "info"
	defaultLogFormat  = "text"
)

// builtinDefaults returns the settings a profile starts from when the main config's [defaults]
// say nothing.
func builtinDefaults() Defaults {
	return Defaults{
		Video: Video{
			Encoder: "libx264",
			Bitrate: 2_500_000,
			GOP:     Duration(2 * time.Second),
			Size:    Size{Width: 1280, Height: 720},
			FPS:     25,
		},
		Audio: Audio{
			Encoder:    "aac",
			Bitrate:    128_000,
			SampleRate: 48000,
			Channels:   2,
		},
	}
}

// defaultDestination returns the settings each [[destination]] starts from.
func defaultDestination() Destination {
	return Destination{Transport: defaultTransport}
}
