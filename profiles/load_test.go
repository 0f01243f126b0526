package profiles

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// writeFiles creates files under dir, making their directories as needed.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// profileTo returns a valid profile pushing to url.
func profileTo(url string) string {
	return "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"" + url + "\"\n"
}

func channelNames(cfg *Config) []string {
	var names []string
	for _, ch := range cfg.Channels {
		names = append(names, ch.Name)
	}
	return names
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":        "[relay]\nlisten = \"127.0.0.1:0\"\n",
		"profiles/lobby.toml":    profileTo("rtsp://dss.example/{channel}.sdp"),
		"profiles/a-b.toml":      profileTo("rtsp://{relay}/{channel}.sdp"),
		"profiles/a.toml":        profileTo("rtsp://dss.example/{channel}.sdp"),
		"profiles/.a.toml.swp":   "not toml",
		"profiles/a.toml~":       "not toml",
		"profiles/#a.toml#":      "not toml",
		"profiles/.toml":         "not toml",
		"profiles/README":        "not toml",
		"profiles/a.toml.bak":    "not toml",
		"profiles/sub/deep.toml": profileTo("rtsp://dss.example/{channel}.sdp"),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	// Sorted by name, not by file name ("a-b.toml" < "a.toml").
	if got, want := channelNames(cfg), []string{"a", "a-b", "lobby"}; !slices.Equal(got, want) {
		t.Fatalf("channels = %q, want %q", got, want)
	}
	lobby := cfg.Channels[2]
	if want := filepath.Join(dir, "profiles", "lobby.toml"); lobby.File != want {
		t.Errorf("File = %q, want %q", lobby.File, want)
	}
	if got, want := lobby.Destinations[0].URL, "rtsp://dss.example/lobby.sdp"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
	if got, want := cfg.Channels[1].Destinations[0].URL, "rtsp://{relay}/a-b.sdp"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
	if cfg.FFmpeg != "ffmpeg" || cfg.Profiles != "profiles" || cfg.Relay.Listen != "127.0.0.1:0" {
		t.Errorf("config = %+v", cfg)
	}
}

func TestLoadProfileDirRelativeToConfig(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"etc/liveinject.toml":     "profiles = \"../channels\"\n",
		"channels/lobby.toml":     profileTo("rtsp://dss.example/{channel}.sdp"),
		"abs/liveinject.toml":     "profiles = \"" + filepath.Join(dir, "channels") + "\"\n",
		"etc/profiles/wrong.toml": profileTo("rtsp://dss.example/{channel}.sdp"),
	})
	// Run from elsewhere: the directory must not depend on the working directory.
	t.Chdir(t.TempDir())
	for _, config := range []string{"etc/liveinject.toml", "abs/liveinject.toml"} {
		cfg, err := Load(filepath.Join(dir, config))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := channelNames(cfg), []string{"lobby"}; !slices.Equal(got, want) {
			t.Errorf("%s: channels = %q, want %q", config, got, want)
		}
		if got, want := cfg.ProfileDir(), filepath.Join(dir, "channels"); got != want {
			t.Errorf("%s: ProfileDir() = %q, want %q", config, got, want)
		}
	}
}

func TestLoadFollowsSymlinks(t *testing.T) {
	// A Kubernetes ConfigMap volume: NAME.toml -> ..data/NAME.toml, ..data -> ..2024_01_01.
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":                  "",
		"profiles/..2024_01_01/lobby.toml": profileTo("rtsp://dss.example/{channel}.sdp"),
	})
	p := filepath.Join(dir, "profiles")
	if err := os.Symlink("..2024_01_01", filepath.Join(p, "..data")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("..data/lobby.toml", filepath.Join(p, "lobby.toml")); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := channelNames(cfg), []string{"lobby"}; !slices.Equal(got, want) {
		t.Errorf("channels = %q, want %q", got, want)
	}
}

func TestLoadEmptyProfileDir(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"liveinject.toml": "", "profiles/README": "none yet"})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Channels) != 0 {
		t.Errorf("channels = %v, want none", cfg.Channels)
	}
}

func TestLoadMissing(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(filepath.Join(dir, "liveinject.toml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &Errors{}) {
		t.Errorf("missing config: %v", err)
	}

	writeFiles(t, dir, map[string]string{"liveinject.toml": "profiles = \"channels\"\n"})
	_, err = Load(filepath.Join(dir, "liveinject.toml"))
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &Errors{}) {
		t.Errorf("missing profile directory: %v", err)
	}
	if want := filepath.Join(dir, "channels"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func TestLoadReportsAllFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "ffmpeg = \"ffmpeg\"\nprofile = \"profiles\"\n",
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\n[video]\nfps = 0\n[[destination]]\nurl = \"rtsp://{relay}/a.sdp\"\n",
		"profiles/b.toml": "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"rtsp://h.example/b.sdp\"\ntransport = \"tcp\"\nurl = \"x\"\n",
		"profiles/c.toml": profileTo("rtsp://h.example/{channel}.sdp"),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if cfg != nil {
		t.Errorf("config = %+v, want nil with errors", cfg)
	}
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	p := filepath.Join(dir, "profiles")
	want := []string{
		filepath.Join(dir, "liveinject.toml") + `:2: unknown key "profile" (did you mean "profiles"?)`,
		filepath.Join(p, "a.toml") + `:4: video.fps: 0 is out of range 1..120`,
		filepath.Join(p, "a.toml") + `:6: destination.url: {relay} needs relay.listen in the main config`,
		filepath.Join(p, "b.toml") + `:6: Key 'destination.url' has already been defined.`,
	}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestLoadExample(t *testing.T) {
	cfg, err := Load("../examples/liveinject.toml")
	if err != nil {
		t.Fatal(err)
	}
	want := Relay{Listen: "127.0.0.1:7554", UDPRTPAddress: "127.0.0.1:7556", UDPRTCPAddress: "127.0.0.1:7557"}
	if cfg.FFmpeg != "ffmpeg" || cfg.Profiles != "profiles" || cfg.Relay != want {
		t.Errorf("config = %+v", cfg)
	}
	if len(cfg.Channels) != 1 {
		t.Fatalf("channels = %+v, want one", cfg.Channels)
	}
	ch := cfg.Channels[0]
	wantCh := Channel{
		Name:          "test",
		File:          filepath.Join("..", "examples", "profiles", "test.toml"),
		Hold:          Duration(time.Second),
		Source:        Source{Kind: "testsrc"},
		FailoverAfter: Duration(3 * time.Second), ReturnAfter: Duration(10 * time.Second), SlateAfter: Duration(10 * time.Second),
		Slate: Slate{Text: "Back soon"}, Alarms: DefaultAlarms(),
		Video: Video{
			Encoder: "libx264", Preset: "veryfast", Profile: "high", Bitrate: 2_500_000, GOP: Duration(2 * time.Second),
			Size: Size{Width: 1280, Height: 720}, FPS: 25,
		},
		Audio:        Audio{Encoder: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2},
		FFmpeg:       FFmpeg{StopGrace: Duration(3 * time.Second), StallTimeout: Duration(10 * time.Second)},
		Destinations: []Destination{{URL: "rtsp://{relay}/test.sdp", Transport: "tcp", Verify: true}},
	}
	if !reflect.DeepEqual(ch, wantCh) {
		t.Errorf("got  %+v\nwant %+v", ch, wantCh)
	}
}

// TestExamples loads every main config under examples/, so that they stay valid as the schema
// moves.
func TestExamples(t *testing.T) {
	configs, err := filepath.Glob("../examples/*.toml")
	if err != nil {
		t.Fatal(err)
	}
	more, err := filepath.Glob("../examples/*/liveinject.toml")
	if err != nil {
		t.Fatal(err)
	}
	configs = append(configs, more...)
	if len(configs) < 2 {
		t.Fatalf("found only %v", configs)
	}
	for _, c := range configs {
		cfg, err := Load(c)
		if err != nil {
			t.Errorf("%s: %v", c, err)
			continue
		}
		if len(cfg.Channels) == 0 || len(cfg.Warnings) != 0 {
			t.Errorf("%s: %d channels, warnings %v", c, len(cfg.Channels), cfg.Warnings)
		}
	}
}

// TestLoadRunnableBrokenFileTakesNoName is a profile with a mistake that asks for another's
// name at startup, when every file is new: the good file still gets its name and runs.
func TestLoadRunnableBrokenFileTakesNoName(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "",
		"profiles/0.toml": "name = \"a\"\n" + profileTo("rtsp://h.example/0/{channel}.sdp") + "transport = \"tcpx\"\n",
		"profiles/a.toml": profileTo("rtsp://h.example/{channel}.sdp"),
	})
	cfg, errs, err := LoadRunnable(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := channelNames(cfg), []string{"a"}; !slices.Equal(got, want) {
		t.Errorf("channels = %q, want %q", got, want)
	}
	want := []string{filepath.Join(dir, "profiles/0.toml") + `:6: destination.transport: unknown transport "tcpx" (known: tcp, udp, auto)`}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("errors = %q, want %q", got, want)
	}
}
