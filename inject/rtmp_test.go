package inject

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
)

// feedLive writes frames to f at a live source's pace, the clip again and again (each time as a
// new run), until the test has ended.
func feedLive(t *testing.T, f *Fanout, fr []*demux.Frame) {
	stop, fed := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(fed)
		timer := time.NewTimer(0)
		defer timer.Stop()
		start := time.Now()
		var offset time.Duration // of the current run
		for i := 0; ; i++ {
			x := fr[i%len(fr)]
			if i%len(fr) == 0 && i > 0 {
				f.Discontinuity()
				offset = time.Since(start)
			}
			if err := f.WriteFrame(x); err != nil {
				t.Error(err)
				return
			}
			next := fr[(i+1)%len(fr)]
			at := offset + time.Duration(next.DTS-fr[0].DTS)*time.Second/90000
			if (i+1)%len(fr) == 0 {
				at = offset + time.Duration(x.DTS-fr[0].DTS)*time.Second/90000 + 40*time.Millisecond
			}
			timer.Reset(time.Until(start.Add(at)))
			select {
			case <-stop:
				return
			case <-timer.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-fed })
}

// startRTMP starts a Fanout pushing to target, its logs in the Buffer returned; it is closed when
// the test ends.
func startRTMP(t *testing.T, target Target, configure func(*Fanout)) (*Fanout, *fftest.Buffer) {
	t.Helper()
	logs := &fftest.Buffer{}
	f := &Fanout{Channel: "test", Targets: []Target{target}, QueueSize: 1024,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if configure != nil {
		configure(f)
	}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, logs
}

// TestRTMPToNginx pushes a channel to nginx, which a player then reads back as H.264 and AAC,
// with time that starts at the session's start (channel time counts from 1970, which FLV's
// 32-bit milliseconds do not hold) and goes at the pace of the source: 25 frames a second.
func TestRTMPToNginx(t *testing.T) {
	n := testpeers.StartNginx(t, "")
	f, _ := startRTMP(t, Target{URL: n.URL("live/readback")}, nil)
	feedLive(t, f, frames(t, "2"))
	waitState(t, f, 0, StateRecording)

	codecs, err := testpeers.ProbeRTMP(t, n.URL("live/readback"), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(codecs)
	if !slices.Equal(codecs, []string{"aac", "h264"}) {
		t.Errorf("nginx plays %v, want aac and h264", codecs)
	}
	pkts, err := testpeers.Packets(t, n.URL("live/readback"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	video := pkts["video"]
	if len(video) < 40 || len(pkts["audio"]) < 80 {
		t.Fatalf("%d video and %d audio packets in 2 s, want 50 and 93", len(video), len(pkts["audio"]))
	}
	if first := video[0]; first < 0 || first > 60 {
		t.Errorf("the stream's time is at %.3f s after the session began, want its time since then", first)
	}
	if rate := float64(len(video)-1) / (video[len(video)-1] - video[0]); rate < 23 || rate > 27 {
		t.Errorf("%.1f video frames a second of stream time, want 25", rate)
	}
	t.Logf("read back: %d video packets from %.3f s to %.3f s, %d audio", len(video), video[0], video[len(video)-1],
		len(pkts["audio"]))
	st := f.Stats()[0]
	if st.State != StateRecording || st.Transport != "rtmp" || st.PacketsSent == 0 || st.BytesSent == 0 ||
		st.URL != n.URL("live/readback") {
		t.Errorf("stats %+v", st)
	}
}
