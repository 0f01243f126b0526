package profiles

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// loadErrors loads the config at dir/liveinject.toml and returns its mistakes as strings with
// dir cut off.
func loadErrors(t *testing.T, dir string) []string {
	t.Helper()
	_, err := Load(filepath.Join(dir, "liveinject.toml"))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("Load: %v, want Errors", err)
	}
	var out []string
	for _, e := range errs {
		out = append(out, strings.TrimPrefix(e.Error(), dir+"/"))
	}
	return out
}

// TestDefaultsAreTemplates checks that a rack's main config gives every profile its encoder
// settings and destinations, which a profile overrides key by key and list by list.
func TestDefaultsAreTemplates(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIVEINJECT_TEST_DSS2", "pw2")
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": `
[defaults.video]
bitrate = "4M"
size = "1920x1080"
[defaults.audio]
channels = 1
[[defaults.destination]]
url = "rtsp://dss1.example/{channel}.sdp"
user = "broadcaster"
password_file = "dss1.password"
[[defaults.destination]]
url = "rtsp://dss2.example/{channel}.sdp"
user = "broadcaster"
password_env = "LIVEINJECT_TEST_DSS2"
session_name = "Rack 2"
`,
		"dss1.password": "pw1\n",
		"profiles/cam1.toml": `[source]
kind = "testsrc"
`,
		"profiles/cam2.toml": `name = "hall"
[source]
kind = "testsrc"
[video]
bitrate = "6M"
[[destination]]
url = "rtsp://{channel}.example/{channel}.sdp"
`,
		"profiles/cam3.toml": `enabled = false
[source]
kind = "testsrc"
`,
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if names := channelNames(cfg); !slices.Equal(names, []string{"cam1", "hall"}) {
		t.Fatalf("channels %v, want cam1 and hall", names)
	}
	if !slices.Equal(cfg.Disabled, []string{"cam3"}) {
		t.Errorf("disabled %v, want cam3", cfg.Disabled)
	}
	cam1, hall := cfg.Channels[0], cfg.Channels[1]
	wantDests := []Destination{
		{URL: "rtsp://dss1.example/cam1.sdp", Transport: "tcp", User: "broadcaster", Password: "pw1",
			PasswordFile: "dss1.password", Verify: true},
		{URL: "rtsp://dss2.example/cam1.sdp", Transport: "tcp", User: "broadcaster", Password: "pw2",
			PasswordEnv: "LIVEINJECT_TEST_DSS2", SessionName: "Rack 2", Verify: true},
	}
	if !reflect.DeepEqual(cam1.Destinations, wantDests) {
		t.Errorf("cam1 destinations\n%+v\nwant\n%+v", cam1.Destinations, wantDests)
	}
	if cam1.Video.Bitrate != 4_000_000 || cam1.Video.Size != (Size{1920, 1080}) || cam1.Video.FPS != 25 ||
		cam1.Audio.Channels != 1 || cam1.Audio.SampleRate != 48000 {
		t.Errorf("cam1 does not have the defaults over the built-in ones: %+v %+v", cam1.Video, cam1.Audio)
	}
	if hall.Video.Bitrate != 6_000_000 || hall.Video.Size != (Size{1920, 1080}) {
		t.Errorf("hall's video %+v, want its own bitrate over the default size", hall.Video)
	}
	if want := []Destination{{URL: "rtsp://hall.example/hall.sdp", Transport: "tcp", Verify: true}}; !reflect.DeepEqual(hall.Destinations, want) {
		t.Errorf("hall destinations %+v, want only its own, with {channel} its name", hall.Destinations)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings %v", cfg.Warnings)
	}
}

func TestPasswordsAndNames(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIVEINJECT_TEST_EMPTY", "")
	dest := func(keys string) string {
		return "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/{channel}.sdp\"\n" + keys
	}
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":  "",
		"secret":           "\n",
		"profiles/a.toml":  dest("user = \"u\"\npassword_file = \"../nonexistent\"\n"),
		"profiles/b.toml":  dest("user = \"u\"\npassword_env = \"LIVEINJECT_TEST_EMPTY\"\n"),
		"profiles/c.toml":  dest("user = \"u\"\npassword = \"x\"\npassword_env = \"HOME\"\n"),
		"profiles/d.toml":  dest("password = \"x\"\n"),
		"profiles/e.toml":  dest("user = \"u\"\npassword_file = \"../secret\"\n"),
		"profiles/f.toml":  "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://me:pw@dss.example/f.sdp\"\nuser = \"u\"\n",
		"profiles/g.toml":  dest("[[destination]]\nurl = \"rtsp://other:pw@dss.example/g.sdp\"\n"),
		"profiles/aa.toml": profileTo("rtsp://dss.example/elsewhere.sdp"),
		"profiles/h.toml":  "name = \"aa\"\n" + dest(""),
		"profiles/i.toml":  "name = \"bad name\"\n" + dest(""),
		"two-lines":        "pw\nX-Evil: 1\n",
		"profiles/j.toml":  dest("user = \"u\"\npassword_file = \"../two-lines\"\n"),
		"profiles/k.toml":  dest("user = \"u\"\npassword_env = \"LIVEINJECT_TEST_CR\"\n"),
	})
	t.Setenv("LIVEINJECT_TEST_CR", "pw\r")
	got := loadErrors(t, dir)
	want := []string{
		"profiles/a.toml:6: destination.password_file: cannot read " + filepath.Join(dir, "nonexistent") + ": no such file or directory",
		"profiles/b.toml:6: destination.password_env: environment variable LIVEINJECT_TEST_EMPTY is not set",
		"profiles/c.toml:7: destination.password_env: password given more than once: use one of password_file, password_env, password, or the URL",
		"profiles/d.toml:5: destination.password: a password needs a user: set user",
		"profiles/e.toml:6: destination.password_file: " + filepath.Join(dir, "secret") + " is empty",
		"profiles/f.toml:5: destination.user: the URL has a user already: give it one way",
		"profiles/g.toml:6: destination.url: rtsp://other:xxxxx@dss.example/g.sdp is already a destination of this channel",
		"profiles/h.toml:1: channel name \"aa\" is taken by " + filepath.Join(dir, "profiles", "aa.toml"),
		"profiles/i.toml:1: name: \"bad name\" may hold only letters, digits, '-', '_' and '.'",
		"profiles/j.toml:6: destination.password_file: " + filepath.Join(dir, "two-lines") + ": the password holds a control character",
		"profiles/k.toml:6: destination.password_env: environment variable LIVEINJECT_TEST_CR: the password holds a control character",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestPasswordWarnings checks that passwords written into files work, with a warning that
// names the place, and that a warning is no error.
func TestPasswordWarnings(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/a.sdp\"\nuser = \"u\"\npassword = \"p\"\n",
		"profiles/b.toml": "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://u:p@dss.example/b.sdp\"\n",
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range cfg.Warnings {
		got = append(got, strings.TrimPrefix(w.Error(), dir+"/"))
	}
	want := []string{
		"profiles/a.toml:6: destination.password: password is readable by anyone who can read this file: use password_file or password_env",
		"profiles/b.toml:4: destination.url: password is readable by anyone who can read this file: use user with password_file or password_env",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if d := cfg.Channels[0].Destinations[0]; d.User != "u" || d.Password != "p" {
		t.Errorf("a's destination %+v, want user u with password p", d)
	}
}

// TestDefaultsErrors checks mistakes in [defaults], reported in the main config.
func TestDefaultsErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": `[defaults.video]
fps = 500
[defaults.vidoe]
[[defaults.destination]]
url = "http://dss.example/{channel}.sdp"
[[defaults.destination]]
url = "rtsp://dss.example/{chanel}.sdp"
`,
	})
	if err := os.Mkdir(filepath.Join(dir, "profiles"), 0o755); err != nil {
		t.Fatal(err)
	}
	got := loadErrors(t, dir)
	want := []string{
		"liveinject.toml:2: defaults.video.fps: 500 is out of range 1..120",
		"liveinject.toml:3: unknown key \"defaults.vidoe\" (did you mean \"video\"?)",
		"liveinject.toml:5: defaults.destination.url: http://dss.example/channel.sdp: scheme must be rtsp, rtsps, rtmp, rtmps or srt",
		"liveinject.toml:7: defaults.destination.url: unknown placeholder \"{chanel}\" in rtsp://dss.example/{chanel}.sdp (known: {channel}, {relay})",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestSessionText reads the SDP text keys of a destination, and refuses text that is too long or
// would break the SDP's lines.
func TestSessionText(t *testing.T) {
	head := "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://dss.example/x.sdp\"\n"
	src := head + "session_name = \"Lobby\"\nsession_info = \"Main entrance\"\nsession_author = \"Facilities\"\n" +
		"session_copyright = \"© 2026 Example\"\nsession_comment = \"north side\"\n"
	ch, errs := decodeTest("p.toml", "p", []byte(src), "")
	if len(errs) != 0 {
		t.Fatal(errs)
	}
	d := ch.Destinations[0]
	if got := []string{d.SessionName, d.SessionInfo, d.SessionAuthor, d.SessionCopyright, d.SessionComment}; !slices.Equal(got,
		[]string{"Lobby", "Main entrance", "Facilities", "© 2026 Example", "north side"}) {
		t.Errorf("read %q", got)
	}
	for _, tc := range []struct{ line, want string }{
		{"session_name = \"" + strings.Repeat("x", 300) + "\"", "p.toml:5: destination.session_name: 300 bytes: at most 256"},
		{"session_info = \"two\\r\\nlines\"", "p.toml:5: destination.session_info: control character U+000D at byte 3"},
		{"session_comment = \"tab\\there\"", "p.toml:5: destination.session_comment: control character U+0009 at byte 3"},
	} {
		_, errs := decodeTest("p.toml", "p", []byte(head+tc.line+"\n"), "")
		if got := errorStrings(errs); !slices.Equal(got, []string{tc.want}) {
			t.Errorf("%s: got %q, want %q", tc.line, got, tc.want)
		}
	}
}
