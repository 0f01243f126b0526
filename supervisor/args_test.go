package supervisor

import (
	"strings"
	"testing"
)

func TestArgsTestsrc(t *testing.T) {
	got, err := Args(testProfile())
	if err != nil {
		t.Fatal(err)
	}
	want := "-hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 " +
		"-re -f lavfi -i testsrc2=size=1280x720:rate=25 " +
		"-re -f lavfi -i sine=frequency=1000:sample_rate=48000 " +
		"-map 0:v -c:v libx264 -preset veryfast -tune zerolatency -pix_fmt yuv420p " +
		"-b:v 2500000 -maxrate 2500000 -bufsize 5000000 -g 50 -keyint_min 50 -sc_threshold 0 " +
		"-map 1:a -c:a aac -b:a 128000 -ar 48000 -ac 2 " +
		"-f mpegts -flush_packets 1 -muxdelay 0 -muxpreload 0 -omit_video_pes_length 0 pipe:1"
	if s := strings.Join(got, " "); s != want {
		t.Errorf("argv\n got %s\nwant %s", s, want)
	}
}

func TestArgsWithoutAudio(t *testing.T) {
	p := testProfile()
	p.Audio.Encoder = "none"
	got, err := Args(p)
	if err != nil {
		t.Fatal(err)
	}
	if s := strings.Join(got, " "); strings.Contains(s, "sine") || strings.Contains(s, "-c:a") {
		t.Errorf("audio arguments without audio: %s", s)
	}
}

func TestArgsUnknownSource(t *testing.T) {
	p := testProfile()
	p.Source.Kind = "v4l2"
	if _, err := Args(p); err == nil || !strings.Contains(err.Error(), `source kind "v4l2"`) {
		t.Errorf("error %v, want one naming the source kind", err)
	}
}
