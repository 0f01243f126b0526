package main

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// The outage tests hold a channel's sessions through long source outages, with a player on the
// built-in relay and an `ffmpeg -rtsp_flags listen` receiver (which takes one publisher: a second
// ANNOUNCE would find it gone), each over TCP and over UDP, and check what each recorded.

// player is an ffmpeg reading an RTSP URL and recording what it gets, copied, to an MPEG-TS
// file, until it is stopped.
type player struct {
	name   string
	out    string
	cmd    *exec.Cmd
	stderr fftest.Buffer
	done   chan error
}

// startPlayer starts a player of url over transport ("tcp" or "udp").
func startPlayer(t *testing.T, name, url, transport string) *player {
	t.Helper()
	p := &player{name: name, out: filepath.Join(t.TempDir(), name+".ts"), done: make(chan error, 1)}
	p.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-rtsp_transport", transport,
		"-i", url, "-c", "copy", "-f", "mpegts", p.out)
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill() //nolint:errcheck // it may have ended
		<-p.done
		p.done <- nil
	})
	return p
}

// stop has the player finish its recording, as q or Ctrl-C do, and returns the recording. It
// must still be playing: a player that ended before has lost the stream.
func (p *player) stop(t *testing.T) string {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		t.Fatalf("player %s ended before it was stopped: %v\n%s", p.name, err, p.stderr.String())
	default:
	}
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		// ffmpeg exits 255 after a signal, once its output is finished
		var exit *exec.ExitError
		if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 255) {
			t.Fatalf("player %s: %v\n%s", p.name, err, p.stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("player %s did not stop", p.name)
	}
	return p.out
}

// videoTimes returns the presentation times of a recording's video packets, in seconds, in
// the order they were written.
func videoTimes(t *testing.T, recording string) []float64 {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "packet=pts_time",
		"-of", "csv=p=0", recording).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", recording, err)
	}
	var times []float64
	for _, line := range strings.Fields(string(out)) {
		if pts, err := strconv.ParseFloat(strings.TrimSuffix(line, ","), 64); err == nil {
			times = append(times, pts)
		}
	}
	return times
}

// checkHeldRecording checks what a receiver recorded through an outage: video whose times go
// forward, with no gap longer than the hold delay and a held frame (1.5 s) from end to end,
// spanning at least span; live frames (at least 20 a second) in its last two seconds; and
// nothing the decoder complains about.
func checkHeldRecording(t *testing.T, name, recording string, span float64) {
	t.Helper()
	times := videoTimes(t, recording)
	if len(times) < 2 {
		t.Errorf("%s: %d video packets", name, len(times))
		return
	}
	gap, at := 0.0, 0.0
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			t.Errorf("%s: video went back: %.3f after %.3f", name, times[i], times[i-1])
			return
		}
		if d := times[i] - times[i-1]; d > gap {
			gap, at = d, times[i-1]
		}
	}
	first, last := times[0], times[len(times)-1]
	t.Logf("%s: %d video packets over %.1f s, longest gap %.2f s at %.1f s", name, len(times), last-first, gap, at-first)
	if gap > 1.5 {
		t.Errorf("%s: no video for %.2f s from %.1f s on", name, gap, at-first)
	}
	if last-first < span {
		t.Errorf("%s: the recording spans %.1f s, want at least %.0f s", name, last-first, span)
	}
	live := 0
	for _, x := range times {
		if x > last-2 {
			live++
		}
	}
	if live < 40 {
		t.Errorf("%s: %d frames in the last 2 s, want live frames (25 a second)", name, live)
	}
	// (in the recording's own time base: a frame rate ffmpeg guesses from held and live frames
	// would put two frames in one slot)
	if dec, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", recording,
		"-enc_time_base", "-1", "-f", "null", "-").CombinedOutput(); err != nil || len(dec) != 0 {
		t.Errorf("%s: decoding: %v\n%s", name, err, dec)
	}
}

// outageConfig writes a config whose channel "test" (no slate; source: the profile text given, plus
// [video]/[audio] at 640x360 25 fps, 48 kHz stereo) pushes to the relay over TCP and over UDP and
// to two ffmpeg receivers, over TCP and over UDP. It returns a function that waits for the
// receivers to end (after the run's TEARDOWN) and checks what each recorded.
func outageConfig(t *testing.T, source string) (config string, checkReceivers func(span float64)) {
	t.Helper()
	rtpAddr, rtcpAddr := fftest.FreeUDPPair(t)
	url, waitTCP := fftest.Receiver(t)
	udpURL, waitUDP := fftest.Receiver(t)
	// These tests are of the hold: no slate takes its place after slate_after.
	profile := "slate = \"off\"\n" + source + `
[video]
size = "640x360"
fps = 25
gop = "1s"
[audio]
sample_rate = 48000
channels = 2
[[destination]]
url = "rtsp://{relay}/test.sdp"
[[destination]]
url = "rtsp://{relay}/udp.sdp"
transport = "udp"
[[destination]]
url = "` + url + `"
[[destination]]
url = "` + udpURL + `"
transport = "udp"
`
	main := fmt.Sprintf("%s[relay]\nlisten = \"127.0.0.1:0\"\nudp_rtp_address = %q\nudp_rtcp_address = %q\n",
		httpAnyPort, rtpAddr, rtcpAddr)
	return writeProfileConfig(t, main, profile), func(span float64) {
		checkHeldRecording(t, "ffmpeg-receiver-tcp", waitTCP(), span)
		checkHeldRecording(t, "ffmpeg-receiver-udp", waitUDP(), span)
	}
}

// startPlayers starts a player on each of the relay's paths and waits until both read.
func startPlayers(t *testing.T, r *running) []*player {
	t.Helper()
	players := []*player{
		startPlayer(t, "relay-tcp", "rtsp://"+r.inst.relayAddr+"/test.sdp", "tcp"),
		startPlayer(t, "relay-udp", "rtsp://"+r.inst.relayAddr+"/udp.sdp", "udp"),
	}
	fftest.WaitFor(t, 20*time.Second, "both players reading", func() bool {
		n := 0
		for _, p := range r.inst.relay.Paths() {
			n += p.Readers
		}
		return n == 2
	})
	return players
}

// waitAllSending waits until every destination of the channel has sent packets.
func waitAllSending(t *testing.T, r *running) statusReport {
	t.Helper()
	var s statusReport
	fftest.WaitFor(t, 30*time.Second, "every destination sending", func() bool {
		s = getStatusReport(t, r)
		if len(s.Channels) != 1 || len(s.Channels[0].Destinations) != 4 {
			return false
		}
		for _, d := range s.Channels[0].Destinations {
			if d.PacketsSent == 0 {
				return false
			}
		}
		return true
	})
	return s
}

// waitLive waits until the channel's frames have ended its hold, for 3 s (the recordings'
// live end), and returns its status then and when it saw it live first.
func waitLive(t *testing.T, r *running, within time.Duration) (channelReport, time.Time) {
	t.Helper()
	var c channelReport
	var live time.Time
	fftest.WaitFor(t, within, "3 s live again", func() bool {
		c = getStatusReport(t, r).Channels[0]
		switch {
		case c.HoldingSince != nil || c.State != "running":
			live = time.Time{}
		case live.IsZero():
			live = time.Now()
			t.Logf("live again after %.1f s held in all", c.HeldSeconds)
		}
		return !live.IsZero() && time.Since(live) > 3*time.Second
	})
	return c, live
}

// checkRecordings ends an outage test: every destination of the channel c kept its first
// session, and what the players and then the receivers (once the run has stopped) recorded went
// through the outage, over at least span seconds.
func checkRecordings(t *testing.T, r *running, c channelReport, players []*player, checkReceivers func(float64),
	span float64,
) {
	t.Helper()
	for _, d := range c.Destinations {
		if d.State != "recording" || d.Reconnects != 0 || d.FailedAttempts != 0 {
			t.Errorf("destination %s: %s, %d reconnects, %d failed attempts (%s); want one session throughout",
				d.URL, d.State, d.Reconnects, d.FailedAttempts, d.LastError)
		}
	}
	for _, p := range players {
		checkHeldRecording(t, p.name, p.stop(t), span)
	}
	r.stop(t)
	checkReceivers(span)
}

// TestRunHoldsThroughAMinuteStopped SIGSTOPs the channel's ffmpeg for 60 s. Its stall timeout is
// longer, so the channel is not restarted: it holds the whole minute. Every receiver stays
// connected on its first session, gets the held picture throughout and the live frames after
// SIGCONT; what each recorded goes forward in time and decodes.
func TestRunHoldsThroughAMinuteStopped(t *testing.T) {
	fftest.Require(t)
	config, checkReceivers := outageConfig(t, "[source]\nkind = \"testsrc\"\n[ffmpeg]\nstall_timeout = \"2m\"\n")
	r := startRun(t, config)
	s := waitAllSending(t, r)
	pid := s.Channels[0].FFmpegPID
	players := startPlayers(t, r)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			syscall.Kill(pid, syscall.SIGCONT) //nolint:errcheck // cleanup
		}
	}()
	var holding statusReport
	fftest.WaitFor(t, 10*time.Second, "holding", func() bool {
		holding = getStatusReport(t, r)
		return holding.Channels[0].HoldingSince != nil
	})
	if code, body := get(t, "http://"+r.inst.httpAddr+"/healthz"); code != http.StatusServiceUnavailable ||
		!strings.Contains(body, "channel test: holding: no frame since") {
		t.Errorf("/healthz while holding: %d %q", code, body)
	}
	since := *holding.Channels[0].HoldingSince
	fftest.WaitFor(t, 90*time.Second, "60 s of hold", func() bool { return time.Since(since) > 60*time.Second })
	c := getStatusReport(t, r).Channels[0]
	if c.HoldingSince == nil || c.FFmpegPID != pid || c.Stalls != 0 {
		t.Errorf("after 60 s: %+v, want the same ffmpeg, held", c)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	// ffmpeg first writes what it would have while stopped, in a burst: the hold goes on
	// through it
	continued := time.Now()
	c, live := waitLive(t, r, 90*time.Second)
	t.Logf("live %.1f s after SIGCONT", live.Sub(continued).Seconds())
	if c.FFmpegPID != pid || c.FFmpegStarts != 1 || c.HeldSeconds < 60 {
		t.Errorf("channel %+v, want the same ffmpeg throughout, 60 s held", c)
	}
	checkRecordings(t, r, c, players, checkReceivers, 65)
}

// TestRunHoldsThroughALongBackoff kills a channel whose file has gone, as a camera unplugged:
// every restart fails and the backoff grows past 8 s, held throughout. The file comes back and
// `liveinject restart` starts the channel at once, without waiting out the backoff. Every
// receiver stays connected on its first session and gets the held picture, then the new
// ffmpeg's frames.
func TestRunHoldsThroughALongBackoff(t *testing.T) {
	fftest.Require(t)
	media := fftest.TS(t, "10")
	config, checkReceivers := outageConfig(t, fmt.Sprintf("[source]\nkind = \"file\"\npath = %q\n", media))
	r := startRun(t, config)
	s := waitAllSending(t, r)
	pid := s.Channels[0].FFmpegPID
	players := startPlayers(t, r)

	away := media + ".away"
	if err := os.Rename(media, away); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	var c channelReport
	fftest.WaitFor(t, 60*time.Second, "a backoff of more than 8 s", func() bool {
		c = getStatusReport(t, r).Channels[0]
		return c.State == "backoff" && c.RetryAt != nil && time.Until(*c.RetryAt) > 8*time.Second
	})
	if c.HoldingSince == nil || c.FFmpegStarts < 4 {
		t.Errorf("in a long backoff: %+v, want it held, after failed starts", c)
	}
	retryAt := *c.RetryAt
	if err := os.Rename(away, media); err != nil {
		t.Fatal(err)
	}
	var out, errOut fftest.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	if code := m.Run(t.Context(), []string{"restart", "-addr", r.inst.httpAddr, "test"}); code != 0 {
		t.Fatalf("liveinject restart: %d\n%s%s", code, out.String(), errOut.String())
	}
	c, live := waitLive(t, r, 20*time.Second)
	if live.After(retryAt) {
		t.Errorf("live again only after the backoff's end %v", retryAt)
	}
	if c.FFmpegPID == pid {
		t.Errorf("the same ffmpeg %d after SIGKILL", pid)
	}
	checkRecordings(t, r, c, players, checkReceivers, 10)
}
