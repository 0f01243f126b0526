package profiles

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDestinationVerify checks the return check's keys: on by default, verify_url with
// "{channel}" and "{relay}" as in url, verify_every at least 10 s, and every mistake reported
// with its file and line.
func TestDestinationVerify(t *testing.T) {
	dir := t.TempDir()
	dest := func(url, keys string) string {
		return "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"" + url + "\"\n" + keys
	}
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "[relay]\nlisten = \"127.0.0.1:7554\"\n",
		"profiles/a.toml": dest("rtsp://dss.example/a.sdp", ""),
		"profiles/b.toml": dest("rtsp://dss.example/in/{channel}.sdp",
			"verify_url = \"rtsp://{relay}/out/{channel}.sdp\"\nverify_every = \"1m\"\n"),
		"profiles/c.toml": dest("rtsp://dss.example/c.sdp", "verify = false\n"),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Destination{}
	for _, ch := range cfg.Channels {
		got[ch.Name] = ch.Destinations[0]
	}
	for name, want := range map[string]struct {
		verify bool
		url    string
		every  time.Duration
	}{
		"a": {true, "", 0},
		"b": {true, "rtsp://{relay}/out/b.sdp", time.Minute},
		"c": {false, "", 0},
	} {
		d := got[name]
		if d.Verify != want.verify || d.VerifyURL != want.url || d.VerifyEvery.Std() != want.every {
			t.Errorf("%s: verify %v, verify_url %q, verify_every %v; want %v, %q, %v", name,
				d.Verify, d.VerifyURL, d.VerifyEvery, want.verify, want.url, want.every)
		}
	}

	writeFiles(t, dir, map[string]string{
		"profiles/a.toml": dest("rtsp://dss.example/a.sdp", "verify = \"yes\"\n"),
		"profiles/b.toml": dest("rtsp://dss.example/b.sdp", "verify_url = \"http://dss.example/b.sdp\"\n"),
		"profiles/c.toml": dest("rtsp://dss.example/c.sdp", "verify_every = \"5s\"\n"),
		"profiles/d.toml": dest("rtsp://dss.example/d.sdp", "verify_every = 60\n"),
		"profiles/e.toml": dest("rtsp://dss.example/e.sdp", "verify_url = \"rtsp://dss.example/{chanel}.sdp\"\n"),
		"profiles/f.toml": dest("rtsp://dss.example/f.sdp", "verify_url = \"rtsp://dss.example:99999/f.sdp\"\n"),
	})
	errs := loadErrors(t, dir)
	want := []string{
		"profiles/a.toml:5: destination.verify: want true or false, got string \"yes\"",
		"profiles/b.toml:5: destination.verify_url: http://dss.example/b.sdp: scheme must be rtsp or rtsps",
		"profiles/c.toml:5: destination.verify_every: 5s is too short: at least 10s",
		"profiles/d.toml:5: destination.verify_every: want a string, got integer 60",
		"profiles/e.toml:5: destination.verify_url: unknown placeholder \"{chanel}\" in rtsp://dss.example/{chanel}.sdp (known: {channel}, {relay})",
		"profiles/f.toml:5: destination.verify_url: rtsp://dss.example:99999/f.sdp: port 99999 is outside 1..65535",
	}
	if !slices.Equal(errs, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}

// TestDestinationVerifyWarnings checks that keys the check cannot use are pointed out, and a
// password written into verify_url too.
func TestDestinationVerifyWarnings(t *testing.T) {
	head := "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\n"
	for _, tc := range []struct{ keys, want string }{
		{"verify = false\nverify_url = \"rtsp://dss.example/y.sdp\"\n",
			"p.toml:6: destination.verify_url: has no effect: verify = false turns the return check off"},
		{"verify = false\nverify_every = \"1m\"\n",
			"p.toml:6: destination.verify_every: has no effect: verify = false turns the return check off"},
		{"verify_url = \"rtsp://viewer:pw@dss.example/y.sdp\"\n",
			"p.toml:5: destination.verify_url: password is readable by anyone who can read this file: leave it out, and the destination's credentials are used"},
	} {
		cfg := &Config{Path: "main.toml", Defaults: builtinDefaults()}
		res := decodeChannel("p.toml", "p", []byte(head+tc.keys), cfg)
		if len(res.errs) != 0 {
			t.Errorf("%q: errors %v", tc.keys, res.errs)
		}
		if got := errorStrings(res.warnings); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%q: warnings %q, want %q", tc.keys, got, tc.want)
		}
	}
}
