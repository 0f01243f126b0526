package profiles

import (
	"slices"
	"testing"
	"time"
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
		// the return check's keys: retarget, never a restart of ffmpeg
		ch("i", func(c *Channel) {
			c.Destinations[0].Verify, c.Destinations[1].VerifyURL = false, "rtsp://dss2/out/i.sdp"
			c.Destinations[1].VerifyEvery = Duration(time.Minute)
		}),
	}
	// old "h" is removed; the order of the input does not matter
	old = append(old, ch("h"), ch("i"))
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
		{"retarget", got.Retarget, []string{"c", "d", "i"}},
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

// TestDiffInputs checks that a change of the backups, the slate or the failover timings leaves
// the source's ffmpeg alone: the channel is retargeted, not restarted.
func TestDiffInputs(t *testing.T) {
	base := Channel{Name: "cam", Source: Source{Kind: "rtsp", URL: "rtsp://cam/1", Timeout: Duration(time.Second)},
		Backups: []Source{
			{Kind: "rtsp", URL: "rtsp://cam/2", Timeout: Duration(time.Second)},
			{Kind: "ffmpeg", InputArgs: []string{"-i", "x"}},
		},
		FailoverAfter: Duration(3 * time.Second), ReturnAfter: Duration(10 * time.Second), SlateAfter: Duration(10 * time.Second),
		Slate: Slate{Text: "Back soon"}, Video: Video{Encoder: "libx264"}, Audio: Audio{Encoder: "aac"},
		Destinations: []Destination{{URL: "rtsp://dss/cam.sdp"}}}
	copyOf := func(c Channel) Channel {
		c.Backups = slices.Clone(c.Backups)
		return c
	}
	for name, change := range map[string]func(*Channel){
		"backup url":        func(c *Channel) { c.Backups[0].URL = "rtsp://cam/3" },
		"backup input_args": func(c *Channel) { c.Backups[1].InputArgs = []string{"-i", "y"} },
		"backup added":      func(c *Channel) { c.Backups = append(c.Backups, Source{Kind: "testsrc"}) },
		"backup removed":    func(c *Channel) { c.Backups = c.Backups[:1] },
		"backups swapped":   func(c *Channel) { c.Backups[0], c.Backups[1] = c.Backups[1], c.Backups[0] },
		"no backups":        func(c *Channel) { c.Backups = nil },
		"slate text":        func(c *Channel) { c.Slate.Text = "Soon" },
		"slate image":       func(c *Channel) { c.Slate = Slate{Image: "/srv/slate.png"} },
		"slate off":         func(c *Channel) { c.Slate = Slate{Off: true} },
		"failover_after":    func(c *Channel) { c.FailoverAfter = Duration(5 * time.Second) },
		"return_after":      func(c *Channel) { c.ReturnAfter = Duration(time.Minute) },
		"slate_after":       func(c *Channel) { c.SlateAfter = Duration(20 * time.Second) },
	} {
		changed := copyOf(base)
		change(&changed)
		if !SameEncoding(base, changed) || SameInputs(base, changed) {
			t.Errorf("%s changed: SameEncoding %v, SameInputs %v; want true, false", name, SameEncoding(base, changed), SameInputs(base, changed))
		}
		c := Diff([]Channel{base}, []Channel{changed})
		if len(c.Retarget) != 1 || len(c.Restart)+len(c.Unchanged) != 0 {
			t.Errorf("%s changed: %+v, want a retarget", name, c)
		}
	}

	// The source's ffmpeg changed as well: a restart.
	changed := copyOf(base)
	changed.Backups[0].URL, changed.Video.Bitrate = "rtsp://cam/3", 800_000
	if c := Diff([]Channel{base}, []Channel{changed}); len(c.Restart) != 1 {
		t.Errorf("backup and bitrate changed: %+v, want a restart", c)
	}
	// input_args nil or empty are the same.
	changed = copyOf(base)
	changed.Backups[0].InputArgs = []string{}
	if !SameInputs(base, changed) {
		t.Error("SameInputs: empty input_args differ from none")
	}
	if c := Diff([]Channel{base}, []Channel{copyOf(base)}); len(c.Unchanged) != 1 {
		t.Errorf("Diff of a channel with backups with itself: %+v", c)
	}
}

func TestChangedInputs(t *testing.T) {
	a := Channel{Name: "lobby", Source: Source{Kind: "testsrc"},
		Backups: []Source{
			{Kind: "rtsp", URL: "rtsp://admin:s3cret@cam/1", Timeout: Duration(5 * time.Second)},
			{Kind: "file", Path: "/srv/a.mp4"},
			{Kind: "ffmpeg", InputArgs: []string{"-i", "rtsp://u:pw@cam/x"}},
			{Kind: "rtsp", URL: "rtsp://u:gone@cam/4"},
		},
		FailoverAfter: Duration(3 * time.Second), ReturnAfter: Duration(10 * time.Second), SlateAfter: Duration(10 * time.Second),
		Slate: Slate{Text: "a"}}
	b := a
	b.Backups = []Source{
		{Kind: "rtsp", URL: "rtsp://admin:other@cam/2", Timeout: Duration(2 * time.Second)},
		{Kind: "rtsp", URL: "rtsp://v:pw@cam/3"},
		{Kind: "ffmpeg", InputArgs: []string{"-i", "rtsp://u:pw2@cam/x"}},
	}
	b.FailoverAfter, b.SlateAfter = Duration(5*time.Second), Duration(20*time.Second)
	b.Slate.Text = "b"
	want := []string{
		`backup 1.url "rtsp://admin:xxxxx@cam/1" → "rtsp://admin:xxxxx@cam/2"`, `backup 1.timeout "5s" → "2s"`,
		"backup 2 ~rtsp rtsp://v:xxxxx@cam/3",
		"backup 3.input_args changed",
		"backup 4 -rtsp rtsp://u:xxxxx@cam/4",
		`slate.text "a" → "b"`,
		`failover_after "3s" → "5s"`, `slate_after "10s" → "20s"`,
	}
	if got := Changed(a, b); !slices.Equal(got, want) {
		t.Errorf("got\n%q\nwant\n%q", got, want)
	}

	three := a
	three.Backups = a.Backups[:3]
	c := three
	c.Backups = append(slices.Clone(three.Backups), Source{Kind: "v4l2", Device: "/dev/video1"})
	c.Slate = Slate{Off: true}
	want = []string{"backup 4 +v4l2 /dev/video1", "slate off"}
	if got := Changed(three, c); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	want = []string{"backup 4 -v4l2 /dev/video1", "slate on", `slate.text "" → "a"`}
	if got := Changed(c, three); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
	d := a
	d.Slate = Slate{Image: "/srv/slate.png"}
	want = []string{`slate.image "" → "/srv/slate.png"`, `slate.text "a" → ""`}
	if got := Changed(a, d); !slices.Equal(got, want) {
		t.Errorf("got %q\nwant %q", got, want)
	}
}
