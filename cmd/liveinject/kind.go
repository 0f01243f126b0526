package main

import (
	"strings"

	"github.com/liveinject/liveinject/inject"
)

// The kinds of destination, as /status (kind), the status command and the metrics'
// liveinject_destination_info (kind label) name them: what a destination sends, and whether the
// return check can play it back.
const (
	// KindRTSP: rtsp:// and rtsps://, pushed with RTP (ANNOUNCE, SETUP, RECORD); played back
	// by the return check.
	KindRTSP = "rtsp"
	// KindRTMP: rtmp:// and rtmps://, pushed as FLV; not played back.
	KindRTMP = "rtmp"
	// KindSRT: srt://, MPEG-TS over SRT in caller mode; not played back.
	KindSRT = "srt"
)

// DestinationKind returns the kind of the destination at url (as /status shows it, redacted or
// not): rtsp, rtmp or srt, the secure variant of a scheme being its kind (rtsps is rtsp). A
// scheme of no known kind comes back as it is, in lower case, so that a newer sender shows for
// what it is; a URL without one is "".
func DestinationKind(url string) string {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return ""
	}
	switch scheme = strings.ToLower(scheme); scheme {
	case "rtsp", "rtsps":
		return KindRTSP
	case "rtmp", "rtmps":
		return KindRTMP
	case "srt":
		return KindSRT
	}
	return scheme
}

// notPlayedBack is the verify cause of a destination that the return check does not play back
// for its kind (it plays RTSP only): its verify state is off, and this says why, so that an
// operator does not take the off for a check turned off by mistake, nor for a fault.
func notPlayedBack(kind string) string {
	return "not played back: " + kind
}

// verifyCause is what /status shows as the cause of a destination's return check: v's own, or,
// for a destination of a kind the check does not play, why it is off.
func verifyCause(kind string, v inject.Verify) string {
	if v.Cause == "" && kind != "" && kind != KindRTSP && verifyState(v) == inject.VerifyOff {
		return notPlayedBack(kind)
	}
	return v.Cause
}
