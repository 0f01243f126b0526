package profiles

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/liveinject/liveinject/internal/fftest"
)

// waitTimeout bounds every wait for an update.
const waitTimeout = 10 * time.Second

// watchTest is a config file and its profile directory in a temporary directory, and a Watcher
// of them whose updates are collected.
type watchTest struct {
	t       *testing.T
	dir     string // the temporary directory
	config  string // the main config file
	w       *Watcher
	updates chan Update
	logs    fftest.Buffer // the Watcher's log, at debug level
}

// newWatchTest writes files under a temporary directory; the main config file is config,
// relative to it, or "liveinject.toml".
func newWatchTest(t *testing.T, config string, files map[string]string) *watchTest {
	t.Helper()
	if config == "" {
		config = "liveinject.toml"
	}
	dir := t.TempDir()
	writeFiles(t, dir, files)
	return &watchTest{t: t, dir: dir, config: filepath.Join(dir, config), updates: make(chan Update, 1000)}
}

// start loads the config and runs a Watcher of it until the test ends. setup, if any, adjusts
// the Watcher before it runs. It returns once the Watcher has made its first reload, so that
// the test's changes do not race with it.
func (wt *watchTest) start(setup ...func(*Watcher)) {
	wt.t.Helper()
	cfg, err := Load(wt.config)
	if err != nil {
		wt.t.Fatal(err)
	}
	wt.w = NewWatcher(wt.config, cfg)
	wt.w.Debounce = 50 * time.Millisecond
	log := io.MultiWriter(testWriter{wt.t}, &wt.logs)
	wt.w.Logger = slog.New(slog.NewTextHandler(log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	for _, f := range setup {
		f(wt.w)
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wt.w.Run(ctx, func(u Update) { wt.updates <- u }) }()
	wt.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			wt.t.Errorf("Run: %v", err)
		}
	})
	fftest.WaitFor(wt.t, waitTimeout, "the first reload", func() bool { return wt.reloads() >= 1 })
}

// reload asks the Watcher for a reload and waits until one more reload is done.
func (wt *watchTest) reload() {
	wt.t.Helper()
	n := wt.reloads()
	wt.w.Reload()
	fftest.WaitFor(wt.t, waitTimeout, "a reload", func() bool { return wt.reloads() > n })
}

// reloads counts the reloads the Watcher has logged.
func (wt *watchTest) reloads() int { return strings.Count(wt.logs.String(), "msg=reloaded") }

// next returns the next update, failing the test, which waited for what, when none comes.
func (wt *watchTest) next(what string) Update {
	wt.t.Helper()
	select {
	case u := <-wt.updates:
		wt.t.Logf("update: %s %q", versions(u), errorStrings(u.Errors))
		return u
	case <-time.After(waitTimeout):
		wt.t.Fatalf("no update with %s", what)
		return Update{}
	}
}

// wantNext checks that the next update has the channels at the versions want (as versions
// writes them) and no errors, and returns it.
func (wt *watchTest) wantNext(want string) Update {
	wt.t.Helper()
	u := wt.next("channels " + want)
	if versions(u) != want || u.Errors != nil {
		wt.t.Errorf("update = %s %q, want %s without errors", versions(u), errorStrings(u.Errors), want)
	}
	return u
}

// waitErrors returns the first update whose channels are at the versions wantVersions and
// whose errors are want (paths relative to the temporary directory), skipping those on the way.
func (wt *watchTest) waitErrors(wantVersions string, want ...string) Update {
	wt.t.Helper()
	for i := range want {
		want[i] = filepath.Join(wt.dir, want[i])
	}
	what := fmt.Sprintf("channels %s and errors %q", wantVersions, want)
	for {
		u := wt.next(what)
		if versions(u) == wantVersions && slices.Equal(errorStrings(u.Errors), want) {
			return u
		}
	}
}

// write replaces the files, relative to the temporary directory, each by renaming a new file
// over it, so that no reload sees one half written.
func (wt *watchTest) write(files map[string]string) {
	wt.t.Helper()
	for name, content := range files {
		path := wt.path(name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			wt.t.Fatal(err)
		}
		saveByRename(wt.t, filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp"), path, content)
	}
}

// saveByRename writes content to tmp and renames tmp over file, as editors and sed -i save.
func saveByRename(t *testing.T, tmp, file, content string) {
	t.Helper()
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, file); err != nil {
		t.Fatal(err)
	}
}

// path returns name, relative to the temporary directory, as a path.
func (wt *watchTest) path(name string) string { return filepath.Join(wt.dir, name) }

// profileV returns a valid profile whose version v shows in its destination URL.
func profileV(v int) string {
	return profileTo(fmt.Sprintf("rtsp://h.example/%d/{channel}.sdp", v))
}

// versions renders the channels of u as "a=1 b=2", from the URLs profileV makes.
func versions(u Update) string {
	var s []string
	for _, ch := range u.Config.Channels {
		s = append(s, ch.Name+"="+strings.Split(ch.Destinations[0].URL, "/")[3])
	}
	return strings.Join(s, " ")
}

// testWriter sends log lines to the test's log, so they show with the failing test only.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

func TestWatchSaveStyles(t *testing.T) {
	mustDo := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	byRename := func(tmp string) func(*testing.T, string, string) {
		return func(t *testing.T, file, content string) {
			saveByRename(t, filepath.Join(filepath.Dir(file), tmp), file, content)
		}
	}
	for _, tt := range []struct {
		name string
		save func(t *testing.T, file, content string)
	}{
		{"write in place", func(t *testing.T, file, content string) {
			mustDo(t, os.WriteFile(file, []byte(content), 0o644))
		}},
		{"truncate then write in two parts", func(t *testing.T, file, content string) {
			f, err := os.OpenFile(file, os.O_RDWR, 0)
			mustDo(t, err)
			defer f.Close()
			mustDo(t, f.Truncate(0))
			_, err = f.WriteString(content[:10])
			mustDo(t, err)
			_, err = f.WriteString(content[10:])
			mustDo(t, err)
		}},
		{"rename from a.toml.tmp (sed -i)", byRename("a.toml.tmp")},
		{"rename from .a.toml.swp", byRename(".a.toml.swp")},
		{"vim with backup", func(t *testing.T, file, content string) {
			// vim probes the directory with "4913", moves the file to its backup, writes
			// anew, then removes the backup.
			probe := filepath.Join(filepath.Dir(file), "4913")
			mustDo(t, os.WriteFile(probe, nil, 0o644))
			mustDo(t, os.Remove(probe))
			mustDo(t, os.Rename(file, file+"~"))
			mustDo(t, os.WriteFile(file, []byte(content), 0o644))
			mustDo(t, os.Remove(file+"~"))
		}},
		{"delete then create", func(t *testing.T, file, content string) {
			mustDo(t, os.Remove(file))
			mustDo(t, os.WriteFile(file, []byte(content), 0o644))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wt := newWatchTest(t, "", map[string]string{
				"liveinject.toml": "",
				"profiles/a.toml": profileV(1),
				"profiles/b.toml": profileV(1),
			})
			wt.start()
			a := wt.path("profiles/a.toml")
			tt.save(t, a, profileV(2))
			wt.waitErrors("a=2 b=1")
			// Twice: the watch outlives the file it replaced.
			tt.save(t, a, profileV(3))
			wt.waitErrors("a=3 b=1")
		})
	}
}

func TestWatchIgnoresOtherFiles(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
	})
	wt.start()
	wt.write(map[string]string{
		"profiles/a.toml~":       "not toml",
		"profiles/.a.toml.swp":   "not toml",
		"profiles/4913":          "",
		"profiles/README":        "not toml",
		"profiles/a.toml.bak":    "not toml",
		"profiles/sub/deep.toml": "not toml",
		"notes.txt":              "not toml",
	})
	// None of those changes the config, so the first update is this one's.
	wt.write(map[string]string{"profiles/b.toml": profileV(1)})
	wt.wantNext("a=1 b=1")
}

// TestWatchLogFileBeside writes a file beside the config without pause, as a log redirected
// there does: an edit of a profile still applies. (Every event used to restart the debounce,
// so the edit waited for the log to stop; and at debug level each event's log line was the
// next event.)
func TestWatchLogFileBeside(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
	})
	wt.start()
	log, err := os.Create(wt.path("liveinject.log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { log.Close() }) // after the writes end
	keepWriting(t, func() error {
		_, err := fmt.Fprintln(log, "level=DEBUG msg=\"file event\"")
		return err
	})
	wt.write(map[string]string{"profiles/a.toml": profileV(2)})
	wt.wantNext("a=2")
}

// TestWatchTomlWrittenWithoutPause rewrites a .toml file beside the config without pause, as a
// tool stuck in a loop does: the events never leave the debounce a quiet moment, and an edit of a
// profile waited for as long as the loop ran. It applies within ten debounces now.
func TestWatchTomlWrittenWithoutPause(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
	})
	wt.start()
	keepWriting(t, func() error { return os.WriteFile(wt.path("other.toml"), []byte("# generated\n"), 0o644) })
	wt.write(map[string]string{"profiles/a.toml": profileV(2)})
	wt.wantNext("a=2")
}

// keepWriting calls write every 5 ms, ten times in a debounce, until the test ends.
func keepWriting(t *testing.T, write func() error) {
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if err := write(); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
	})
}

func TestWatchPerFile(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
		"profiles/b.toml": profileV(1),
	})
	wt.start()

	wt.write(map[string]string{
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\nkin = \"v4l2\"\n[[destination]]\nurl = \"rtsp://h.example/2/a.sdp\"\n",
		"profiles/b.toml": profileV(2),
		"profiles/c.toml": "[source]\nkind = \"testsrc\"\n",
	})
	// a stays at its last good version, b changes, c never loaded and is left out.
	u := wt.waitErrors("a=1 b=2",
		`profiles/a.toml:3: unknown key "source.kin" (did you mean "kind"?)`,
		`profiles/c.toml: no [[destination]]: a channel needs at least one`)
	if got, want := u.Config.Channels[0].File, wt.path("profiles/a.toml"); got != want {
		t.Errorf("File = %q, want %q", got, want)
	}

	if err := os.Remove(wt.path("profiles/b.toml")); err != nil {
		t.Fatal(err)
	}
	wt.waitErrors("a=1",
		`profiles/a.toml:3: unknown key "source.kin" (did you mean "kind"?)`,
		`profiles/c.toml: no [[destination]]: a channel needs at least one`)

	wt.write(map[string]string{"profiles/a.toml": profileV(3)})
	wt.waitErrors("a=3", `profiles/c.toml: no [[destination]]: a channel needs at least one`)

	wt.write(map[string]string{"profiles/c.toml": profileV(1)})
	wt.waitErrors("a=3 c=1")
}

func TestWatchConfigMap(t *testing.T) {
	// A ConfigMap volume: NAME.toml -> ..data/NAME.toml, ..data -> ..TIMESTAMP. The kubelet
	// writes a new ..TIMESTAMP directory, points ..data_tmp at it, renames ..data_tmp over
	// ..data, links new keys, and removes the old directory: NAME.toml itself never changes.
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/..2026_11_25_10_00_00.000000001/a.toml": profileV(1),
		"profiles/..2026_11_25_10_00_00.000000001/b.toml": profileV(1),
	})
	p := wt.path("profiles")
	symlink := func(target, name string) {
		t.Helper()
		if err := os.Symlink(target, filepath.Join(p, name)); err != nil {
			t.Fatal(err)
		}
	}
	symlink("..2026_11_25_10_00_00.000000001", "..data")
	symlink("..data/a.toml", "a.toml")
	symlink("..data/b.toml", "b.toml")
	wt.start()

	old := "..2026_11_25_10_00_00.000000001"
	swap := func(ts string, files map[string]string) {
		t.Helper()
		for name, content := range files {
			wt.write(map[string]string{filepath.Join("profiles", ts, name): content})
		}
		symlink(ts, "..data_tmp")
		if err := os.Rename(filepath.Join(p, "..data_tmp"), filepath.Join(p, "..data")); err != nil {
			t.Fatal(err)
		}
		for name := range files {
			if _, err := os.Lstat(filepath.Join(p, name)); err != nil {
				symlink("..data/"+name, name)
			}
		}
		if err := os.RemoveAll(filepath.Join(p, old)); err != nil {
			t.Fatal(err)
		}
		old = ts
	}
	swap("..2026_11_25_10_05_00.000000002", map[string]string{"a.toml": profileV(2), "b.toml": profileV(1)})
	wt.waitErrors("a=2 b=1")
	swap("..2026_11_25_10_10_00.000000003", map[string]string{
		"a.toml": profileV(2), "b.toml": profileV(2), "c.toml": profileV(1),
	})
	wt.waitErrors("a=2 b=2 c=1")
}

func TestWatchProfileDirRecreated(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
		"profiles/b.toml": profileV(1),
	})
	wt.start()

	// Moved away, then removed. (rm -rf removes the files first: a reload in the middle of it,
	// which the debounce makes unlikely, would rightly drop the channels already gone.)
	if err := os.Rename(wt.path("profiles"), wt.path("old")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(wt.path("old")); err != nil {
		t.Fatal(err)
	}
	// The last good channels stay while the directory is away.
	wt.waitErrors("a=1 b=1", "profiles: no such file or directory")

	wt.write(map[string]string{"profiles/b.toml": profileV(2)})
	wt.waitErrors("b=2")
	// The new directory is watched.
	wt.write(map[string]string{"profiles/c.toml": profileV(1)})
	wt.waitErrors("b=2 c=1")
}

func TestWatchMainConfig(t *testing.T) {
	wt := newWatchTest(t, "etc/liveinject.toml", map[string]string{
		"etc/liveinject.toml":  "",
		"etc/profiles/a.toml":  profileV(1),
		"etc/channels/c.toml":  profileV(1),
		"etc/liveinject.toml~": "a backup",
	})
	wt.start()
	save := func(content string) {
		t.Helper()
		saveByRename(t, wt.config+".tmp", wt.config, content)
	}

	save("ffmpeg = \"/opt/ffmpeg\"\n")
	if u := wt.wantNext("a=1"); u.Config.FFmpeg != "/opt/ffmpeg" {
		t.Errorf("FFmpeg = %q, want /opt/ffmpeg", u.Config.FFmpeg)
	}

	// A config with mistakes keeps the whole last good config.
	save("ffmpeg = \"/usr/bin/ffmpeg\"\nprofile = \"channels\"\n")
	u := wt.waitErrors("a=1", `etc/liveinject.toml:2: unknown key "profile" (did you mean "profiles"?)`)
	if u.Config.FFmpeg != "/opt/ffmpeg" {
		t.Errorf("FFmpeg = %q, want the last good /opt/ffmpeg", u.Config.FFmpeg)
	}
	if err := os.Remove(wt.config); err != nil {
		t.Fatal(err)
	}
	wt.waitErrors("a=1", "etc/liveinject.toml: no such file or directory")

	// A good config brings its profiles along, and its profile directory is watched.
	save("profiles = \"channels\"\n")
	u = wt.waitErrors("c=1")
	if u.Config.FFmpeg != "ffmpeg" {
		t.Errorf("FFmpeg = %q, want the default", u.Config.FFmpeg)
	}
	wt.write(map[string]string{"etc/channels/d.toml": profileV(1)})
	wt.waitErrors("c=1 d=1")
	// The old directory is not: the next update is the new directory's.
	wt.write(map[string]string{"etc/profiles/a.toml": profileV(2)})
	wt.write(map[string]string{"etc/channels/d.toml": profileV(2)})
	wt.wantNext("c=1 d=2")
}

func TestWatchReload(t *testing.T) {
	// a.toml links to a file outside the watched directories: fsnotify does not see it change.
	wt := newWatchTest(t, "etc/liveinject.toml", map[string]string{
		"etc/liveinject.toml": "",
		"etc/profiles/README": "",
		"elsewhere/a.toml":    profileV(1),
	})
	if err := os.Symlink(wt.path("elsewhere/a.toml"), wt.path("etc/profiles/a.toml")); err != nil {
		t.Fatal(err)
	}
	wt.start(func(w *Watcher) {
		// Not running yet: the requests merge, and none blocks.
		for range 3 {
			w.Reload()
		}
	})
	fftest.WaitFor(t, waitTimeout, "the requested reload", func() bool { return wt.reloads() >= 2 })

	wt.write(map[string]string{"elsewhere/a.toml": profileV(2)})
	wt.reload()
	wt.wantNext("a=2")

	// What apply is given is its own: changing it does not make the next reload differ.
	wt.write(map[string]string{"etc/profiles/b.toml": profileV(1)})
	u := wt.waitErrors("a=2 b=1")
	u.Config.Channels[0].Destinations[0].URL = "rtsp://changed/"
	u.Config.Channels = u.Config.Channels[:1]
	wt.reload()
	wt.write(map[string]string{"elsewhere/a.toml": profileV(3)})
	wt.reload()
	wt.wantNext("a=3 b=1")
}

func TestWatchDebounce(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(0),
	})
	wt.start()
	const edits = 100
	for i := 1; i <= edits; i++ {
		// In place, the hardest way: a reload may find the file empty or half written.
		if err := os.WriteFile(wt.path("profiles/a.toml"), []byte(profileV(i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	last := fmt.Sprintf("a=%d", edits)
	applied := 0
	for done := false; !done; {
		u := wt.next("the last edit")
		applied++
		done = versions(u) == last && u.Errors == nil
	}
	// Both count the first reload, done before the edits.
	reloads := wt.reloads()
	t.Logf("%d edits, %d reloads, %d updates", edits, reloads, applied)
	if applied >= 10 || reloads >= 10 {
		t.Errorf("%d edits made %d reloads and %d updates, want far fewer", edits, reloads, applied)
	}
}

func TestWatchLogsErrorsOnce(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
		"profiles/b.toml": profileV(1),
	})
	wt.start()

	wt.write(map[string]string{"profiles/a.toml": "[source]\nkind = \"testsrc\"\n"})
	wt.waitErrors("a=1 b=1", "profiles/a.toml: no [[destination]]: a channel needs at least one")
	// The same mistake, with other changes: not logged again.
	wt.write(map[string]string{"profiles/b.toml": profileV(2)})
	wt.waitErrors("a=1 b=2", "profiles/a.toml: no [[destination]]: a channel needs at least one")
	wt.reload()
	wt.write(map[string]string{"profiles/a.toml": profileV(2)})
	wt.waitErrors("a=2 b=2")

	out := wt.logs.String()
	if n := strings.Count(out, "level=WARN"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, out)
	}
	if want := "file=" + wt.path("profiles/a.toml"); !strings.Contains(out, want) {
		t.Errorf("log lacks %s:\n%s", want, out)
	}
	if !strings.Contains(out, "config errors fixed") {
		t.Errorf("log lacks the fix:\n%s", out)
	}
}

func TestWatchCannotWatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing", "liveinject.toml")
	w := NewWatcher(path, &Config{Path: path, Profiles: "profiles"})
	err := w.Run(t.Context(), func(Update) { t.Error("apply called") })
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Run = %v, want an error naming %s", err, path)
	}
}

// TestWatchNamesAndStreamsStayWithTheirFiles makes the edits that once stopped the wrong
// channel: a file that takes another's name, and a copied profile pushing the same stream. The
// edited file is refused at its own line, naming the other, and the running channels stay.
func TestWatchNamesAndStreamsStayWithTheirFiles(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
		"profiles/b.toml": profileV(1),
	})
	wt.start()

	// a.toml sorts first, and takes b's name
	wt.write(map[string]string{"profiles/a.toml": "name = \"b\"\n" + profileV(2)})
	wt.waitErrors("a=1 b=1", `profiles/a.toml:1: channel name "b" is taken by `+wt.path("profiles/b.toml"))

	// a copy of b: the same stream, under another name (and a URL written in other case)
	wt.write(map[string]string{
		"profiles/a.toml":  profileV(1),
		"profiles/b2.toml": profileTo("RTSP://H.EXAMPLE/1/b.sdp"),
	})
	want := wt.path("profiles/b2.toml") + `:4: destination.url: RTSP://H.EXAMPLE/1/b.sdp is pushed by ` +
		wt.path("profiles/b.toml") + ` too: two pushes of one stream replace each other at the server`
	for {
		// (waitErrors would clean the URL's "//" as a path)
		if u := wt.next("b2.toml refused"); versions(u) == "a=1 b=1" && slices.Equal(errorStrings(u.Errors), []string{want}) {
			break
		}
	}

	// b moves to another stream: the copy may have the old one now, once it is saved again
	wt.write(map[string]string{"profiles/b.toml": profileV(3)})
	wt.waitErrors("a=1 b=3 b2=1")
}

// TestLoadRefusesOneStreamTwice is the copied profile at startup: check and run refuse it,
// naming both files.
func TestLoadRefusesOneStreamTwice(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":         "",
		"profiles/test.toml":      profileTo("rtsp://dss.example/test.sdp"),
		"profiles/test2.toml":     profileTo("rtsp://user:pw@dss.example/test.sdp"),
		"profiles/unrelated.toml": profileTo("rtsp://dss.example/other.sdp"),
	})
	_, err := Load(filepath.Join(dir, "liveinject.toml"))
	want := []string{filepath.Join(dir, "profiles/test2.toml") + ":4: destination.url: rtsp://user:xxxxx@dss.example/test.sdp is pushed by " +
		filepath.Join(dir, "profiles/test.toml") + " too: two pushes of one stream replace each other at the server"}
	if errs, ok := err.(Errors); !ok || !slices.Equal(errorStrings(errs), want) {
		t.Errorf("Load: %v, want %q", err, want)
	}
}

// TestWatchPollsWhenFSNotifyFails has fsnotify fail as it does when the inotify limits are
// reached: the Watcher says so, reads the files on a timer, and edits still apply, as does Reload.
func TestWatchPollsWhenFSNotifyFails(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
	})
	wt.start(func(w *Watcher) {
		w.PollInterval = 100 * time.Millisecond
		w.newFSWatcher = func() (*fsnotify.Watcher, error) { return nil, syscall.EMFILE }
	})
	if got := wt.w.Polling(); got != "too many open files" {
		t.Errorf("Polling() = %q", got)
	}
	if !strings.Contains(wt.logs.String(), `msg="cannot watch the config files: reading them on a timer instead" error="too many open files" every=100ms`) {
		t.Errorf("not logged:\n%s", wt.logs.String())
	}
	wt.write(map[string]string{"profiles/a.toml": profileV(2), "profiles/b.toml": profileV(1)})
	wt.waitErrors("a=2 b=1")
	if err := os.Remove(wt.path("profiles/b.toml")); err != nil {
		t.Fatal(err)
	}
	wt.waitErrors("a=2")
}

// TestWatchBrokenFileTakesNoName is a new profile with a mistake that asks for a running
// channel's name: it once reserved the name before the running file could keep it, so the next
// edit of that file stopped its channel ("channel name "a" is taken by c.toml").
func TestWatchBrokenFileTakesNoName(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileV(1),
		"profiles/b.toml": profileV(1),
	})
	wt.start()

	broken := "name = \"a\"\n" + profileTo("rtsp://h.example/c/{channel}.sdp") + "transport = \"tcpx\"\n"
	brokenErr := `profiles/c.toml:6: destination.transport: unknown transport "tcpx" (known: tcp, udp, auto)`
	wt.write(map[string]string{"profiles/c.toml": broken})
	wt.waitErrors("a=1 b=1", brokenErr)
	wt.write(map[string]string{"profiles/a.toml": profileV(2)})
	wt.waitErrors("a=2 b=1", brokenErr)

	// One sorting before a.toml, while a.toml has a mistake of its own: a keeps running.
	wt.write(map[string]string{
		"profiles/0.toml": broken,
		"profiles/a.toml": "[source]\nkind = \"testsrc\"\n",
	})
	wt.waitErrors("a=2 b=1",
		`profiles/0.toml:6: destination.transport: unknown transport "tcpx" (known: tcp, udp, auto)`,
		"profiles/a.toml: no [[destination]]: a channel needs at least one",
		brokenErr)
}

// TestWatchUnreadableProfileKeepsChannel breaks profiles in the ways a file system can: the
// target of a symlink vanishes (a broken ConfigMap), a directory, a FIFO and a link to /dev/zero
// take a profile's name. The running channel keeps its last good version, as for a mistake in
// the file, instead of stopping with no word but an INFO line; the others are errors of their
// files, and none blocks the watcher.
func TestWatchUnreadableProfileKeepsChannel(t *testing.T) {
	wt := newWatchTest(t, "", map[string]string{
		"liveinject.toml":  "",
		"elsewhere/a.toml": profileV(1),
		"profiles/b.toml":  profileV(1),
	})
	if err := os.Symlink("../elsewhere/a.toml", wt.path("profiles/a.toml")); err != nil {
		t.Fatal(err)
	}
	wt.start()

	// Outside the watched directories: a reload, as SIGHUP makes, sees it.
	if err := os.Remove(wt.path("elsewhere/a.toml")); err != nil {
		t.Fatal(err)
	}
	wt.reload()
	gone := "profiles/a.toml: a symlink to ../elsewhere/a.toml, which does not exist"
	wt.waitErrors("a=1 b=1", gone)

	if err := errors.Join(
		os.Mkdir(wt.path("profiles/c.toml"), 0o755),
		syscall.Mkfifo(wt.path("profiles/d.toml"), 0o644),
		os.Symlink("/dev/zero", wt.path("profiles/e.toml")),
	); err != nil {
		t.Fatal(err)
	}
	notFiles := []string{
		"profiles/c.toml: a directory, not a regular file",
		"profiles/d.toml: a named pipe (FIFO), not a regular file",
		"profiles/e.toml: a device, not a regular file",
	}
	wt.waitErrors("a=1 b=1", append([]string{gone}, notFiles...)...)

	wt.write(map[string]string{"elsewhere/a.toml": profileV(2)})
	wt.reload()
	wt.waitErrors("a=2 b=1", notFiles...)
}
