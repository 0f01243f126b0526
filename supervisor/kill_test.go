package supervisor

import (
	"context"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// killRig is a real channel, ffmpeg's test pattern at 320x240, pushed through its injector into
// the in-process relay, with a player reading it there.
type killRig struct {
	enc       *encoder
	publishes atomic.Int32
	videoPkts atomic.Int64 // video packets the player has received
	stop      func()
}

func newKillRig(tb testing.TB, minBackoff time.Duration) *killRig {
	tb.Helper()
	fftest.Require(tb)
	k := &killRig{}
	rl := &relay.Server{Address: "127.0.0.1:0", OnPublish: func(string) { k.publishes.Add(1) }}
	if err := rl.Initialize(); err != nil {
		tb.Fatal(err)
	}
	url := "rtsp://" + rl.Addr() + "/kill.sdp"
	f := &inject.Fanout{Channel: "kill", Targets: []inject.Target{{URL: url, Transport: "tcp"}}}
	if err := f.Initialize(); err != nil {
		tb.Fatal(err)
	}
	p := testProfile()
	p.Name = "kill"
	p.Video.Size.Width, p.Video.Size.Height = 320, 240
	p.FFmpeg.StopGrace = profiles.Duration(time.Second)
	k.enc = &encoder{Profile: p, FFmpeg: "ffmpeg", Sink: f,
		MinBackoff: minBackoff, MaxBackoff: minBackoff}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.enc.Run(ctx) }()
	fftest.WaitFor(tb, 30*time.Second, "the channel published", func() bool { return k.publishes.Load() == 1 })

	u, err := base.ParseURL(url)
	if err != nil {
		tb.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	player := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp}
	if err := player.Start2(); err != nil {
		tb.Fatal(err)
	}
	desc, _, err := player.Describe(u)
	if err != nil {
		tb.Fatal(err)
	}
	if err := player.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		tb.Fatal(err)
	}
	player.OnPacketRTPAny(func(m *description.Media, _ format.Format, _ *rtp.Packet) {
		if m.Type == description.MediaTypeVideo {
			k.videoPkts.Add(1)
		}
	})
	if _, err := player.Play(nil); err != nil {
		tb.Fatal(err)
	}
	k.stop = func() {
		player.Close()
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
		f.Close()
		rl.Close()
	}
	return k
}

// killAndWait kills the running ffmpeg with SIGKILL and waits until a new one delivers video to
// the player again; it returns how long that took.
func (k *killRig) killAndWait(tb testing.TB) time.Duration {
	tb.Helper()
	var pid int
	fftest.WaitFor(tb, 30*time.Second, "a running ffmpeg", func() bool {
		st := k.enc.Status()
		pid = st.PID
		return st.State == StateRunning && pid != 0
	})
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		tb.Fatal(err)
	}
	fftest.WaitFor(tb, 30*time.Second, "ffmpeg restarted", func() bool {
		st := k.enc.Status()
		return st.PID != 0 && st.PID != pid
	})
	// Frames of the new ffmpeg reach the player: count from the moment it started.
	from := k.videoPkts.Load()
	fftest.WaitFor(tb, 30*time.Second, "video at the player again", func() bool {
		return k.videoPkts.Load() > from+10
	})
	return time.Since(killed)
}

// TestKillNineTwentyTimes kills the channel's ffmpeg with SIGKILL twenty times in a row: each
// time a new one starts, the stream comes back at the relay over the same RTSP session (no new
// ANNOUNCE), and a player connected through all of it keeps receiving.
func TestKillNineTwentyTimes(t *testing.T) {
	k := newKillRig(t, 100*time.Millisecond)
	defer k.stop()
	var pids []int
	for i := range 20 {
		d := k.killAndWait(t)
		pids = append(pids, k.enc.Status().PID)
		t.Logf("kill %d: video back after %v", i+1, d.Round(time.Millisecond))
	}
	st := k.enc.Status()
	if st.Starts != 21 || st.Cause != CauseKilled {
		t.Errorf("status %+v, want 21 starts and the cause %q", st, CauseKilled)
	}
	if n := k.publishes.Load(); n != 1 {
		t.Errorf("the relay saw %d publishes, want 1: restarts must not re-ANNOUNCE", n)
	}
	for _, pid := range pids[:len(pids)-1] {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err == nil {
			t.Errorf("killed ffmpeg %d still there", pid)
		}
	}
}

// BenchmarkRestartAfterKill measures the time from SIGKILL of a channel's ffmpeg to video
// flowing again at a player of the relay, with the default first backoff step (1 s).
func BenchmarkRestartAfterKill(b *testing.B) {
	k := newKillRig(b, time.Second)
	defer k.stop()
	var total time.Duration
	for b.Loop() {
		total += k.killAndWait(b)
	}
	b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms-to-video")
}
