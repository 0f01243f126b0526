package profiles

import (
	"slices"
	"testing"
)

func TestDiff(t *testing.T) {
	ch := func(name string, mod ...func(*Channel)) Channel {
		c := Channel{
			Name:   name,
			File:   "/etc/liveinject/profiles/" + name + ".toml",
			Source: Source{Kind: "testsrc"},
			Video:  Video{Encoder: "libx264", Bitrate: 2_500_000, Size: Size{1280, 720}, FPS: 25},
			Audio:  Audio{Encoder: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
			Destinations: []Destination{
				{URL: "rtsp://dss1/" + name + ".sdp", Transport: "tcp"},
				{URL: "rtsp://dss2/" + name + ".sdp", Transport: "tcp"},
			},
		}
		for _, m := range mod {
			m(&c)
		}
		return c
	}
	names := func(cs []Channel) []string {
		out := []string{}
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	old := []Channel{ch("a"), ch("b"), ch("c"), ch("d"), ch("e"), ch("f")}
	new := []Channel{
		ch("a"), // unchanged
		ch("b", func(c *Channel) { c.Video.Bitrate = 4_000_000 }),                    // restart
		ch("c", func(c *Channel) { c.Destinations[1].Transport = "udp" }),            // retarget
		ch("d", func(c *Channel) { c.Destinations = c.Destinations[:1] }),            // retarget
		ch("e", func(c *Channel) { c.Audio.Encoder = "none"; c.Destinations = nil }), // restart
		ch("f", func(c *Channel) { c.File = "/srv/profiles/f.toml" }),                // unchanged
		ch("g"), // added
	}
	// old "h" is removed; the order of the input does not matter
	old = append(old, ch("h"))
	slices.Reverse(new)

	got := Diff(old, new)
	for _, tc := range []struct {
		what string
		got  []Channel
		want []string
	}{
		{"added", got.Added, []string{"g"}},
		{"removed", got.Removed, []string{"h"}},
		{"restart", got.Restart, []string{"b", "e"}},
		{"retarget", got.Retarget, []string{"c", "d"}},
		{"unchanged", got.Unchanged, []string{"a", "f"}},
	} {
		if n := names(tc.got); !slices.Equal(n, tc.want) {
			t.Errorf("%s: %v, want %v", tc.what, n, tc.want)
		}
	}
	if got.Empty() {
		t.Error("Empty() on a diff with changes")
	}
	// the new version is what is handed on
	if got.Restart[0].Video.Bitrate != 4_000_000 || len(got.Retarget[1].Destinations) != 1 {
		t.Errorf("changes do not carry the new versions: %+v", got)
	}
	if d := Diff(old, old); !d.Empty() || len(d.Unchanged) != len(old) {
		t.Errorf("Diff of a set with itself: %+v", d)
	}
	if d := Diff(nil, nil); !d.Empty() {
		t.Errorf("Diff(nil, nil) = %+v", d)
	}
}

func TestChanged(t *testing.T) {
	a := Channel{Name: "lobby", Source: Source{Kind: "rtsp", URL: "rtsp://admin:s3cret@cam/1"},
		Video:        Video{Bitrate: 2_500_000, Size: Size{1280, 720}},
		Destinations: []Destination{{URL: "rtsp://dss1/lobby.sdp", Transport: "tcp"}, {URL: "rtsp://dss2/lobby.sdp"}}}
	b := a
	b.Source.URL = "rtsp://admin:other@cam/2"
	b.Video.Bitrate, b.Video.Size = 800_000, Size{640, 360}
	b.FFmpeg.InputArgs = []string{"-i", "secret"}
	b.Destinations = []Destination{{URL: "rtsp://dss1/lobby.sdp", Transport: "udp", Password: "pw"}, {URL: "rtsp://u:pw@dss3/lobby.sdp"}}
	got := Changed(a, b)
	want := []string{
		`source.url "rtsp://admin:xxxxx@cam/1" → "rtsp://admin:xxxxx@cam/2"`,
		`video.bitrate "2500k" → "800k"`, `video.size "1280x720" → "640x360"`,
		"ffmpeg.input_args changed",
		"destination ~rtsp://dss1/lobby.sdp", "destination +rtsp://u:xxxxx@dss3/lobby.sdp", "destination -rtsp://dss2/lobby.sdp",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}
	if c := Changed(a, a); c != nil {
		t.Errorf("no change: %q", c)
	}
}
