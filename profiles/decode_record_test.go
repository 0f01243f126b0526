package profiles

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRecord checks [record] in a profile and in [defaults]: its defaults, its folder relative
// to the file it is in, a profile's keys over the defaults', and record = "off".
func TestRecord(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": `
[defaults.record]
dir = "/srv/rec"
keep = "30d"
[[defaults.destination]]
url = "rtsp://dss.example/{channel}.sdp"
`,
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\n",
		"profiles/b.toml": "[source]\nkind = \"testsrc\"\n[record]\nsegment = \"5s\"\nmax_size = \"20GiB\"\nmin_free = \"2GiB\"\n",
		"profiles/c.toml": "record = \"off\"\n[source]\nkind = \"testsrc\"\n",
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]Record{
		"a": {On: true, Dir: "/srv/rec", Segment: Duration(time.Minute), Keep: Duration(30 * 24 * time.Hour),
			MinFree: FreeSpace{Percent: 5}},
		"b": {On: true, Dir: "/srv/rec", Segment: Duration(5 * time.Second), Keep: Duration(30 * 24 * time.Hour),
			MaxSize: 20 << 30, MinFree: FreeSpace{Bytes: 2 << 30}},
		"c": {},
	}
	for _, ch := range cfg.Channels {
		if ch.Record != want[ch.Name] {
			t.Errorf("%s: record %+v, want %+v", ch.Name, ch.Record, want[ch.Name])
		}
	}
	if got := cfg.Channels[0].Record.ChannelDir("a"); got != "/srv/rec/a" {
		t.Errorf("ChannelDir = %q", got)
	}

	// without [defaults.record]: off unless the profile has [record], whose folder is relative
	// to the profile's directory, "recordings" by default
	dir = t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "[[defaults.destination]]\nurl = \"rtsp://dss.example/{channel}.sdp\"\n",
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\n",
		"profiles/b.toml": "[source]\nkind = \"testsrc\"\n[record]\n",
		"profiles/c.toml": "[source]\nkind = \"testsrc\"\n[record]\ndir = \"../rec\"\n",
	})
	if cfg, err = Load(filepath.Join(dir, "liveinject.toml")); err != nil {
		t.Fatal(err)
	}
	dirs := []string{}
	for _, ch := range cfg.Channels {
		dirs = append(dirs, ch.Record.Dir)
		if ch.Record.On != (ch.Name != "a") {
			t.Errorf("%s: record on %v", ch.Name, ch.Record.On)
		}
	}
	if wantDirs := []string{"", filepath.Join(dir, "profiles/recordings"), filepath.Join(dir, "rec")}; !slices.Equal(dirs, wantDirs) {
		t.Errorf("dirs %q, want %q", dirs, wantDirs)
	}
}

func TestRecordErrors(t *testing.T) {
	for _, tc := range []struct{ src, want string }{
		{"[record]\nsegment = \"500ms\"\n", `p.toml:6: record.segment: 500ms: want from 1s to 1h0m0s`},
		{"[record]\nsegment = \"2h\"\n", `p.toml:6: record.segment: 2h0m0s: want from 1s to 1h0m0s`},
		{"[record]\nkeep = \"30s\"\n", `p.toml:6: record.keep: 30s is shorter than a segment (1m0s): at least one segment is kept`},
		{"[record]\nkeep = \"7 days\"\n", `p.toml:6: record.keep: invalid duration "7 days"`},
		{"[record]\nmax_size = \"20 gigs\"\n", `p.toml:6: record.max_size: invalid size "20 gigs"`},
		{"[record]\nmax_size = 0\n", `p.toml:6: record.max_size: must be greater than 0`},
		{"[record]\nmin_free = \"100%\"\n", `p.toml:6: record.min_free: invalid free space "100%"`},
		{"[record]\ndir = \"\"\n", `p.toml:6: record.dir: empty`},
		{"[record]\nsegments = \"1m\"\n", `p.toml:6: unknown key "record.segments"`},
		{"record = \"on\"\n", `p.toml:1: record: want "off" or a [record] table`},
	} {
		// record = "..." is a key of the profile's root: before the tables
		src := "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss/x.sdp\"\n" + tc.src
		if strings.HasPrefix(tc.src, "record =") {
			src = tc.src + "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss/x.sdp\"\n"
		}
		res := decodeChannel("p.toml", "p", []byte(src), &Config{Path: "main.toml", Defaults: builtinDefaults()})
		got := []string{}
		for _, e := range res.errs {
			got = append(got, e.Error())
		}
		if len(got) != 1 || !strings.HasPrefix(got[0], tc.want) {
			t.Errorf("%q: errors %q, want %q", tc.src, got, tc.want)
		}
	}
}

func TestByteSizeAndFreeSpace(t *testing.T) {
	for text, want := range map[string]ByteSize{"20GiB": 20 << 30, "500MB": 500e6, "1.5T": 1.5e12, "1000": 1000,
		"2Gi": 2 << 30, "4 KiB": 4096} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(text)); err != nil || b != want {
			t.Errorf("%q: %v %v, want %d", text, b, err, want)
		}
	}
	for _, text := range []string{"", "GiB", "-1GiB", "1e9", "20 gigs", "inf"} {
		var b ByteSize
		if err := b.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("%q: %d, want an error", text, b)
		}
	}
	if s := ByteSize(20 << 30).String(); s != "20GiB" {
		t.Errorf("String = %q", s)
	}
	for text, want := range map[string]FreeSpace{"5%": {Percent: 5}, "0.5%": {Percent: 0.5}, "2GiB": {Bytes: 2 << 30}} {
		var f FreeSpace
		if err := f.UnmarshalText([]byte(text)); err != nil || f != want || f.String() != text {
			t.Errorf("%q: %+v %v (String %q)", text, f, err, f.String())
		}
	}
	for _, text := range []string{"0%", "100%", "-5%", "0", "x%"} {
		var f FreeSpace
		if err := f.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("%q: %+v, want an error", text, f)
		}
	}
}

func TestDurationDays(t *testing.T) {
	for text, want := range map[string]time.Duration{"7d": 7 * 24 * time.Hour, "1d12h": 36 * time.Hour, "0d": 0} {
		var d Duration
		if err := d.UnmarshalText([]byte(text)); err != nil || d.Std() != want {
			t.Errorf("%q: %v %v, want %v", text, d, err, want)
		}
	}
	// written back with days, as read
	for d, want := range map[time.Duration]string{7 * 24 * time.Hour: "7d", 36 * time.Hour: "1d12h0m0s",
		2 * time.Hour: "2h0m0s", 24*time.Hour + time.Second: "1d1s"} {
		var back Duration
		if got := Duration(d).String(); got != want || back.UnmarshalText([]byte(got)) != nil || back.Std() != d {
			t.Errorf("%v: written %q, read back %v; want %q", d, got, back, want)
		}
	}
	for _, text := range []string{"d", "1.5d", "-1d", "7dd", "1d-1h", "7 d"} {
		var d Duration
		if err := d.UnmarshalText([]byte(text)); err == nil {
			t.Errorf("%q: %v, want an error", text, d)
		}
	}
}

// A change of [record] alone is a class of its own: no ffmpeg restart, no new destinations.
func TestDiffRecord(t *testing.T) {
	a := Channel{Name: "a", Source: Source{Kind: "testsrc"}, Destinations: []Destination{{URL: "rtsp://dss/a.sdp"}}}
	on := a
	on.Record = Record{On: true, Dir: "/rec", Segment: Duration(time.Minute), Keep: Duration(time.Hour)}
	longer := on
	longer.Record.Keep = Duration(2 * time.Hour)
	for _, tc := range []struct {
		was, is Channel
		changed string
	}{
		{a, on, "record on"},
		{on, a, "record off"},
		{on, longer, `record.keep "1h0m0s" → "2h0m0s"`},
	} {
		c := Diff([]Channel{tc.was}, []Channel{tc.is})
		if len(c.Rerecord) != 1 || len(c.Restart)+len(c.Retarget)+len(c.Unchanged) != 0 || c.Empty() {
			t.Errorf("%s: %+v, want a rerecord only", tc.changed, c)
		}
		if got := Changed(tc.was, tc.is); !slices.Equal(got, []string{tc.changed}) {
			t.Errorf("Changed = %q, want %q", got, tc.changed)
		}
	}
}
