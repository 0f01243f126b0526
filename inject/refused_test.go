package inject

import (
	"fmt"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
	"github.com/liveinject/liveinject/relay"
)

// TestRefusedRetriesSoon: a server that refuses connections (down, restarting) is tried again
// at most refusedRetry apart however long it has been down, so that the channel is back on it
// within moments of it listening again: after 12 s down the backoff alone would wait 8 s more
// (0.25, 0.5, 1, 2, 4, then 8 s), up to 30 s after a longer outage. Over RTSP (the relay) and
// RTMP (nginx).
func TestRefusedRetriesSoon(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	for _, kind := range []string{"rtsp", "rtmp"} {
		t.Run(kind, func(t *testing.T) {
			port := fftest.FreePort(t)
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			url := "rtsp://" + addr + "/refused.sdp"
			var n *testpeers.Nginx
			if kind == "rtmp" {
				n = testpeers.StartNginx(t, "")
				n.Stop()
				url = n.URL("live/refused")
			}
			f, logs := startRTMP(t, Target{URL: url}, nil) // an RTSP target is started alike
			feedLive(t, f, fr)
			down := time.Now()
			fftest.WaitFor(t, 20*time.Second, "12 s of refused connections", func() bool {
				return time.Since(down) >= 12*time.Second
			})
			if st := f.Stats()[0]; st.State != StateBackoff || st.FailedAttempts < 5 ||
				st.RetryAt.Sub(st.LastErrorAt) > refusedRetry {
				t.Fatalf("after 12 s down: %+v, want the next try at most %v after the last", st, refusedRetry)
			}
			if kind == "rtmp" {
				n.Start()
			} else {
				r := &relay.Server{Address: addr}
				if err := r.Initialize(); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(r.Close)
			}
			back := time.Now()
			fftest.WaitFor(t, 30*time.Second, "recording again", func() bool {
				return f.Stats()[0].State == StateRecording
			})
			// refusedRetry, plus the wait for a keyframe (2 s apart) and the connection's setup
			if took := time.Since(back); took > refusedRetry+3*time.Second {
				t.Errorf("recording again %v after the server listened, want within %v\n%s", took,
					refusedRetry+3*time.Second, logs.String())
			} else {
				t.Logf("recording again %v after the server listened", took.Round(time.Millisecond))
			}
		})
	}
}
