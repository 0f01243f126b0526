package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/useragent"
)

// fftest.TS's test pattern and tone, as ffprobe must find them at the relay
var testStreams = fftest.AV{Width: 640, Height: 360, SampleRate: 48000, Channels: 2}

// ffmpeg runs ffmpeg to its end and returns what it printed.
func ffmpeg(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ffmpeg", append([]string{"-hide_banner", "-nostdin"}, args...)...).
		CombinedOutput()
	return string(out), err
}

// TestPlayers publishes with a gortsplib Client and reads with ffprobe over TCP and UDP and with
// ffmpeg decoding.
func TestPlayers(t *testing.T) {
	fftest.Require(t)
	s := startServer(t, true, nil)
	src := loadSource(t, "2", 25, false)
	url := "rtsp://" + s.Addr() + "/test.sdp"
	pub := publish(t, url, src, nil)

	ctx, cancel := context.WithCancel(t.Context())
	loopErr := make(chan error, 1)
	go func() { loopErr <- pub.loop(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-loopErr; err != nil {
			t.Errorf("publisher: %v", err)
		}
	})
	waitFor(t, "packets at the relay", func() bool {
		ps := s.Paths()
		return len(ps) == 1 && ps[0].Packets > 0
	})

	t.Run("readers", func(t *testing.T) {
		for _, transport := range []string{"tcp", "udp"} {
			t.Run("ffprobe "+transport, func(t *testing.T) {
				t.Parallel()
				streams, err := fftest.Probe(url, "-rtsp_transport", transport)
				if err != nil {
					t.Fatal(err)
				}
				fftest.CheckAV(t, streams, testStreams)
			})
		}
		t.Run("ffmpeg decode", func(t *testing.T) {
			t.Parallel()
			out, err := ffmpeg(t, "-v", "error", "-rtsp_transport", "tcp", "-i", url, "-t", "2", "-f", "null", "-")
			if err != nil || out != "" {
				t.Errorf("ffmpeg decoding %s: %v\n%s", url, err, out)
			}
		})
	})

	ps := s.Paths()
	if len(ps) != 1 || ps[0].Path != "test.sdp" || !ps[0].Publishing {
		t.Errorf("Paths() = %+v, want test.sdp publishing", ps)
	}
}

// TestFFmpegPublisher publishes with ffmpeg, as users would, and reads with ffprobe.
func TestFFmpegPublisher(t *testing.T) {
	fftest.Require(t)
	events := make(chan string, 10)
	s := startServer(t, false, func(s *Server) {
		s.OnPublish = func(path string) { events <- "publish " + path }
		s.OnUnpublish = func(path string, teardown bool) { events <- fmt.Sprintf("unpublish %s %v", path, teardown) }
	})
	ts := fftest.TS(t, "2")
	url := "rtsp://" + s.Addr() + "/live/x"

	var stderr strings.Builder
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-re", "-stream_loop", "-1",
		"-i", ts, "-c:v", "copy", "-c:a", "aac", "-f", "rtsp", "-rtsp_transport", "tcp", url)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// closed when ffmpeg has ended and been reaped
	waited := make(chan struct{})
	go func() {
		cmd.Wait() //nolint:errcheck // ended by a signal; what it printed is checked
		close(waited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill() //nolint:errcheck // it may have ended
		<-waited
	})

	if got := recv(t, "OnPublish", events); got != "publish live/x" {
		t.Fatalf("event %q, want publish live/x", got)
	}
	streams, err := fftest.Probe(url, "-rtsp_transport", "tcp")
	if err != nil {
		t.Fatal(err)
	}
	fftest.CheckAV(t, streams, testStreams)

	// On SIGINT ffmpeg ends its output, which sends TEARDOWN.
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, "OnUnpublish", events); got != "unpublish live/x true" {
		t.Errorf("event %q, want unpublish live/x true", got)
	}
	recv(t, "ffmpeg to end", waited)
	if stderr.Len() > 0 {
		t.Errorf("ffmpeg publishing: %s", stderr.String())
	}
}

// TestLateJoiner checks that a player who joins mid-GOP starts at the GOP's IDR with SPS and PPS,
// then gets every packet once and in order.
func TestLateJoiner(t *testing.T) {
	fftest.Require(t)
	inBand := loadSource(t, "2", 25, false)
	outOfBand := loadSource(t, "2", 25, true)

	for _, tc := range []struct {
		name string
		src  *source
		// the player joins after the publisher has sent the frames from..joinAt-1
		from, joinAt int
		synthesized  bool // the relay sends the SDP's SPS and PPS before the IDR
	}{
		{name: "mid GOP", src: inBand, from: 0, joinAt: 35},
		{name: "mid GOP, parameter sets out of band", src: outOfBand, from: 0, joinAt: 35, synthesized: true},
		{name: "before any IDR", src: inBand, from: 10, joinAt: 20},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if !slices.Equal(src.idr, []int{0, 25}) {
				t.Fatalf("IDR at frames %v, want 0 and 25", src.idr)
			}
			s := startServer(t, false, nil)
			url := "rtsp://" + s.Addr() + "/cam/late"
			pub := publish(t, url, src, nil)

			from, join := src.frames[tc.from], src.frames[tc.joinAt]
			pub.write(t, from, join)
			waitFor(t, "the relay to receive the first packets", func() bool {
				ps := s.Paths()
				return len(ps) == 1 && ps[0].Packets == uint64(join-from)
			})

			pl := play(t, url)
			pub.write(t, join, len(src.pkts))

			lastSeq := func(media int) uint16 {
				for i := len(src.pkts) - 1; ; i-- {
					if src.pkts[i].media == media {
						return src.pkts[i].pkt.SequenceNumber
					}
				}
			}
			waitFor(t, "the player to receive the last packets", func() bool {
				v, a := pl.received()
				return len(v) > 0 && v[len(v)-1].SequenceNumber == lastSeq(0) &&
					len(a) > 0 && a[len(a)-1].SequenceNumber == lastSeq(1)
			})
			video, audio := pl.received()

			// the GOP starts with the first packet of frame 25, the second IDR
			idrAt := src.frames[25]
			wantFirst := src.pkts[idrAt].pkt.SequenceNumber
			if tc.synthesized {
				wantFirst -= 2
			}
			if video[0].SequenceNumber != wantFirst || video[0].Timestamp != src.pkts[idrAt].pkt.Timestamp {
				t.Errorf("first video packet seq %d ts %d, want seq %d ts %d", video[0].SequenceNumber,
					video[0].Timestamp, wantFirst, src.pkts[idrAt].pkt.Timestamp)
			}
			checkContiguous(t, "video", video)
			wantAudio := -1
			for i := idrAt; i < len(src.pkts); i++ {
				if src.pkts[i].media == 1 {
					wantAudio = int(src.pkts[i].pkt.SequenceNumber)
					break
				}
			}
			if int(audio[0].SequenceNumber) != wantAudio {
				t.Errorf("first audio packet seq %d, want %d (the first after the IDR)", audio[0].SequenceNumber, wantAudio)
			}
			checkContiguous(t, "audio", audio)
			checkFirstAccessUnit(t, pl, video)
		})
	}
}

// checkContiguous asserts that the packets are numbered one after the other: no gap, no
// duplicate, no reordering.
func checkContiguous(t *testing.T, what string, pkts []*rtp.Packet) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		if pkts[i].SequenceNumber != pkts[i-1].SequenceNumber+1 {
			t.Errorf("%s packet %d has seq %d after %d", what, i, pkts[i].SequenceNumber, pkts[i-1].SequenceNumber)
			return
		}
	}
}

// checkFirstAccessUnit decodes the player's first video packets as a decoder would: the first
// packet starts a NAL unit and the first access unit is an IDR with SPS and PPS in front.
func checkFirstAccessUnit(t *testing.T, pl *player, video []*rtp.Packet) {
	t.Helper()
	dec, err := pl.h264(t).CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	for i, pkt := range video {
		au, err := dec.Decode(pkt)
		if errors.Is(err, rtph264.ErrMorePacketsNeeded) {
			continue
		}
		if err != nil {
			t.Fatalf("decoding video packet %d: %v", i, err)
		}
		pos := map[h264.NALUType]int{}
		for j, n := range au {
			typ := h264.NALUType(n[0] & 0x1f)
			if _, seen := pos[typ]; !seen {
				pos[typ] = j
			}
		}
		sps, okS := pos[h264.NALUTypeSPS]
		pps, okP := pos[h264.NALUTypePPS]
		idr, okI := pos[h264.NALUTypeIDR]
		if !okS || !okP || !okI || sps > idr || pps > idr {
			t.Errorf("first access unit has NAL units %v, want SPS and PPS before an IDR", pos)
		}
		return
	}
	t.Error("no complete access unit")
}

func describe(t *testing.T, url string) error {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host}
	if err := c.Start2(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _, err = c.Describe(u)
	return err
}

func isStatus(err error, code base.StatusCode) bool {
	var bad liberrors.ErrClientBadStatusCode
	return errors.As(err, &bad) && bad.Code == code
}

func TestNotFound(t *testing.T) {
	s := startServer(t, false, nil)
	if err := describe(t, "rtsp://"+s.Addr()+"/nothing.sdp"); !isStatus(err, base.StatusNotFound) {
		t.Errorf("DESCRIBE of an unknown path: %v, want 404", err)
	}
}

// TestPublishHooks checks OnPublish and OnUnpublish, path naming, Paths, and that players are
// disconnected when the publisher goes, whether it sends TEARDOWN or its connection drops.
func TestPublishHooks(t *testing.T) {
	fftest.Require(t)
	src := loadSource(t, "1", 25, false)
	for _, tc := range []struct {
		name string
		drop bool
	}{
		{name: "teardown"},
		{name: "connection dropped", drop: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			events := make(chan string, 10)
			s := startServer(t, false, func(s *Server) {
				s.OnPublish = func(path string) { events <- "publish " + path }
				s.OnUnpublish = func(path string, teardown bool) {
					events <- fmt.Sprintf("unpublish %s %v", path, teardown)
				}
			})
			conns := make(chan net.Conn, 1)
			dial := func(ctx context.Context, network, address string) (net.Conn, error) {
				c, err := (&net.Dialer{}).DialContext(ctx, network, address)
				if err == nil {
					conns <- c
				}
				return c, err
			}
			pub := publish(t, "rtsp://"+s.Addr()+"/live/x?token=1", src, dial)
			conn := recv(t, "the publisher's connection", conns)
			if got := recv(t, "OnPublish", events); got != "publish live/x" {
				t.Fatalf("event %q, want publish live/x", got)
			}

			n := src.frames[5]
			pub.write(t, 0, n)
			waitFor(t, "the relay to receive the packets", func() bool {
				ps := s.Paths()
				return len(ps) == 1 && ps[0].Packets == uint64(n)
			})
			pl := play(t, "rtsp://"+s.Addr()+"/live/x")
			want := []PathInfo{{Path: "live/x", Publishing: true, Readers: 1, Packets: uint64(n)}}
			if got := s.Paths(); !slices.Equal(got, want) {
				t.Errorf("Paths() = %+v, want %+v", got, want)
			}
			// liveinject's return check plays too, and is counted apart from the viewers
			check := playAs(t, "rtsp://"+s.Addr()+"/live/x", useragent.ReturnCheck)
			want[0].Checks = 1
			if got := s.Paths(); !slices.Equal(got, want) {
				t.Errorf("with a return check, Paths() = %+v, want %+v", got, want)
			}

			if tc.drop {
				conn.Close()
			} else {
				pub.c.Close()
			}
			if got, want := recv(t, "OnUnpublish", events), fmt.Sprintf("unpublish live/x %v", !tc.drop); got != want {
				t.Errorf("event %q, want %q", got, want)
			}
			if err := waitDone(t, "the player to be disconnected", pl.c); err == nil {
				t.Error("player ended without error")
			}
			if err := waitDone(t, "the return check to be disconnected", check.c); err == nil {
				t.Error("the return check ended without error")
			}
			if got := s.Paths(); len(got) != 0 {
				t.Errorf("Paths() = %+v after unpublish, want none", got)
			}
			if err := describe(t, "rtsp://"+s.Addr()+"/live/x"); !isStatus(err, base.StatusNotFound) {
				t.Errorf("DESCRIBE after unpublish: %v, want 404", err)
			}
		})
	}
}

// TestReplacePublisher checks that a new ANNOUNCE on a published path closes the old publisher.
func TestReplacePublisher(t *testing.T) {
	fftest.Require(t)
	src := loadSource(t, "1", 25, false)
	events := make(chan string, 10)
	s := startServer(t, false, func(s *Server) {
		s.OnPublish = func(path string) { events <- "publish " + path }
		s.OnUnpublish = func(path string, teardown bool) { events <- fmt.Sprintf("unpublish %s %v", path, teardown) }
	})
	url := "rtsp://" + s.Addr() + "/test.sdp"

	old := publish(t, url, src, nil)
	for _, want := range []string{"publish test.sdp"} {
		if got := recv(t, want, events); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
	oldPlayer := play(t, url)

	repl := publish(t, url, src, nil)
	for _, want := range []string{"unpublish test.sdp false", "publish test.sdp"} {
		if got := recv(t, want, events); got != want {
			t.Fatalf("event %q, want %q", got, want)
		}
	}
	if err := waitDone(t, "the old publisher to be disconnected", old.c); err == nil {
		t.Error("old publisher ended without error")
	}
	if err := waitDone(t, "the old publisher's player to be disconnected", oldPlayer.c); err == nil {
		t.Error("old player ended without error")
	}

	pl := play(t, url)
	repl.write(t, 0, len(src.pkts))
	waitFor(t, "the player to receive the new publisher's packets", func() bool {
		v, a := pl.received()
		return len(v)+len(a) == len(src.pkts)
	})

	// the old publisher's leaving has not unpublished the path
	repl.c.Close()
	if got, want := recv(t, "OnUnpublish", events), "unpublish test.sdp true"; got != want {
		t.Errorf("event %q, want %q", got, want)
	}
}

// TestWaitUnpublished checks that WaitUnpublished waits while a path is published and returns
// once its publisher has gone.
func TestWaitUnpublished(t *testing.T) {
	fftest.Require(t)
	src := loadSource(t, "1", 25, false)
	s := startServer(t, false, nil)
	if err := s.WaitUnpublished(t.Context()); err != nil {
		t.Fatalf("with no publisher: %v", err)
	}
	pub := publish(t, "rtsp://"+s.Addr()+"/a.sdp", src, nil)

	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.WaitUnpublished(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("while published: %v, want the context's deadline", err)
	}

	waited := make(chan error, 1)
	go func() { waited <- s.WaitUnpublished(t.Context()) }()
	pub.c.Close()
	if err := recv(t, "WaitUnpublished to return", waited); err != nil {
		t.Errorf("after the publisher left: %v", err)
	}
}

// TestPublishCredentials has a relay that wants publishers' credentials: a publisher with them
// publishes, one without them or with wrong ones cannot, nor replace the one publishing, and
// players need none.
func TestPublishCredentials(t *testing.T) {
	fftest.Require(t)
	src := loadSource(t, "1", 25, false)
	s := startServer(t, false, func(s *Server) { s.PublishUser, s.PublishPassword = "liveinject", "s3cret" })
	at := func(userinfo string) string { return "rtsp://" + userinfo + s.Addr() + "/test.sdp" }

	good := publish(t, at("liveinject:s3cret@"), src, nil)
	for _, userinfo := range []string{"", "liveinject:wrong@", "other:s3cret@"} {
		tcp := gortsplib.TransportTCP
		c := &gortsplib.Client{Transport: &tcp}
		err := c.StartRecording(at(userinfo), src.description())
		if err == nil {
			c.Close()
			t.Errorf("publishing as %q: accepted", userinfo)
		} else if !isStatus(err, base.StatusUnauthorized) && !strings.Contains(err.Error(), "EOF") &&
			!strings.Contains(err.Error(), "reset") {
			t.Errorf("publishing as %q: %v, want 401 or the connection closed", userinfo, err)
		}
	}
	if ps := s.Paths(); len(ps) != 1 || ps[0].Path != "test.sdp" {
		t.Fatalf("paths %+v, want the good publisher's only", ps)
	}
	pl := play(t, at(""))
	good.write(t, 0, len(src.pkts))
	waitFor(t, "the player to receive the good publisher's packets", func() bool {
		v, a := pl.received()
		return len(v)+len(a) == len(src.pkts)
	})
}
