package main

import (
	"cmp"
	"strings"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// DestinationKind returns the kind of the destination at url (as /status shows it, redacted or
// not): profiles.KindRTSP, profiles.KindRTMP or profiles.KindSRT, as /status (kind), the status command and
// liveinject_destination_info name them. A scheme of no known kind comes back as it is, in lower
// case, so that a newer sender shows for what it is; a URL without one is "".
func DestinationKind(url string) string {
	scheme, _, ok := strings.Cut(url, "://")
	if !ok {
		return ""
	}
	return cmp.Or(profiles.KindOf(url), strings.ToLower(scheme))
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
	if v.Cause == "" && kind != "" && kind != profiles.KindRTSP && verifyState(v) == inject.VerifyOff {
		return notPlayedBack(kind)
	}
	return v.Cause
}
