package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
)

// rtpWatch is an RTSP server that takes one publisher and keeps, per track, the SSRCs and
// the RTP times it sends: what a viewer of a server would see of a switch.
type rtpWatch struct {
	srv  *gortsplib.Server
	addr string

	mu        sync.Mutex
	announces int
	tracks    map[string]*trackWatch
}

// trackWatch is what one track of the publisher sent.
type trackWatch struct {
	ssrcs   map[uint32]bool
	packets int
	// last is the latest RTP time; back counts the packets whose time went back from it.
	last    uint32
	back    int
	started bool
}

func startRTPWatch(t *testing.T) *rtpWatch {
	t.Helper()
	w := &rtpWatch{tracks: map[string]*trackWatch{}}
	w.srv = &gortsplib.Server{Handler: w, RTSPAddress: "127.0.0.1:0",
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err == nil {
				w.addr = l.Addr().String()
			}
			return l, err
		}}
	if err := w.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.srv.Close)
	return w
}

func (w *rtpWatch) url() string {
	return "rtsp://" + w.addr + "/watch.sdp"
}

func (w *rtpWatch) OnAnnounce(*gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	w.mu.Lock()
	w.announces++
	w.mu.Unlock()
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func (w *rtpWatch) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

func (w *rtpWatch) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	ctx.Session.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		w.mu.Lock()
		defer w.mu.Unlock()
		tw := w.tracks[string(m.Type)]
		if tw == nil {
			tw = &trackWatch{ssrcs: map[uint32]bool{}}
			w.tracks[string(m.Type)] = tw
		}
		tw.ssrcs[pkt.SSRC] = true
		tw.packets++
		if tw.started && int32(pkt.Timestamp-tw.last) < 0 {
			tw.back++
		}
		tw.last, tw.started = pkt.Timestamp, true
	})
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// check says what is wrong with what the publisher sent: more than one ANNOUNCE, a track with
// more than one SSRC or whose time went back, a track missing.
func (w *rtpWatch) check(t *testing.T) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.announces != 1 {
		t.Errorf("%d ANNOUNCEs, want one session throughout", w.announces)
	}
	for _, kind := range []string{"video", "audio"} {
		tw := w.tracks[kind]
		switch {
		case tw == nil:
			t.Errorf("no %s", kind)
		case len(tw.ssrcs) != 1 || tw.back != 0:
			t.Errorf("%s: %d packets, SSRCs %v, %d going back in time; want one SSRC, time going forward",
				kind, tw.packets, tw.ssrcs, tw.back)
		default:
			t.Logf("%s: %d packets, one SSRC, time going forward", kind, tw.packets)
		}
	}
}

// camera is an ffmpeg publishing a test pattern with a tone into a relay, as an IP camera
// serves its stream.
type camera struct {
	url string // where it publishes, with the relay's credentials
	cmd *exec.Cmd
}

func (c *camera) start(t *testing.T) {
	t.Helper()
	c.cmd = exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-re", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-re", "-f", "lavfi", "-i", "sine=frequency=500:sample_rate=44100",
		"-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "30",
		"-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", c.url)
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd := c.cmd
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have been killed
		cmd.Wait()         //nolint:errcheck
	})
}

func (c *camera) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait() //nolint:errcheck // killed
}

// TestRunBackupInputsAndSlate is issue 21's sequence with real ffmpeg: the source is an RTSP
// camera (an ffmpeg publishing into a relay, with its credentials), the backup a file of
// another pattern, looped. A player on the built-in relay and a server that watches the RTP
// stay connected while (1) the camera's publisher is killed: the backup goes on air within
// failover_after + 2 s; (2) the camera comes back: the source returns within return_after +
// 3 s; (3) every input dies: the slate goes on air within slate_after + 2 s. Throughout: one
// session per destination (one ANNOUNCE), one SSRC per track, RTP time going forward, no gap
// in the player's video longer than failover_after + 1 s, and a recording that decodes.
func TestRunBackupInputsAndSlate(t *testing.T) {
	fftest.Require(t)
	cams := &relay.Server{Address: "127.0.0.1:0", PublishUser: "cam", PublishPassword: "s3cret"}
	if err := cams.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cams.Close)
	cam := &camera{url: "rtsp://cam:s3cret@" + cams.Addr() + "/cam.sdp"}
	cam.start(t)
	camPublishing := func() bool {
		for _, p := range cams.Paths() {
			if p.Publishing {
				return true
			}
		}
		return false
	}
	fftest.WaitFor(t, 20*time.Second, "the camera publishing", camPublishing)

	dir := t.TempDir()
	loop := filepath.Join(dir, "bars.mp4")
	if out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "smptehdbars=size=960x540:rate=25", "-f", "lavfi", "-i", "sine=frequency=1000",
		"-t", "4", "-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-y", loop).CombinedOutput(); err != nil {
		t.Fatalf("making the backup's file: %v\n%s", err, out)
	}
	watch := startRTPWatch(t)
	const failoverAfter, returnAfter, slateAfter = 2 * time.Second, 4 * time.Second, 5 * time.Second
	profile := fmt.Sprintf(`failover_after = "%v"
return_after = "%v"
slate_after = "%v"
[source]
kind = "rtsp"
url = "rtsp://%s/cam.sdp"
timeout = "2s"
[[backup]]
kind = "file"
path = %q
[slate]
text = "Back soon: it's 100%% [live]"
[video]
size = "640x360"
fps = 25
gop = "1s"
bitrate = "800k"
[audio]
sample_rate = 48000
channels = 2
[[destination]]
url = "rtsp://{relay}/test.sdp"
[[destination]]
url = %q
`, failoverAfter, returnAfter, slateAfter, cams.Addr(), loop, watch.url())
	r := startRun(t, writeProfileConfig(t, httpAnyPort+relayAny, profile))

	var st statusReport
	onAir := func(name string, within time.Duration, since time.Time) {
		t.Helper()
		fftest.WaitFor(t, within, name+" on air", func() bool {
			st = getStatusReport(t, r)
			return len(st.Channels) == 1 && st.Channels[0].OnAir == name
		})
		t.Logf("%s on air %.1f s after its cause", name, time.Since(since).Seconds())
	}
	onAir("source", 30*time.Second, time.Now())
	player := startPlayer(t, "player", "rtsp://"+r.inst.relayAddr+"/test.sdp", "tcp")
	fftest.WaitFor(t, 20*time.Second, "the player reading", func() bool {
		for _, p := range r.inst.relay.Paths() {
			if p.Readers > 0 {
				return true
			}
		}
		return false
	})
	// a few seconds of the source first: the player's recording starts on it
	shown := time.Now()
	fftest.WaitFor(t, 10*time.Second, "3 s of the source", func() bool { return time.Since(shown) > 3*time.Second })

	// (1) the camera dies
	cam.kill(t)
	died := time.Now()
	onAir("backup 1", failoverAfter+2*time.Second, died)

	// (2) the camera comes back: its input is tried as soon as it answers, and returns once it
	// has worked for return_after
	cam.start(t)
	fftest.WaitFor(t, 20*time.Second, "the camera publishing again", camPublishing)
	back := time.Now()
	onAir("source", returnAfter+3*time.Second, back)
	fftest.WaitFor(t, 10*time.Second, "the backup on standby", func() bool {
		return getStatusReport(t, r).Channels[0].Inputs[1].State == "standby"
	})

	// (3) every input dies: the camera, and the backup's file (it is only read when the
	// backup starts, which it does now, and fails)
	if err := os.Remove(loop); err != nil {
		t.Fatal(err)
	}
	cam.kill(t)
	died = time.Now()
	onAir("slate", slateAfter+2*time.Second, died)
	slated := time.Now()
	fftest.WaitFor(t, 10*time.Second, "3 s of the slate", func() bool { return time.Since(slated) > 3*time.Second })

	c := getStatusReport(t, r).Channels[0]
	if c.Switches.Failed < 2 || c.Switches.Returned < 1 {
		t.Errorf("switches %v, want 2 failed over (to the backup, to the slate) and 1 returned", c.Switches)
	}
	for _, d := range c.Destinations {
		if d.State != "recording" || d.Reconnects != 0 {
			t.Errorf("destination %s: %s, %d reconnects; want its first session throughout", d.URL, d.State, d.Reconnects)
		}
	}
	recording := player.stop(t)
	r.stop(t)
	watch.check(t)
	checkSwitchedRecording(t, recording, failoverAfter+time.Second)
}

// checkSwitchedRecording checks a player's recording through the switches: video whose times
// go forward, no gap over maxGap, a slate at its end (the last two seconds: a still card, its
// audio silent), and nothing the decoder complains about.
func checkSwitchedRecording(t *testing.T, recording string, maxGap time.Duration) {
	t.Helper()
	times := videoTimes(t, recording)
	if len(times) < 100 {
		t.Fatalf("%d video packets", len(times))
	}
	gap := 0.0
	for i := 1; i < len(times); i++ {
		if times[i] < times[i-1] {
			t.Errorf("video went back: %.3f after %.3f", times[i], times[i-1])
		}
		gap = max(gap, times[i]-times[i-1])
	}
	t.Logf("%d video packets over %.1f s, longest gap %.2f s", len(times), times[len(times)-1]-times[0], gap)
	if gap > maxGap.Seconds() {
		t.Errorf("no video for %.2f s, want at most %v", gap, maxGap)
	}
	if dec, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", recording,
		"-enc_time_base", "-1", "-f", "null", "-").CombinedOutput(); err != nil || len(dec) != 0 {
		t.Errorf("decoding: %v\n%s", err, dec)
	}
	// the end: the slate's silence (its frames are checked by the count above)
	end := fmt.Sprint(times[len(times)-1] - 2)
	out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-ss", end, "-i", recording,
		"-map", "0:a", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("volumedetect: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "max_volume: -91") {
		t.Errorf("the slate's audio is not silent:\n%s", out)
	}
}
