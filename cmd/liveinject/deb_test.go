package main

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// repoRoot is the repository's top directory, seen from this package's directory.
const repoRoot = "../.."

// requireTools skips the test unless every tool is in PATH.
func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: this test needs %s", tool, strings.Join(tools, ", "))
		}
	}
}

// runCmd runs a command and returns its standard output, failing the test with its output when
// it fails.
func runCmd(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	// Under make test, MAKEFLAGS carries the outer make's command-line variables (VERSION=,
	// DIST=, ...) into every make below: the tests' make runs as if started by hand.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "MAKEFLAGS=") || strings.HasPrefix(kv, "MFLAGS=") || strings.HasPrefix(kv, "MAKELEVEL=")
	})
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// readFile returns a file's content, failing the test when it cannot be read.
func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestMakeInstall installs into a DESTDIR with several PREFIXes: the unit names the binary where
// it went, and a second install keeps what an operator edited.
func TestMakeInstall(t *testing.T) {
	requireTools(t, "make")
	// install's binary: the test is about paths, so no build (-o build).
	fake := filepath.Join(t.TempDir(), "liveinject")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	install := func(prefix, destdir string) string {
		t.Helper()
		return runCmd(t, "make", "-s", "-C", repoRoot, "-o", "build", "install",
			"PREFIX="+prefix, "DESTDIR="+destdir, "BIN="+fake, "VERSION=1.0.0")
	}

	for _, tc := range []struct{ prefix, unit string }{
		{"/usr", "/usr/lib/systemd/system/liveinject.service"},
		{"/usr/local", "/usr/local/lib/systemd/system/liveinject.service"},
		{"/opt/liveinject", "/etc/systemd/system/liveinject.service"},
	} {
		t.Run(tc.prefix, func(t *testing.T) {
			dest := t.TempDir()
			install(tc.prefix, dest)
			unit := readFile(t, dest+tc.unit)
			for _, want := range []string{
				"\nExecStart=" + tc.prefix + "/bin/liveinject run -c /etc/liveinject/liveinject.toml\n",
				"\nDocumentation=file://" + tc.prefix + "/share/doc/liveinject/README.md\n",
			} {
				if !strings.Contains(unit, want) {
					t.Errorf("%s lacks %q:\n%s", tc.unit, strings.TrimSpace(want), unit)
				}
			}
			if fi, err := os.Stat(dest + tc.prefix + "/bin/liveinject"); err != nil || fi.Mode().Perm() != 0o755 {
				t.Errorf("binary: %v, %v; want mode 0755", fi, err)
			}
			for _, f := range []string{"/etc/liveinject/liveinject.toml", "/etc/liveinject/profiles/example.toml",
				tc.prefix + "/share/doc/liveinject/README.md", tc.prefix + "/share/doc/liveinject/examples/liveinject.toml"} {
				if _, err := os.Stat(dest + f); err != nil {
					t.Errorf("not installed: %v", err)
				}
			}

			// An operator edits the config and, where make install put the unit in /etc, the unit.
			config := dest + "/etc/liveinject/liveinject.toml"
			edited := readFile(t, config) + "\n[log]\nlevel = \"debug\"\n"
			if err := os.WriteFile(config, []byte(edited), 0o644); err != nil {
				t.Fatal(err)
			}
			editedUnit := unit + "\n# edited\n"
			if strings.HasPrefix(tc.unit, "/etc/") {
				if err := os.WriteFile(dest+tc.unit, []byte(editedUnit), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			out := install(tc.prefix, dest)
			if got := readFile(t, config); got != edited {
				t.Errorf("the second install changed the edited config:\n%s", got)
			}
			if !strings.Contains(out, "kept "+config) || readFile(t, config+".new") == "" {
				t.Errorf("the second install did not say it kept the config, or wrote no .new beside it:\n%s", out)
			}
			if strings.HasPrefix(tc.unit, "/etc/") {
				if got := readFile(t, dest+tc.unit); got != editedUnit {
					t.Errorf("the second install changed the edited unit")
				}
			}
			if _, err := os.Stat(dest + "/etc/liveinject/profiles/example.toml.new"); err == nil {
				t.Errorf("example.toml.new written beside an unchanged example.toml")
			}

			// uninstall leaves the operator's /etc/liveinject and nothing else of liveinject.
			runCmd(t, "make", "-s", "-C", repoRoot, "uninstall", "PREFIX="+tc.prefix, "DESTDIR="+dest)
			var left []string
			err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasPrefix(path, dest+"/etc/liveinject/") &&
					strings.Contains(path, "liveinject") {
					left = append(left, strings.TrimPrefix(path, dest))
				}
				return err
			})
			if err != nil || len(left) > 0 {
				t.Errorf("uninstall left %v (%v)", left, err)
			}
		})
	}
}

// TestDebPackage builds the amd64 package with make deb and checks its control fields, its files,
// its conffiles and scripts, and that its binary runs its own config.
func TestDebPackage(t *testing.T) {
	requireTools(t, "make", "dpkg-deb")
	dist := t.TempDir()
	runCmd(t, "make", "-s", "-C", repoRoot, "deb", "ARCHES=amd64", "DIST="+dist)
	debs, err := filepath.Glob(filepath.Join(dist, "liveinject_*_amd64.deb"))
	if err != nil || len(debs) != 1 {
		t.Fatalf("make deb made %v (%v), want one liveinject_*_amd64.deb", debs, err)
	}
	deb := debs[0]

	field := func(name string) string { return strings.TrimSpace(runCmd(t, "dpkg-deb", "-f", deb, name)) }
	version := field("Version")
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`).MatchString(version) {
		t.Errorf("Version %q is not a Debian upstream version from git describe", version)
	}
	if want := "liveinject_" + version + "_amd64.deb"; filepath.Base(deb) != want {
		t.Errorf("package file %s, want %s", filepath.Base(deb), want)
	}
	for name, want := range map[string]string{
		"Package": "liveinject", "Architecture": "amd64", "Depends": "ffmpeg, procps", "Section": "video",
	} {
		if got := field(name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"Maintainer", "Installed-Size", "Description"} {
		if field(name) == "" {
			t.Errorf("no %s field", name)
		}
	}

	// The files, their owners and modes: everything root's, nothing outside /etc and /usr.
	files := map[string]string{} // path → mode and owner
	for line := range strings.Lines(runCmd(t, "dpkg-deb", "-c", deb)) {
		f := strings.Fields(line)
		if len(f) < 6 {
			t.Fatalf("dpkg-deb -c line %q", line)
		}
		path := strings.TrimPrefix(f[5], ".")
		files[path] = f[0] + " " + f[1]
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s, want root/root", path, f[1])
		}
		if path != "/" && !strings.HasPrefix(path, "/etc/") && !strings.HasPrefix(path, "/usr/") {
			t.Errorf("%s is outside /etc and /usr", path)
		}
	}
	for path, mode := range map[string]string{
		"/usr/bin/liveinject":                                     "-rwxr-xr-x",
		"/usr/lib/systemd/system/liveinject.service":              "-rw-r--r--",
		"/usr/lib/sysusers.d/liveinject.conf":                     "-rw-r--r--",
		"/etc/liveinject/liveinject.toml":                         "-rw-r--r--",
		"/etc/liveinject/profiles/example.toml":                   "-rw-r--r--",
		"/usr/share/doc/liveinject/README.md":                     "-rw-r--r--",
		"/usr/share/doc/liveinject/examples/liveinject.toml":      "-rw-r--r--",
		"/usr/share/doc/liveinject/examples/rack/liveinject.toml": "-rw-r--r--",
		"/usr/share/doc/liveinject/examples/sources/profiles/":    "drwxr-xr-x",
	} {
		if got, _, _ := strings.Cut(files[path], " "); got != mode {
			t.Errorf("%s: %q, want %s", path, got, mode)
		}
	}

	// Control files: the /etc files are conffiles, and the scripts are sh.
	control := t.TempDir()
	runCmd(t, "dpkg-deb", "-e", deb, control)
	conffiles := strings.Fields(readFile(t, filepath.Join(control, "conffiles")))
	if want := []string{"/etc/liveinject/liveinject.toml", "/etc/liveinject/profiles/example.toml"}; !slices.Equal(conffiles, want) {
		t.Errorf("conffiles %v, want %v", conffiles, want)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		path := filepath.Join(control, script)
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o755 {
			t.Errorf("%s: %v, %v; want mode 0755", script, fi, err)
		}
		runCmd(t, "sh", "-n", path)
	}
	if postinst := readFile(t, filepath.Join(control, "postinst")); !strings.Contains(postinst, "daemon-reload") ||
		!strings.Contains(postinst, "deb-systemd-helper enable liveinject.service") {
		t.Errorf("postinst neither reloads systemd nor enables the service:\n%s", postinst)
	}

	// The payload: the unit runs the packaged binary, which shows the package's version and
	// accepts the packaged config, which runs no channel.
	root := t.TempDir()
	runCmd(t, "dpkg-deb", "-x", deb, root)
	unitPath := filepath.Join(root, "usr/lib/systemd/system/liveinject.service")
	unit := readFile(t, unitPath)
	if !strings.Contains(unit, "\nExecStart=/usr/bin/liveinject run -c /etc/liveinject/liveinject.toml\n") {
		t.Errorf("the unit does not run /usr/bin/liveinject:\n%s", unit)
	}
	bin := filepath.Join(root, "usr/bin/liveinject")
	if out := runCmd(t, bin, "version"); !strings.HasPrefix(out, "liveinject "+version+" go1.") {
		t.Errorf("liveinject version printed %q, want the package's version %s", out, version)
	}
	out := runCmd(t, bin, "check", "-c", filepath.Join(root, "etc/liveinject/liveinject.toml"))
	if !strings.Contains(out, "0 channel(s)") || !strings.Contains(out, "disabled (enabled = false): example") ||
		strings.Contains(out, "relay:") {
		t.Errorf("check of the packaged config: want no channel, the example disabled, no relay:\n%s", out)
	}
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(path, ".new") {
			t.Errorf("%s in the package", path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Logf("systemd-analyze not found: the unit's exposure and syntax are not checked")
		return
	}
	// At most 3.0 ("OK") in systemd-analyze security: the threshold is in tenths.
	runCmd(t, "systemd-analyze", "security", "--offline=yes", "--threshold=30", unitPath)
	// verify wants the binary the unit names: the extracted one stands in for /usr/bin's.
	local := filepath.Join(t.TempDir(), "liveinject.service")
	if err := os.WriteFile(local, []byte(strings.ReplaceAll(unit, "/usr/bin/liveinject", bin)), 0o644); err != nil {
		t.Fatal(err)
	}
	runCmd(t, "systemd-analyze", "verify", local)
}

// TestPackagedConfig checks the config the package and make install put in /etc/liveinject:
// valid, with no relay and no channel running until one is configured.
func TestPackagedConfig(t *testing.T) {
	code, out, errs := cli(t, "check", "-c", repoRoot+"/contrib/etc/liveinject.toml")
	if code != exitOK || errs != "" {
		t.Fatalf("check exited %d:\n%s", code, errs)
	}
	if out != "0 channel(s) in ../../contrib/etc/profiles\ndisabled (enabled = false): example\n" {
		t.Errorf("check printed\n%s\nwant no relay, no channel, the example disabled", out)
	}
}

// TestVersionFromGit runs contrib/deb/version in a scratch repository through a release's life:
// no tag, a release candidate, commits after it, the release, uncommitted changes.
func TestVersionFromGit(t *testing.T) {
	requireTools(t, "git")
	dir := t.TempDir()
	script := filepath.Join(dir, "contrib/deb/version")
	if err := os.MkdirAll(filepath.Dir(script), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(readFile(t, repoRoot+"/contrib/deb/version")), 0o755); err != nil {
		t.Fatal(err)
	}
	git := func(args ...string) string {
		t.Helper()
		return strings.TrimSpace(runCmd(t, "git", append([]string{"-C", dir, "-c", "user.name=t", "-c", "user.email=t@t",
			"-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"}, args...)...))
	}
	commit := func() string {
		t.Helper()
		git("commit", "-q", "--allow-empty", "-m", "c")
		return git("rev-parse", "--short=7", "HEAD")
	}
	version := func() string { t.Helper(); return strings.TrimSpace(runCmd(t, script)) }

	git("init", "-q")
	git("add", "contrib")
	git("commit", "-q", "-m", "c")
	head := commit()
	if got, want := version(), "0.0.0+git2.g"+head; got != want {
		t.Errorf("no tag: %q, want %q", got, want)
	}
	git("tag", "v1.2.0-rc1")
	if got, want := version(), "1.2.0~rc1"; got != want {
		t.Errorf("at v1.2.0-rc1: %q, want %q", got, want)
	}
	head = commit()
	if got, want := version(), "1.2.0~rc1+git1.g"+head; got != want {
		t.Errorf("after v1.2.0-rc1: %q, want %q", got, want)
	}
	git("tag", "v1.2.0")
	if got, want := version(), "1.2.0"; got != want {
		t.Errorf("at v1.2.0: %q, want %q", got, want)
	}
	commit()
	head = commit()
	if got, want := version(), "1.2.0+git2.g"+head; got != want {
		t.Errorf("two commits after v1.2.0: %q, want %q", got, want)
	}
	if err := os.WriteFile(script, []byte(readFile(t, script)+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got := version(); !strings.HasSuffix(got, ".dirty") {
		t.Errorf("with a changed file: %q, want it to end in .dirty", got)
	}
	if _, err := exec.LookPath("dpkg"); err == nil {
		// Debian sorts them in the order they were made.
		for _, pair := range [][2]string{{"0.0.0+git2.gabc", "1.2.0~rc1"}, {"1.2.0~rc1", "1.2.0~rc1+git1.gabc"},
			{"1.2.0~rc1+git1.gabc", "1.2.0"}, {"1.2.0", "1.2.0+git2.gabc"}} {
			runCmd(t, "dpkg", "--compare-versions", pair[0], "lt", pair[1])
		}
	}
}
