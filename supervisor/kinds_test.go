package supervisor

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
)

// TestEveryKindOneServerDown pushes one channel, from a real ffmpeg, at once to the built-in
// relay over RTSP, to nginx over RTMP and to an SRT listener (ffmpeg writing a file), and stops
// nginx for 30 s once all three record. The others do not notice: over the whole run the relay
// received every RTP packet the RTSP destination sent and the listener every frame the SRT one
// sent, none dropped, neither leaving recording; the channel keeps its 25 frames a second. The
// RTMP destination leaves recording with the lost connection as its cause, says that nothing
// listens while nginx is down, and records again within 5 s of nginx listening again; a player
// of nginx then gets its picture and sound.
func TestEveryKindOneServerDown(t *testing.T) {
	fftest.Require(t)
	var relayLog fftest.Buffer
	rl := &relay.Server{Address: "127.0.0.1:0", Logger: slog.New(slog.NewTextHandler(&relayLog, nil))}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	n := testpeers.StartNginx(t, "")
	l := testpeers.FFmpegSRTListener(t, testpeers.FreeUDPPort(t), "")

	ch := testProfile()
	smallVideo(&ch)
	ch.Destinations = []profiles.Destination{
		{URL: "rtsp://" + rl.Addr() + "/every.sdp", Transport: "tcp"},
		{URL: n.URL("live/every")},
		{URL: fmt.Sprintf("srt://127.0.0.1:%d", l.Port)},
	}
	const rtsp, rtmp, srt = 0, 1, 2
	names := [...]string{"RTSP", "RTMP", "SRT"}
	var logs fftest.Buffer
	s := &Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{ch}, Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	stop := runSupervisor(t, s)

	// status returns the channel's status, and checks on the way that the RTSP and SRT
	// destinations, once recording, never leave it: every wait below polls through it.
	recorded := [3]bool{}
	status := func() Status {
		t.Helper()
		sts := s.Status()
		if len(sts) != 1 || len(sts[0].Destinations) != 3 {
			return Status{}
		}
		st := sts[0]
		for _, i := range []int{rtsp, srt} {
			d := st.Destinations[i]
			if recorded[i] && d.State != inject.StateRecording {
				t.Fatalf("the %s destination left recording: %+v\n%s", names[i], d, logs.String())
			}
			recorded[i] = recorded[i] || d.State == inject.StateRecording
		}
		return st
	}
	var allAt time.Time
	fftest.WaitFor(t, 30*time.Second, "all three destinations recording", func() bool {
		st := status()
		if len(st.Destinations) != 3 {
			return false
		}
		for _, d := range st.Destinations {
			if d.State != inject.StateRecording {
				return false
			}
		}
		allAt = time.Now()
		return true
	})
	fftest.WaitFor(t, 10*time.Second, "5 s of the three recording", func() bool {
		status()
		return time.Since(allAt) >= 5*time.Second
	})

	// nginx down for 30 s
	framesBefore, down := status().Frames, time.Now()
	n.Stop()
	var lost inject.Stats
	fftest.WaitFor(t, 10*time.Second, "the RTMP destination out of recording", func() bool {
		lost = status().Destinations[rtmp]
		return lost.State != inject.StateRecording
	})
	lostAfter := time.Since(down)
	if !strings.HasPrefix(lost.LastError, "connection lost: ") || lost.LastErrorAt.Before(down) {
		t.Errorf("the RTMP destination's cause when nginx stopped: %q at %v (nginx stopped at %v), want the "+
			"connection lost", lost.LastError, lost.LastErrorAt, down)
	}
	refused := "connection refused: nothing listens at 127.0.0.1:" + strconv.Itoa(n.Port)
	var during inject.Stats
	fftest.WaitFor(t, 40*time.Second, "30 s of nginx down", func() bool {
		if d := status().Destinations[rtmp]; d.State != inject.StateRecording && strings.HasPrefix(d.LastError, refused) {
			during = d
		}
		return time.Since(down) >= 30*time.Second
	})
	framesDuring, outage := status().Frames-framesBefore, time.Since(down)
	if during.LastError == "" {
		t.Errorf("the RTMP destination never said %q while nginx was down", refused)
	}
	fps := float64(framesDuring) / outage.Seconds()
	if fps < 22 {
		t.Errorf("the channel sent %d frames in the %v nginx was down: %.1f a second, want 25", framesDuring,
			outage.Round(time.Millisecond), fps)
	}

	// While nothing listens the destination tries again at most 2 s apart (inject's
	// refusedRetry), whatever its backoff has grown to in 30 s of failures (before that cap it
	// recorded again 0.4 to 26.2 s after nginx listened, in five runs): it records again
	// within 5 s of nginx listening, the wait for a keyframe (1 s apart) included.
	n.Start()
	listening := time.Now()
	var back inject.Stats
	fftest.WaitFor(t, 45*time.Second, "the RTMP destination recording again", func() bool {
		back = status().Destinations[rtmp]
		return back.State == inject.StateRecording
	})
	again := time.Since(listening)
	if back.LastErrorAt.After(listening) {
		t.Errorf("the RTMP destination failed a try after nginx listened again: %s", back.LastError)
	}
	if again > 5*time.Second {
		t.Errorf("the RTMP destination recorded again %v after nginx listened again; want within 5 s",
			again.Round(time.Millisecond))
	}
	codecs, err := testpeers.ProbeRTMP(t, n.URL("live/every"), 20*time.Second)
	slices.Sort(codecs)
	if err != nil || !slices.Equal(codecs, []string{"aac", "h264"}) {
		t.Errorf("a player of nginx after the outage got %v, %v; want aac and h264", codecs, err)
	}
	t.Logf("RTMP: out of recording %v after nginx stopped (%s); while down: %s; recording again %v after nginx "+
		"listened again; the channel sent %.1f frames a second meanwhile",
		lostAfter.Round(time.Millisecond), lost.LastError, during.LastError, again.Round(time.Millisecond), fps)

	// The channel stops: each destination sends what it took and closes. The RTSP one writes
	// the packets its client queued and then TEARDOWN on its TCP connection, so that the relay
	// has read them all when it unpublishes the path, and logs their number. The SRT one closes
	// its ffmpeg's input: that ffmpeg sends what it has, lingers until SRT has delivered it, and
	// closes the connection; the listener's ffmpeg then flushes the frames its demuxer holds
	// (the last of each stream, which only the next one, or the end, completes) and exits. The
	// counts are compared once both are done, when nothing is in flight.
	stop()
	st := s.Status()[0]
	var relayPackets uint64
	unpublish := regexp.MustCompile(`msg=unpublish path=every\.sdp .* packets=(\d+)`)
	fftest.WaitFor(t, 10*time.Second, "the relay's unpublish of every.sdp", func() bool {
		m := unpublish.FindAllStringSubmatch(relayLog.String(), -1)
		if len(m) > 1 {
			t.Fatalf("the relay unpublished every.sdp %d times:\n%s", len(m), relayLog.String())
		}
		if len(m) == 1 {
			relayPackets, _ = strconv.ParseUint(m[0][1], 10, 64)
		}
		return len(m) == 1
	})
	l.Wait(t, 15*time.Second)
	video, audio := countPackets(t, l.Out)

	for i, d := range st.Destinations {
		t.Logf("%s: sent %d, dropped %d, %d reconnects, %d failed tries; %s", names[i], d.PacketsSent,
			d.PacketsDropped, d.Reconnects, d.FailedAttempts, d.LastError)
	}
	t.Logf("the channel sent %d video frames and %d audio frames; the relay received %d RTP packets; the SRT "+
		"listener %d video and %d AAC frames", st.Frames, st.AudioFrames, relayPackets, video, audio)
	if d := st.Destinations[rtsp]; d.PacketsSent != relayPackets || d.PacketsDropped != 0 || d.Reconnects != 0 ||
		d.FailedAttempts != 0 {
		t.Errorf("RTSP: sent %d packets, the relay received %d; %d dropped, %d reconnects, %d failed tries; "+
			"want all received and none dropped", d.PacketsSent, relayPackets, d.PacketsDropped, d.Reconnects,
			d.FailedAttempts)
	}
	if d := st.Destinations[srt]; d.PacketsSent != video+audio || d.PacketsDropped != 0 || d.Reconnects != 0 ||
		d.FailedAttempts != 0 {
		t.Errorf("SRT: sent %d frames, the listener received %d (%d video, %d audio); %d dropped, %d reconnects, "+
			"%d failed tries; want all received and none dropped", d.PacketsSent, video+audio, video, audio,
			d.PacketsDropped, d.Reconnects, d.FailedAttempts)
	}
	if d := st.Destinations[rtmp]; d.Reconnects != 1 {
		t.Errorf("RTMP: %d reconnects, want 1", d.Reconnects)
	}
}

// countPackets returns the video and audio packets of a file (for AAC in MPEG-TS, its frames),
// as ffprobe reads them.
func countPackets(t *testing.T, file string) (video, audio uint64) {
	t.Helper()
	// JSON: its csv and compact forms repeat the streams of an MPEG-TS in its program's section
	out, err := exec.Command("ffprobe", "-v", "error", "-count_packets", "-show_entries",
		"stream=codec_type,nb_read_packets", "-of", "json", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var probe struct {
		Streams []struct {
			CodecType string `json:"codec_type"`
			Packets   uint64 `json:"nb_read_packets,string"`
		} `json:"streams"`
	}
	if err := json.Unmarshal(out, &probe); err != nil {
		t.Fatalf("ffprobe %s: %v: %s", file, err, out)
	}
	for _, st := range probe.Streams {
		switch st.CodecType {
		case "video":
			video += st.Packets
		case "audio":
			audio += st.Packets
		}
	}
	return video, audio
}
