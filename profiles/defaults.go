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
	// otherwise: loopback only. liveinject's ports (relay 7554, UDP 7556/7557, HTTP 7580) stay
	// clear of MediaMTX's defaults, a server it often pushes to on the same box.
	DefaultHTTPListen = "127.0.0.1:7580"
	defaultLogLevel   = "info"
	defaultLogFormat  = "text"

	defaultStopGrace    = Duration(3 * time.Second)
	defaultStallTimeout = Duration(10 * time.Second)
)

// builtinDefaults returns the settings a profile starts from when the main config's [defaults]
// say nothing.
func builtinDefaults() Defaults {
	return Defaults{
		Video: Video{
			Encoder: EncoderX264,
			// High: what every player of the last fifteen years decodes, and with B-frames off
			// (zerolatency) it costs no latency over main.
			Profile: "high",
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

// Defaults that depend on the source kind or the encoder, filled in by fillDefaults.
const (
	defaultV4L2Device  = "/dev/video0"
	defaultRTSPTimeout = Duration(5 * time.Second)
	defaultVAAPIDevice = "/dev/dri/renderD128"
)

// defaultPreset returns the preset an encoder gets when the profile names none: the fastest
// that still looks good at live bitrates, as a box may run many channels.
func defaultPreset(encoder string) string {
	switch encoder {
	case EncoderX264, EncoderQSV:
		return "veryfast"
	case EncoderNVENC:
		return "p3"
	}
	return "" // h264_vaapi and copy have no preset
}

// fillDefaults sets what the kinds of ch's inputs and its encoder need and the profile left
// out. It runs once a profile is decoded on top of [defaults], so that a rack's default preset
// does not stick to a channel whose encoder has none.
func fillDefaults(ch *Channel) {
	fillSourceDefaults(&ch.Source)
	for i := range ch.Backups {
		fillSourceDefaults(&ch.Backups[i])
	}
	v := &ch.Video
	if v.Preset == "" {
		v.Preset = defaultPreset(v.Encoder)
	}
	if v.Encoder == EncoderVAAPI && v.VAAPIDevice == "" {
		v.VAAPIDevice = defaultVAAPIDevice
	}
}

// fillSourceDefaults sets what the kind of input s needs and its table left out.
func fillSourceDefaults(s *Source) {
	switch s.Kind {
	case SourceV4L2:
		if s.Device == "" {
			s.Device = defaultV4L2Device
		}
	case SourceRTSP:
		if s.Timeout == 0 {
			s.Timeout = defaultRTSPTimeout
		}
	}
}

// defaultDestination returns the settings each [[destination]] starts from.
func defaultDestination() Destination {
	return Destination{Transport: defaultTransport, Verify: true}
}

// minVerifyEvery is the least time between two short return checks: each costs the server a
// player for a few seconds, and one that comes sooner would be continuous in all but name.
const minVerifyEvery = 10 * time.Second

// defaultHold is how long frames may stop before the hold begins: longer than any gap between
// frames of a healthy stream, short enough that players do not give up.
const defaultHold = Duration(time.Second)

// Failover and slate defaults. An input that gives no frame for failoverAfter is taken off air:
// three seconds of a frozen picture (held, see defaultHold) are brief for viewers, and longer
// than the stutters of a healthy camera or network, which should not switch inputs. An input
// that came back must deliver for returnAfter before it goes back on air, so that a flapping
// camera does not switch the channel to and fro every few seconds. The slate comes when nothing
// has worked for slateAfter: ten seconds of a frozen picture pass for a hiccup, longer ones
// should tell viewers that the outage is known.
const (
	defaultFailoverAfter = Duration(3 * time.Second)
	defaultReturnAfter   = Duration(10 * time.Second)
	defaultSlateAfter    = Duration(10 * time.Second)
	defaultSlateText     = "Back soon"
)

// Least failover and slate timings: a camera at 2 fps leaves 500 ms between frames, and a
// shorter failover_after would switch it away while it works; under a second, an input would
// go back on air, or the slate on, at a stutter.
const (
	minFailoverAfter = 500 * time.Millisecond
	minReturnAfter   = time.Second
	minSlateAfter    = time.Second
)
