package profiles

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDecodeAlarms checks the [alarms] table: its defaults, each key, "off", and the mistakes,
// each at its file and line.
func TestDecodeAlarms(t *testing.T) {
	profile := filepath.Join(t.TempDir(), "p.toml")
	const head = "[[destination]]\nurl = \"rtsp://h.example/x.sdp\"\n"
	const testsrc = "[source]\nkind = \"testsrc\"\n"
	def := DefaultAlarms()
	for _, tc := range []struct {
		name  string
		src   string
		want  Alarms
		errs  []string
		warns []string
	}{
		{name: "none", src: testsrc, want: def},
		{name: "off", src: "alarms = \"off\"\n" + testsrc, want: Alarms{Off: true}},
		{name: "empty table", src: testsrc + "[alarms]\n", want: def},
		{
			name: "every key",
			src: testsrc + "[alarms]\nblack_after = \"2s\"\nblack_threshold = 0.2\nblack_ratio = 1\nfrozen_after = \"1m\"\n" +
				"frozen_noise = \"-50dB\"\nsilent_after = \"3s\"\nsilent_level = -70\n",
			want: Alarms{BlackAfter: Duration(2 * time.Second), BlackThreshold: 0.2, BlackRatio: 1,
				FrozenAfter: Duration(time.Minute), FrozenNoise: -50, SilentAfter: Duration(3 * time.Second), SilentLevel: -70},
		},
		{
			name: "inline", src: "alarms = { silent_after = \"20s\" }\n" + testsrc,
			want: func() Alarms { a := def; a.SilentAfter = Duration(20 * time.Second); return a }(),
		},
		{name: "not off", src: "alarms = \"no\"\n" + testsrc, errs: []string{`p.toml:1: alarms: want "off" or an [alarms] table, got string "no"`}},
		{name: "not a string", src: "alarms = false\n" + testsrc, errs: []string{`p.toml:1: alarms: want "off" or an [alarms] table, got boolean false`}},
		{name: "unknown key", src: testsrc + "[alarms]\nblack_aftr = \"2s\"\n", errs: []string{`p.toml:4: unknown key "alarms.black_aftr" (did you mean "black_after"?)`}},
		{
			name: "wrong values",
			src: testsrc + "[alarms]\nblack_after = \"500ms\"\nblack_threshold = 1.5\nblack_ratio = 0\nfrozen_after = 10\n" +
				"frozen_noise = \"loud\"\nsilent_after = \"2h\"\nsilent_level = \"6dB\"\n",
			errs: []string{
				`p.toml:4: alarms.black_after: 500ms is too short: at least 1s`,
				`p.toml:5: alarms.black_threshold: 1.5 is outside 0..1 (a share: 0.1 is a tenth)`,
				`p.toml:6: alarms.black_ratio: 0 is outside 0..1 (a share: 0.1 is a tenth)`,
				`p.toml:7: alarms.frozen_after: want a string, got integer 10`,
				`p.toml:8: alarms.frozen_noise: invalid level "loud" (want dB below full scale, e.g. "-60dB")`,
				`p.toml:9: alarms.silent_after: 2h0m0s is too long: at most 1h0m0s`,
				`p.toml:10: alarms.silent_level: 6dB is outside -120dB..0dB (e.g. "-60dB")`,
			},
		},
		{name: "threshold not a number", src: testsrc + "[alarms]\nblack_threshold = \"10%\"\n", errs: []string{`p.toml:4: alarms.black_threshold: want a number, got string "10%"`}},
		{
			name: "copied streams", src: "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[video]\nencoder = \"copy\"\n[audio]\nencoder = \"copy\"\n[alarms]\n", want: def,
			warns: []string{
				`p.toml:8: alarms: video is copied (encoder "copy"), not decoded: it has no black or frozen alarm`,
				`p.toml:8: alarms: audio is copied (encoder "copy"), not decoded: it has no silent alarm`,
			},
		},
		// no table: the defaults stand, and a copied stream has none without a word
		{name: "copied, no table", src: "[source]\nkind = \"rtsp\"\nurl = \"rtsp://cam/x\"\n[video]\nencoder = \"copy\"\n", want: def},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := decodeChannel(profile, "p", []byte(tc.src+head), &Config{Path: "main.toml", Defaults: builtinDefaults()})
			strs := func(es Errors) []string {
				var out []string
				for _, e := range es {
					out = append(out, strings.Replace(e.Error(), profile, "p.toml", 1))
				}
				return out
			}
			if errs := strs(res.errs); !slices.Equal(errs, tc.errs) {
				t.Errorf("errors\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(tc.errs, "\n"))
			}
			if warns := strs(res.warnings); !slices.Equal(warns, tc.warns) {
				t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warns, "\n"), strings.Join(tc.warns, "\n"))
			}
			if tc.errs == nil && res.channel.Alarms != tc.want {
				t.Errorf("alarms %+v, want %+v", res.channel.Alarms, tc.want)
			}
		})
	}
}

// TestDiffAlarms checks that a change of the alarms restarts the channel's ffmpeg, whose
// encoding graph runs them, and that the reload's log line says what changed.
func TestDiffAlarms(t *testing.T) {
	a := Channel{Name: "lobby", Source: Source{Kind: "testsrc"}, Alarms: DefaultAlarms()}
	b := a
	b.Alarms.BlackAfter = Duration(2 * time.Second)
	off := a
	off.Alarms = Alarms{Off: true}
	for _, tc := range []struct {
		was, is Channel
		want    []string
	}{
		{a, b, []string{`alarms.black_after "5s" → "2s"`}},
		{a, off, []string{"alarms off"}},
		{off, a, []string{"alarms on"}},
	} {
		c := Diff([]Channel{tc.was}, []Channel{tc.is})
		if len(c.Restart) != 1 {
			t.Errorf("%q: %+v, want a restart", tc.want, c)
		}
		if got := Changed(tc.was, tc.is); !slices.Equal(got, tc.want) {
			t.Errorf("Changed: %q, want %q", got, tc.want)
		}
	}
}
