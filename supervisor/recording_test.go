package supervisor

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/relay"
)

// segmentPackets is what ffprobe says of a segment.
type segmentPackets struct {
	Packets []struct {
		CodecType string `json:"codec_type"`
		DTS       int64  `json:"dts"`
		Flags     string `json:"flags"`
	} `json:"packets"`
	Streams []fftest.Stream `json:"streams"`
}

// checkRecording checks a channel's closed segments with ffprobe: at least minSegments, each
// h264 + aac beginning with a keyframe, their video timestamps joining with no gap over one
// frame across segments but for gaps of them (the recording was off meanwhile). It returns the
// video frames they hold together.
func checkRecording(t *testing.T, dir string, minSegments, gaps, w, h int) (frames uint64) {
	t.Helper()
	segs, err := record.List(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < minSegments {
		t.Fatalf("%s: %d segments, want at least %d", dir, len(segs), minSegments)
	}
	const wrap = 1 << 33
	last, frameTicks := int64(-1), int64(0)
	for _, s := range segs {
		if s.Open {
			t.Errorf("%s left open", s.Name)
		}
		out, err := exec.Command("ffprobe", "-v", "error", "-show_packets", "-show_streams", "-of", "json",
			filepath.Join(dir, s.Name)).Output()
		if err != nil {
			t.Fatalf("ffprobe %s: %v", s.Name, err)
		}
		var p segmentPackets
		if err := json.Unmarshal(out, &p); err != nil {
			t.Fatal(err)
		}
		fftest.CheckAV(t, p.Streams, fftest.AV{Width: w, Height: h, SampleRate: 48000, Channels: 2})
		first := true
		for _, pk := range p.Packets {
			if pk.CodecType != "video" {
				continue
			}
			frames++
			if first && !strings.HasPrefix(pk.Flags, "K") {
				t.Errorf("%s: its first video frame is not a keyframe", s.Name)
			}
			if last >= 0 {
				step := ((pk.DTS-last)%wrap + wrap) % wrap
				switch {
				case first && frameTicks > 0 && step > frameTicks*3/2 && gaps > 0:
					gaps--
				case first && frameTicks > 0 && step > frameTicks*3/2:
					t.Errorf("%s begins %.3f s after the segment before ends, want one frame (%d ticks)",
						s.Name, float64(step)/90000, frameTicks)
				case !first:
					frameTicks = step
				}
			}
			first, last = false, pk.DTS
		}
	}
	return frames
}

// TestRecordE2E runs real ffmpeg channels with segment = "5s" for 30 s, one pushing to a relay
// and one whose only destination is down for the whole run: both record what they demuxed,
// in segments that play alone and join. Then turning the recording off and on again, and
// changing it, restarts neither ffmpeg nor a destination.
func TestRecordE2E(t *testing.T) {
	fftest.Require(t)
	ev := newEvents()
	rl := &relay.Server{Address: "127.0.0.1:0", OnPublish: func(path string) { ev.add("publish %s", path) }}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	recDir := t.TempDir()
	channel := func(name, url string) profiles.Channel {
		ch := testProfile()
		ch.Name = name
		ch.Video.Size = profiles.Size{Width: 320, Height: 240}
		ch.Video.Bitrate = 300_000
		ch.Video.GOP = profiles.Duration(time.Second)
		ch.Destinations = []profiles.Destination{{URL: url, Transport: "tcp"}}
		ch.Record = profiles.Record{On: true, Dir: recDir, Segment: profiles.Duration(5 * time.Second),
			Keep: profiles.Duration(time.Hour), MinFree: profiles.FreeSpace{Percent: 1}}
		return ch
	}
	up := channel("up", "rtsp://"+rl.Addr()+"/up.sdp")
	down := channel("down", fmt.Sprintf("rtsp://127.0.0.1:%d/down.sdp", fftest.FreePort(t)))
	var logs fftest.Buffer
	s := &Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{up, down},
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), OnStart: ev.started}
	apply := updater(s, &logs)
	stop := runSupervisor(t, s)
	ev.waitFor(t, "publish up.sdp")

	status := func(name string) Status {
		for _, st := range s.Status() {
			if st.Name == name {
				return st
			}
		}
		t.Fatalf("no channel %s", name)
		return Status{}
	}
	fftest.WaitFor(t, 60*time.Second, "30 s of frames on both channels", func() bool {
		return status("up").Frames >= 30*25 && status("down").Frames >= 30*25
	})
	for _, name := range []string{"up", "down"} {
		st := status(name).Record
		if st == nil || st.State != record.StateRecording || st.Segments < 5 || st.Dir != filepath.Join(recDir, name) ||
			st.BytesWritten == 0 || st.Errors != 0 {
			t.Errorf("%s: record status %+v", name, st)
		}
	}
	if d := status("down").Destinations; len(d) != 1 || d[0].State == "recording" {
		t.Errorf("down's destination %+v, want it failing", d)
	}

	// reloads of [record] alone
	update := func(chs ...profiles.Channel) profiles.Changes {
		t.Helper()
		return apply(t, chs...)
	}
	off := up
	off.Record = profiles.Record{}
	if c := update(off, down); len(c.Rerecord) != 1 || len(c.Restart)+len(c.Retarget) != 0 {
		t.Errorf("changes %+v, want up rerecorded", c)
	}
	fftest.WaitFor(t, 10*time.Second, "up's recording off", func() bool { return status("up").Record == nil })
	if c := update(up, down); len(c.Rerecord) != 1 {
		t.Errorf("changes %+v, want up rerecorded", c)
	}
	fftest.WaitFor(t, 10*time.Second, "up's recording on", func() bool {
		r := status("up").Record
		return r != nil && r.State == record.StateRecording
	})
	for _, name := range []string{"up", "down"} {
		if n := len(ev.pids(name)); n != 1 {
			t.Errorf("%s: ffmpeg started %d times, want once: a [record] change leaves it running", name, n)
		}
	}
	if d := status("up").Destinations; len(d) != 1 || d[0].Reconnects != 0 {
		t.Errorf("up's destination %+v, want its session untouched", d)
	}
	for _, want := range []string{`msg="recording off" channel=up`, `msg="channel recording changed" channel=up file="" changes="record on"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log without %s", want)
		}
	}

	stop()
	// Run has returned: every segment is closed, and the channels' counters are final
	for _, name := range []string{"up", "down"} {
		st := status(name)
		gaps := 0
		if name == "up" {
			gaps = 1 // off and on again
		}
		frames := checkRecording(t, filepath.Join(recDir, name), 5, gaps, 320, 240)
		if name == "up" {
			// the time it was off is not recorded: what it records is what it demuxed, less that
			continue
		}
		if d := int64(frames) - int64(st.Frames); d < -1 || d > 1 {
			t.Errorf("%s: the segments hold %d video frames, the channel demuxed %d", name, frames, st.Frames)
		}
	}
}

// TestRecordFailingStreams has a channel whose recording cannot write (its folder is a file):
// the recording is in state error with its cause, and the channel streams all the same.
func TestRecordFailingStreams(t *testing.T) {
	fftest.Require(t)
	ev := newEvents()
	rl := &relay.Server{Address: "127.0.0.1:0", OnPublish: func(path string) { ev.add("publish %s", path) }}
	if err := rl.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer rl.Close()
	file := filepath.Join(t.TempDir(), "not-a-folder")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ch := testProfile()
	ch.Video.Size = profiles.Size{Width: 320, Height: 240}
	ch.Video.Bitrate = 300_000
	ch.Destinations = []profiles.Destination{{URL: "rtsp://" + rl.Addr() + "/test.sdp", Transport: "tcp"}}
	ch.Record = profiles.Record{On: true, Dir: file, Segment: profiles.Duration(time.Minute),
		Keep: profiles.Duration(time.Hour), MinFree: profiles.FreeSpace{Percent: 1}}
	s := &Supervisor{FFmpeg: "ffmpeg", Channels: []profiles.Channel{ch}}
	runSupervisor(t, s)
	ev.waitFor(t, "publish test.sdp")
	fftest.WaitFor(t, 30*time.Second, "frames on air with the recording in error", func() bool {
		st := s.Status()
		return len(st) == 1 && st[0].Frames > 50 && len(st[0].Destinations) == 1 && st[0].Destinations[0].PacketsSent > 100 &&
			st[0].Record != nil && st[0].Record.State == record.StateError
	})
	r := s.Status()[0].Record
	if r.Cause != "cannot make the folder" || r.Errors == 0 || !strings.Contains(r.LastError, "not a directory") {
		t.Errorf("record status %+v", r)
	}
}
