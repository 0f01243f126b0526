package inject

import (
	"context"
	"net/url"
	"strings"

	"github.com/liveinject/liveinject/demux"
)

// pusher is what a kind of destination other than RTSP does: RTMP and RTMPS (see rtmp.go), SRT
// (see srt.go). The destination around it keeps what every kind shares: the queue, the wait for
// an IDR, the state, the backoff, the counters and the events.
type pusher interface {
	// session is destination.session for its kind: it connects, sends start (an IDR and the
	// units queued after it) and what d.queue brings next, and returns when the server fails, ctx
	// ends, or the parameters change. When the parameters changed it returns the unit that
	// carries the new ones and those after it that it has not sent; when it failed before
	// sending, start. It calls d.setState(StateConnecting, nil) as it begins, d.recording(nil,
	// transport) once the server takes the stream, counts what it writes in d.ownSent (frames:
	// one per video frame, one per AAC frame) and d.ownBytes, and d.drop for units it throws
	// away. An error that wraps errAuth puts the destination in StateAuthFailed.
	session(ctx context.Context, d *destination, start []*unit) (next []*unit, err error)
}

// newPusher makes the pusher of a target of its kind; redacted is the target's URL as logs,
// errors and Stats show it: without a password, stream key or passphrase.
type newPusher func(channel string, t Target, u *url.URL) (p pusher, redacted string, err error)

// pushers are the kinds of destination that send frames rather than RTP, by URL scheme.
var pushers = map[string]newPusher{
	"rtmp":  newRTMPPusher,
	"rtmps": newRTMPPusher,
	"srt":   newSRTPusher,
}

// isRTSP tells whether a destination URL is rtsp or rtsps: pushed with RTP, played back by the
// return check.
func isRTSP(raw string) bool {
	scheme, _, _ := strings.Cut(raw, "://")
	scheme = strings.ToLower(scheme)
	return scheme == "rtsp" || scheme == "rtsps"
}

// frameUnit is a unit's frame as the destinations that send frames have it (see pusher): a copy
// of its own, shared read-only by their goroutines.
type frameUnit struct {
	// data is video's access unit, NALUs without start codes, with SPS and PPS in front of a
	// keyframe; or audio's AAC frames (raw access units), 1024 samples each, one after the other.
	data [][]byte
	// pts and dts are the frame's channel time (of audio's first AAC frame), in 90 kHz ticks:
	// the time its RTP goes out with, continuous across input switches, ffmpeg restarts and
	// holds. dts equals pts for audio.
	pts, dts int64
}

// newFrameUnit copies data into one buffer.
func newFrameUnit(data [][]byte, pts, dts int64) *frameUnit {
	n := 0
	for _, b := range data {
		n += len(b)
	}
	buf := make([]byte, 0, n)
	out := make([][]byte, len(data))
	for i, b := range data {
		buf = append(buf, b...)
		out[i] = buf[len(buf)-len(b):]
	}
	return &frameUnit{data: out, pts: pts, dts: dts}
}

// weight is what a unit counts for in the destination's figures: its RTP packets for RTSP;
// for a pusher, its frames (one video frame, or its AAC frames).
func (d *destination) weight(u *unit) uint64 {
	switch {
	case d.push == nil:
		return uint64(len(u.pkts))
	case u.frame != nil && u.kind == demux.Audio:
		return uint64(len(u.frame.data))
	}
	return 1
}
