package inject

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
)

// TestRelayRestarts stops the relay and starts it again on the same port 20 times while the
// channel streams: each time the destination reconnects and the stream is back.
func TestRelayRestarts(t *testing.T) {
	// An IDR every 5 frames, so that a reconnected destination has one to start from soon.
	fr := demuxtest.Frames(t, "1", "-c:v", "libx264", "-tune", "zerolatency", "-g", "5", "-c:a", "aac", "-ac", "2")
	r := &relay.Server{Address: "127.0.0.1:0"}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer func() { r.Close() }()
	addr := r.Addr() // every relay after this one binds the same port
	f := &Fanout{
		Channel: "test", QueueSize: 64, RetryMin: 10 * time.Millisecond, RetryMax: 100 * time.Millisecond,
		Targets: []Target{{URL: "rtsp://" + addr + "/test.sdp"}},
	}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	// The channel's goroutine: frames keep coming, round and round, faster than real time.
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(4 * time.Millisecond)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if i > 0 && i%len(fr) == 0 {
				f.Discontinuity()
			}
			if err := f.WriteFrame(fr[i%len(fr)]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()

	back := func(what string) {
		t.Helper()
		fftest.WaitFor(t, 10*time.Second, what, func() bool {
			p := r.Paths()
			return len(p) == 1 && p[0].Publishing && p[0].Packets > 0
		})
	}
	back("the stream at the first relay")
	for i := range 20 {
		r.Close()
		r = &relay.Server{Address: addr}
		if err := r.Initialize(); err != nil {
			t.Fatalf("restart %d: %v", i+1, err)
		}
		back("the stream back after a restart")
	}
	if st := f.Stats()[0]; st.Reconnects < 20 || st.State != StateRecording {
		t.Errorf("stats %+v, want at least 20 reconnects and recording", st)
	}
}
