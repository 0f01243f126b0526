package profiles

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// deepMessage is how a file nested too deep is refused.
const deepMessage = "nested more than 32 levels deep (arrays, inline tables, dotted keys): no profile needs that"

// allocated returns the bytes f allocates.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDecodeRefusesDeepNesting feeds the decoder what overflowed the stack (30,000 nested arrays
// in 60 KB: a fatal error that stopped every channel) or made the key scanner's memory grow with
// the square of the depth: each is a mistake at its line, found in memory independent of the
// file's size.
func TestDecodeRefusesDeepNesting(t *testing.T) {
	head := "[source]\nkind = \"testsrc\"\n"
	for _, tt := range []struct {
		name, src string
	}{
		{"30,000 nested arrays", head + "a = " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n"},
		{"4 MB of nested arrays", head + "a = " + strings.Repeat("[", 2<<20) + strings.Repeat("]", 2<<20) + "\n"},
		{"nested arrays, unclosed", head + "a = " + strings.Repeat("[", 30_000) + "\n"},
		{"nested inline tables", head + "a = " + strings.Repeat("{b = ", 10_000) + "1" + strings.Repeat("}", 10_000) + "\n"},
		{"arrays of inline tables", head + "a = " + strings.Repeat("[{b = ", 10_000) + "1" + strings.Repeat("}]", 10_000) + "\n"},
		{"a dotted key of 100,000 parts", head + strings.Repeat("a.", 100_000) + "b = 1\n"},
		{"a table header of 100,000 parts", head + "[" + strings.Repeat("a.", 100_000) + "b]\n"},
		{"dotted keys in inline tables", head + "a = " + strings.Repeat("{b.c.d.e = ", 1000) + "1" + strings.Repeat("}", 1000) + "\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var errs Errors
			n := allocated(func() { _, errs = decodeTest("p.toml", "p", []byte(tt.src), "") })
			if got, want := errorStrings(errs), []string{"p.toml:3: " + deepMessage}; !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
			// The decoder's own copy of a 4 MB input aside, nothing grows with it.
			if n > 1<<20+uint64(len(tt.src)) {
				t.Errorf("%d bytes allocated for %d bytes of input", n, len(tt.src))
			}
		})
	}
	// And in the main config.
	_, errs := decodeConfig("c.toml", []byte("[log]\nlevel = "+strings.Repeat("[", 30_000)+"\n"))
	if got, want := errorStrings(errs), []string{"c.toml:2: " + deepMessage}; !slices.Equal(got, want) {
		t.Errorf("main config: got %q, want %q", got, want)
	}
}

// TestDecodeNestingWithinBounds checks that what is not nesting is not counted: brackets in
// strings and comments, floats, dates, and values nested as deep as a profile may.
func TestDecodeNestingWithinBounds(t *testing.T) {
	deep := strings.Repeat("[", 100)
	src := "# " + deep + "\n" + validProfile +
		"session_info = \"" + deep + "\\\" " + deep + "\"\n" +
		"session_comment = '" + deep + "'\n" +
		"[video]\nbitrate = \"2.5M\"\n" +
		"[ffmpeg]\n" +
		"extra_output_args = [\"-metadata\", \"\"\"a" + deep + "\n" + deep + "\"\"\"\"\", '''" + deep + "''', \"x\"] # " + deep + "\n"
	ch, errs := decodeTest("p.toml", "p", []byte(src), "")
	if len(errs) != 0 {
		t.Fatalf("errors %q", errorStrings(errs))
	}
	if got := ch.FFmpeg.ExtraOutputArgs; len(got) != 4 || got[2] != deep {
		t.Errorf("extra_output_args = %q", got)
	}
	// 20 levels: refused for what it is, not for its depth.
	_, errs = decodeTest("p.toml", "p", []byte(validProfile+"x = "+strings.Repeat("[", 20)+"1.5"+strings.Repeat("]", 20)+"\n"), "")
	if got, want := errorStrings(errs), []string{`p.toml:6: unknown key "destination.x"`}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestLoadRefusesHugeAndDeepFiles puts profiles that are too big or too deep among good ones:
// each is a mistake of its file, which is never read whole, and the others still run.
func TestLoadRefusesHugeAndDeepFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":    "",
		"profiles/a.toml":    profileTo("rtsp://h.example/{channel}.sdp"),
		"profiles/deep.toml": "[source]\nkind = \"testsrc\"\na = " + strings.Repeat("[", 30_000) + "\n",
		"profiles/big.toml":  "a = " + strings.Repeat("[", 4<<20) + "\n",
		"profiles/z.toml":    profileTo("rtsp://h.example/{channel}.sdp"),
	})
	// A gigabyte (sparse: it takes no disk) that a reader of the whole file would hold in memory.
	f, err := os.Create(filepath.Join(dir, "profiles", "huge.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := errors.Join(f.Truncate(1<<30), f.Close()); err != nil {
		t.Fatal(err)
	}

	p := filepath.Join(dir, "profiles")
	tooLarge := ": larger than 1048576 bytes (1 MiB), the most liveinject reads of a config file"
	want := []string{
		filepath.Join(p, "big.toml") + tooLarge,
		filepath.Join(p, "deep.toml") + ":3: " + deepMessage,
		filepath.Join(p, "huge.toml") + tooLarge,
	}
	var cfg *Config
	var errs Errors
	n := allocated(func() { cfg, errs, err = LoadRunnable(filepath.Join(dir, "liveinject.toml")) })
	if err != nil {
		t.Fatal(err)
	}
	if got := channelNames(cfg); !slices.Equal(got, []string{"a", "z"}) {
		t.Errorf("channels = %q, want a and z", got)
	}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if n > 16<<20 {
		t.Errorf("%d bytes allocated", n)
	}

	_, err = Load(filepath.Join(dir, "liveinject.toml"))
	if !errors.As(err, &errs) || !slices.Equal(errorStrings(errs), want) {
		t.Errorf("Load: %v, want %q", err, want)
	}

	// The main config too: a plain error, naming the file and the limit.
	config := filepath.Join(dir, "big.toml")
	if err := os.Rename(filepath.Join(p, "big.toml"), config); err != nil {
		t.Fatal(err)
	}
	_, err = Load(config)
	if want := "config: read " + config + tooLarge; err == nil || err.Error() != want {
		t.Errorf("Load: %v, want %s", err, want)
	}
}

// TestDecodeTOMLFile checks the limits of what others use to look into a file Load refused.
func TestDecodeTOMLFile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"good.toml": "[source]\nkind = \"testsrc\"\n",
		"deep.toml": "a = " + strings.Repeat("[", 1<<19) + "\n",
	})
	var v map[string]any
	if err := DecodeTOMLFile(filepath.Join(dir, "good.toml"), &v); err != nil || v["source"] == nil {
		t.Errorf("good.toml: %v, %v", err, v)
	}
	err := DecodeTOMLFile(filepath.Join(dir, "deep.toml"), &v)
	if want := filepath.Join(dir, "deep.toml") + ":1: nested more than 32 levels deep"; err == nil || err.Error() != want {
		t.Errorf("deep.toml: %v, want %s", err, want)
	}
	if err := DecodeTOMLFile(dir, &v); err == nil || !strings.Contains(err.Error(), "a directory, not a regular file") {
		t.Errorf("a directory: %v", err)
	}
}

// TestLoadNotRegularFiles puts in the profile directory what is not a profile file: each is a
// mistake naming its file, none blocks the loader or is read whole, and the good profile loads.
func TestLoadNotRegularFiles(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": "",
		"profiles/a.toml": profileTo("rtsp://h.example/{channel}.sdp"),
	})
	p := filepath.Join(dir, "profiles")
	if err := errors.Join(
		os.Mkdir(filepath.Join(p, "dir.toml"), 0o755),
		syscall.Mkfifo(filepath.Join(p, "fifo.toml"), 0o644),
		os.Symlink("/dev/zero", filepath.Join(p, "zero.toml")),
		os.Symlink("..data/gone.toml", filepath.Join(p, "gone.toml")),
	); err != nil {
		t.Fatal(err)
	}
	want := []string{
		filepath.Join(p, "dir.toml") + ": a directory, not a regular file",
		filepath.Join(p, "fifo.toml") + ": a named pipe (FIFO), not a regular file",
		filepath.Join(p, "gone.toml") + ": a symlink to ..data/gone.toml, which does not exist",
		filepath.Join(p, "zero.toml") + ": a device, not a regular file",
	}
	cfg, errs, err := LoadRunnable(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if got := channelNames(cfg); !slices.Equal(got, []string{"a"}) {
		t.Errorf("channels = %q, want a", got)
	}
	if got := errorStrings(errs); !slices.Equal(got, want) {
		t.Errorf("errors\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, err = Load(filepath.Join(dir, "liveinject.toml"))
	if !errors.As(err, &errs) || !slices.Equal(errorStrings(errs), want) {
		t.Errorf("Load: %v, want %q", err, want)
	}
}

// TestPasswordFileNotRegular checks that a password file that is a FIFO or a device is refused
// rather than waited for or read without end.
func TestPasswordFileNotRegular(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ file, want string }{
		{filepath.Join(dir, "fifo"), "a named pipe (FIFO), not a regular file"},
		{"/dev/zero", "a device, not a regular file"},
	} {
		src := validProfile + "user = \"u\"\npassword_file = \"" + tt.file + "\"\n"
		_, errs := decodeTest(filepath.Join(dir, "p.toml"), "p", []byte(src), "")
		want := filepath.Join(dir, "p.toml") + ":7: destination.password_file: cannot read " + tt.file + ": " + tt.want
		if got := errorStrings(errs); !slices.Equal(got, []string{want}) {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

// TestDecodeCostOfUnknownKeys decodes a profile of 1 MiB of unknown keys, the worst a file
// within the size limit does: the first hundred keys are reported, in line order, and a count of
// the others, at a bounded cost. (The sort looked up each key's line at every comparison, and
// every key was compared with every known key however long: 371 MB allocated for this file; and
// each of its 96,326 mistakes made a log line and a line of every /status answer.)
func TestDecodeCostOfUnknownKeys(t *testing.T) {
	var b strings.Builder
	n := 0
	for ; b.Len() < maxFileSize-100; n++ {
		fmt.Fprintf(&b, "k%d = 1\n", n)
	}
	src := []byte(b.String() + validProfile)
	var errs Errors
	allocs := allocated(func() { _, errs = decodeTest("p.toml", "p", src, "") })
	want := []string{`p.toml:1: unknown key "k0"`, `p.toml:100: unknown key "k99"`, fmt.Sprintf("p.toml:101: %d more from here on, not listed", n-100)}
	if got := errorStrings(errs); len(got) != 101 || !slices.Equal([]string{got[0], got[99], got[100]}, want) {
		t.Errorf("%d errors, want the first, the 100th and the count of the rest to be %q", len(got), want)
	}
	t.Logf("%d MB allocated for %d unknown keys", allocs>>20, n)
	if allocs > 256<<20 {
		t.Errorf("%d MB allocated for a profile of %d bytes", allocs>>20, len(src))
	}
}
