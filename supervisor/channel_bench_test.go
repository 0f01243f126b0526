package supervisor

import (
	"fmt"
	"net"
	"os"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// BenchmarkRetarget32 retargets 32 streaming channels at once, each of which also pushes to a
// server that accepts TCP and never answers: the time from Update until every channel has its new
// destination set (the silent one removed, a new one added) is what a template edit across a rack
// costs. Each channel applies its own reload, so the silent server's wait (the 2 s TEARDOWN grace)
// is paid once, not 32 times.
func BenchmarkRetarget32(b *testing.B) {
	b.Setenv("FAKE_FFMPEG", "hang-after-ts")
	b.Setenv("FAKE_FFMPEG_TS", fftest.TS(b, "1"))
	rl := &relay.Server{Address: "127.0.0.1:0"}
	if err := rl.Initialize(); err != nil {
		b.Fatal(err)
	}
	defer rl.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer silent.Close()
	go func() {
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			defer c.Close() // held open, never answered, until the benchmark ends
		}
	}()

	const n = 32
	set := func(version int, withSilent bool) []profiles.Channel {
		var out []profiles.Channel
		for i := range n {
			ch := testProfile()
			ch.Name = fmt.Sprintf("ch%02d", i)
			// a new bitrate restarts the fake ffmpeg, whose stream brings an IDR to start from
			ch.Video.Bitrate = profiles.Bitrate(1_000_000 + version)
			ch.Destinations = []profiles.Destination{{URL: fmt.Sprintf("rtsp://%s/%s-%d.sdp", rl.Addr(), ch.Name, version)}}
			if withSilent {
				ch.Destinations = append(ch.Destinations, profiles.Destination{URL: "rtsp://" + silent.Addr().String() + "/" + ch.Name + ".sdp"})
			}
			out = append(out, ch)
		}
		return out
	}
	s := &Supervisor{FFmpeg: os.Args[0], Channels: set(0, true)}
	runSupervisor(b, s)
	applied := func(version, dests int) bool {
		st := s.Status()
		if len(st) != n {
			return false
		}
		for _, c := range st {
			if len(c.Destinations) != dests || c.Destinations[0].URL != fmt.Sprintf("rtsp://%s/%s-%d.sdp", rl.Addr(), c.Name, version) {
				return false
			}
		}
		return true
	}
	// connecting: every channel's silent destination is waiting for its ANNOUNCE's answer
	connecting := func() bool {
		for _, c := range s.Status() {
			if len(c.Destinations) != 2 || c.Destinations[1].State != "connecting" {
				return false
			}
		}
		return true
	}
	var total time.Duration
	b.ResetTimer()
	// The whole round is timed, so that make bench runs few of them; s/retarget is the figure.
	for i := range b.N {
		s.Update(set(2*i, true))
		fftest.WaitFor(b, 30*time.Second, "every silent destination connecting", func() bool {
			return applied(2*i, 2) && connecting()
		})
		// the retarget: the silent destinations go
		start := time.Now()
		s.Update(set(2*i, false))
		fftest.WaitFor(b, 30*time.Second, "the retarget applied", func() bool { return applied(2*i, 1) })
		total += time.Since(start)
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/retarget")
}
