package supervisor

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
)

// TestTargetsCarryVerify checks that a destination's return check settings reach its target:
// verify = false as NoVerify, verify_url and verify_every as they are.
func TestTargetsCarryVerify(t *testing.T) {
	ch := profiles.Channel{Name: "lobby", Destinations: []profiles.Destination{
		{URL: "rtsp://dss1.example/lobby.sdp", Transport: "tcp", Verify: true},
		{URL: "rtsp://dss2.example/in/lobby.sdp", Transport: "tcp", Verify: true,
			VerifyURL: "rtsp://dss2.example/out/lobby.sdp", VerifyEvery: profiles.Duration(time.Minute)},
		{URL: "rtsp://dss3.example/lobby.sdp", Transport: "tcp"},
	}}
	want := []inject.Target{
		{URL: "rtsp://dss1.example/lobby.sdp", Transport: "tcp"},
		{URL: "rtsp://dss2.example/in/lobby.sdp", Transport: "tcp", VerifyURL: "rtsp://dss2.example/out/lobby.sdp",
			VerifyEvery: time.Minute},
		{URL: "rtsp://dss3.example/lobby.sdp", Transport: "tcp", NoVerify: true},
	}
	got := targets(ch)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestTargetsCarryRTMPAndSRT checks that the keys of rtmp and srt destinations reach their
// targets: the stream key, and SRT's latency, passphrase and streamid. A change of any of them
// is then a new target, which Fanout.SetTargets reconnects alone.
func TestTargetsCarryRTMPAndSRT(t *testing.T) {
	ch := profiles.Channel{Name: "lobby", Destinations: []profiles.Destination{
		{URL: "rtmps://live.example/app", KeyFile: "yt.key", StreamKey: "k-123", TLSInsecure: true, Verify: true},
		{URL: "srt://srt.example:9000", Latency: profiles.Duration(250 * time.Millisecond), PassphraseEnv: "P",
			Passphrase: "0123456789", StreamID: "publish:lobby", Verify: true},
	}}
	want := []inject.Target{
		{URL: "rtmps://live.example/app", StreamKey: "k-123", TLSInsecure: true},
		{URL: "srt://srt.example:9000", SRTLatency: 250 * time.Millisecond, SRTPassphrase: "0123456789",
			SRTStreamID: "publish:lobby"},
	}
	got := targets(ch)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("target %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}
