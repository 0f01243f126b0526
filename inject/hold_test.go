package inject

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
)

// TestHold has the source stop, as when ffmpeg crashes: the last keyframe goes out again on the
// same session, with RTP time following the wall clock, and the source's frames resume after
// it, on the same session, with time going forward.
func TestHold(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Hold(time.Now(), nil); !errors.Is(err, ErrNothingToHold) {
		t.Errorf("Hold before any frame: %v", err)
	}
	pushLive(t, f, fr)
	waitSettled(t, f, 0)
	live := len(videoOf(s.received(0)))
	audioLive := len(onChannel(s.received(0), 2))
	silence := []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c} // stands for an AAC frame; the server does not decode

	// 1.5 s without a frame, held every 500 ms
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for range 3 {
		now := <-tick.C
		if err := f.Hold(now, silence); err != nil {
			t.Fatal(err)
		}
	}
	f.Discontinuity() // the new ffmpeg's frames start from their own zero
	pushLive(t, f, fr)
	waitSettled(t, f, 0)

	if n := len(s.requestsOf(base.Announce)); n != 1 {
		t.Errorf("%d ANNOUNCEs, want the one session", n)
	}
	video := videoOf(s.received(0))
	checkContiguous(t, "the session", video)
	held := 0
	// time never goes back, through the held frames and into the new source's
	for i := 1; i < len(video); i++ {
		if d := int32(video[i].Timestamp - video[i-1].Timestamp); d < 0 {
			t.Fatalf("RTP time went back at packet %d: %d then %d", i, video[i-1].Timestamp, video[i].Timestamp)
		}
	}
	// the held frames: keyframes 500 ms apart in RTP time, after the live ones
	var stamps []uint32
	for _, p := range video[live:] {
		if len(stamps) == 0 || p.Timestamp != stamps[len(stamps)-1] {
			stamps = append(stamps, p.Timestamp)
		}
	}
	for i := 1; i < 3 && i < len(stamps); i++ {
		d := time.Duration(stamps[i]-stamps[i-1]) * time.Second / 90000
		if d < 400*time.Millisecond || d > 600*time.Millisecond {
			t.Errorf("held frame %d comes %v after the one before, want about 500 ms", i, d)
		}
		held++
	}
	if held != 2 || len(stamps) < 4 {
		t.Errorf("%d RTP times after the live frames, want 3 held and the live ones after", len(stamps))
	}

	// the audio: silence up to each held picture, in 1024-sample frames that follow the live
	// audio without a gap, then the new source's audio after it
	audio := onChannel(s.received(0), 2)
	checkContiguous(t, "the audio", audio)
	var silent int
	for _, p := range audio[audioLive:] {
		if string(p.Payload[len(p.Payload)-len(silence):]) == string(silence) {
			silent++
		}
	}
	for i := 1; i < len(audio); i++ {
		if d := int32(audio[i].Timestamp - audio[i-1].Timestamp); d < 0 {
			t.Fatalf("audio RTP time went back at packet %d", i)
		}
	}
	if silent == 0 {
		t.Errorf("no silence during the hold")
	}
	last, first := audio[audioLive-1], audio[audioLive]
	// the live audio's last packet may hold several frames: the silence starts right after them
	if d := first.Timestamp - last.Timestamp; d == 0 || d%1024 != 0 || d > 8*1024 {
		t.Errorf("the silence starts %d samples after the live audio, want a few whole frames", d)
	}
}

// onChannel returns the packets of what a fake server received on an interleaved channel.
func onChannel(pkts []fakePacket, ch int) []rtp.Packet {
	var out []rtp.Packet
	for _, p := range pkts {
		if p.channel == ch {
			out = append(out, p.pkt)
		}
	}
	return out
}

// TestHoldAtFFmpegReceiver holds a channel for 10 s between two runs of its source, pushing to
// ffmpeg as a receiver, whose recording is then read back: one session throughout, every
// timestamp going forward on both tracks, the held pictures about twice a second, AAC silence
// meanwhile, and all of it decodable.
func TestHoldAtFFmpegReceiver(t *testing.T) {
	silence := aacSilence(t)
	fr := demuxtest.Frames(t, "1")
	url, wait := fftest.Receiver(t)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: url}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	pushLive(t, f, fr)
	tick := time.NewTicker(500 * time.Millisecond)
	for range 20 {
		if err := f.Hold(<-tick.C, silence); err != nil {
			t.Fatal(err)
		}
	}
	tick.Stop()
	f.Discontinuity()
	pushLive(t, f, fr)
	waitSettled(t, f, 0)
	f.Close()
	out := wait()

	probe := exec.Command("ffprobe", "-v", "error", "-show_entries", "packet=stream_index,pts_time", "-of", "csv=p=0", out)
	b, err := probe.Output()
	if err != nil {
		t.Fatal(err)
	}
	last := map[string]float64{}
	count := map[string]int{}
	var firstVideo, lastVideo float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		idx, v, ok := strings.Cut(line, ",")
		pts, err := strconv.ParseFloat(strings.TrimSuffix(v, ","), 64)
		if !ok || err != nil {
			continue
		}
		if prev, seen := last[idx]; seen && pts < prev {
			t.Fatalf("stream %s: pts %.3f after %.3f", idx, pts, prev)
		}
		if count[idx] == 0 && idx == "0" {
			firstVideo = pts
		}
		if idx == "0" {
			lastVideo = pts
		}
		last[idx] = pts
		count[idx]++
	}
	// 25 + 25 live frames and 20 held; audio: 2 s live, 10 s of silence
	if count["0"] < 65 || lastVideo-firstVideo < 11 || count["1"] < 500 {
		t.Errorf("video packets %d over %.1f s, audio packets %d: want the held pictures and the silence",
			count["0"], lastVideo-firstVideo, count["1"])
	}
	dec, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", out, "-f", "null", "-").CombinedOutput()
	if err != nil || len(dec) != 0 {
		t.Errorf("decoding the recording: %v\n%s", err, dec)
	}
}

// aacSilence returns one frame of silent AAC-LC, 48 kHz stereo, made by ffmpeg as the channel's
// owner makes it.
func aacSilence(t *testing.T) []byte {
	t.Helper()
	b, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-f", "lavfi",
		"-i", "anullsrc=r=48000:cl=stereo", "-t", "0.5", "-c:a", "aac", "-f", "adts", "pipe:1").Output()
	if err != nil {
		t.Fatal(err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(b); err != nil || len(pkts) < 3 {
		t.Fatalf("%d ADTS frames: %v", len(pkts), err)
	}
	return pkts[len(pkts)/2].AU
}

// TestHoldRejoin has the source stop and come back without a restart, as a SIGSTOPped ffmpeg
// does: it first delivers what it buffered meanwhile in a burst, then frames at their own pace.
// The burst is dropped and the hold goes on (it would play fast-forward); live frames rejoin at
// the first keyframe after they come at their pace again (a frame that refers to frames from
// before the held keyframe would not decode).
func TestHoldRejoin(t *testing.T) {
	fr := demuxtest.Frames(t, "4", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-c:a", "aac", "-ac", "2")
	var before, burst, after []*demux.Frame // up to 1 s, the next second, the rest
	for _, x := range fr {
		switch d := x.DTS - fr[0].DTS; {
		case d < 90000:
			before = append(before, x)
		case d < 2*90000:
			burst = append(burst, x)
		default:
			after = append(after, x)
		}
	}
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	pushLive(t, f, before)
	waitSettled(t, f, 0)
	live := len(videoOf(s.received(0)))
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for range 2 {
		if err := f.Hold(<-tick.C, nil); err != nil {
			t.Fatal(err)
		}
	}
	lastLive := f.LastLive()
	for _, x := range burst {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
	}
	if !f.LastLive().Equal(lastLive) {
		t.Error("the burst counts as live frames: the hold would end")
	}
	pushLive(t, f, after)
	waitSettled(t, f, 0)

	video := videoOf(s.received(0))
	checkContiguous(t, "the session", video)
	var firsts []rtp.Packet // the first packet of each frame after the live ones
	for _, p := range video[live:] {
		if len(firsts) == 0 || p.Timestamp != firsts[len(firsts)-1].Timestamp {
			firsts = append(firsts, p)
		}
	}
	// 2 held frames, then the frames from the keyframe at 3 s: the burst and the first half
	// second at pace are dropped
	if len(firsts) != 2+25 {
		t.Fatalf("%d frames after the live ones, want 2 held and 25 live", len(firsts))
	}
	for i, p := range firsts[:3] {
		if !startsWithSPS(p.Payload) {
			t.Errorf("frame %d after the live ones is no keyframe with its SPS", i)
		}
	}
	for i := 1; i < len(firsts); i++ {
		if d := int32(firsts[i].Timestamp - firsts[i-1].Timestamp); d <= 0 {
			t.Fatalf("RTP time does not go forward at frame %d after the live ones", i)
		}
	}
}

// startsWithSPS tells whether an H.264 RTP payload starts with an SPS, alone or aggregated.
func startsWithSPS(payload []byte) bool {
	switch payload[0] & 0x1f {
	case 7:
		return true
	case 24: // STAP-A: a 2-byte size, then the first NAL unit
		return len(payload) > 3 && payload[3]&0x1f == 7
	}
	return false
}

// startHoldFanout starts a Fanout pushing to a fake server, with a queue that takes a whole
// test's frames; it is closed when the test ends.
func startHoldFanout(t *testing.T) (*Fanout, *fakeServer) {
	t.Helper()
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, s
}

// testSilence stands for an AAC frame of silence; the fake server does not decode.
var testSilence = []byte{0x21, 0x10, 0x04, 0x60, 0x8c, 0x1c}

// checkAudioGoesOn checks the audio packets a fake server got: each starts less than a frame
// after the one before ends (the AU headers' length says how many 1024-sample frames a packet
// holds, 16 bits a frame). It returns how many frames of testSilence there were.
func checkAudioGoesOn(t *testing.T, audio []rtp.Packet) (silent int) {
	t.Helper()
	frames := func(p rtp.Packet) int { return (int(p.Payload[0])<<8 | int(p.Payload[1])) / 16 }
	for i := 1; i < len(audio); i++ {
		prev := audio[i-1]
		if d := int32(audio[i].Timestamp - (prev.Timestamp + 1024*uint32(frames(prev)))); d < 0 || d >= 1024 {
			t.Errorf("audio packet %d starts %d samples after the one before ends, want less than a frame", i, d)
		}
		if string(audio[i].Payload[len(audio[i].Payload)-len(testSilence):]) == string(testSilence) {
			silent += frames(audio[i])
		}
	}
	return silent
}

// TestSwitchFillsTheAudio has a new run of the source (another input put on air, a restart of
// ffmpeg) start 300 ms after the last one ended: the audio track gets silence up to the new
// run's first audio frame, whole frames without a hole of one frame or more, and no time going
// back.
func TestSwitchFillsTheAudio(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	f, s := startHoldFanout(t)
	pushLive(t, f, fr)
	f.SetSilence(f.AudioConfig(), testSilence)
	<-time.After(300 * time.Millisecond) // the outage between two inputs
	f.Discontinuity()
	pushLive(t, f, fr)
	waitSettled(t, f, 0)
	if checkAudioGoesOn(t, onChannel(s.received(0), 2)) == 0 {
		t.Error("no silence between the two runs")
	}
}

// TestFillSilence puts a run without sound after one with it, its frames carrying the
// channel's audio config, as the switcher does for a camera without a microphone: one session,
// and the audio track goes on with silence, without a hole, for as long as the video does.
func TestFillSilence(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	f, s := startHoldFanout(t)
	pushLive(t, f, fr)
	f.SetSilence(f.AudioConfig(), testSilence)
	f.Discontinuity()
	var video []*demux.Frame
	for _, x := range fr {
		if x.Kind == demux.Video {
			v := *x
			v.Params = &demux.Params{SPS: x.Params.SPS, PPS: x.Params.PPS, Audio: f.AudioConfig()}
			video = append(video, &v)
		}
	}
	start := time.Now()
	for i, x := range video { // at their own pace, 25 a second
		<-time.After(time.Until(start.Add(time.Duration(i) * 40 * time.Millisecond)))
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
		if err := f.FillSilence(); err != nil {
			t.Fatal(err)
		}
	}
	waitSettled(t, f, 0)
	if n := len(s.requestsOf(base.Announce)); n != 1 {
		t.Errorf("%d ANNOUNCEs, want the one session", n)
	}
	// the second run's video lasts about a second: about 47 frames of 1024 samples at 48 kHz
	if silent := checkAudioGoesOn(t, onChannel(s.received(0), 2)); silent < 40 {
		t.Errorf("%d silent frames, want about a second's worth", silent)
	}
}
