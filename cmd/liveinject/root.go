package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/liveinject/liveinject/internal/webhook"
	"github.com/liveinject/liveinject/profiles"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFail   = 1 // liveinject could not run: ffmpeg missing, a port taken
	exitConfig = 2 // bad command line or config: fix the input
)

// defaultConfig is where a packaged install keeps the main config.
const defaultConfig = "/etc/liveinject/liveinject.toml"

// The commands, for their -h texts and the usage.
var (
	runCommand = command{
		name:    "run",
		short:   "capture, encode and push every channel until SIGINT or SIGTERM",
		args:    "[-c config] [-log-level debug|info|warn|error] [-log-format text|json]",
		about:   "Capture, encode and push every channel of the config until SIGINT or SIGTERM; SIGHUP\nreloads. -log-level and -log-format override the config's [log].",
		example: "liveinject run -c examples/liveinject.toml -log-level debug",
	}
	checkCommand = command{
		name:    "check",
		short:   "validate the config and profiles, print the ffmpeg command of each channel's inputs",
		args:    "[-c config]",
		about:   "Validate the config and its profiles, and print the ffmpeg command of each input of each\nchannel (source, backups, slate) and its destinations. Exits 0 when run would accept the\nconfig, 2 when it would not.",
		example: "liveinject check -c " + defaultConfig,
	}
	statusCommand = command{
		name:    "status",
		short:   "show the channels of a running liveinject",
		args:    "[-addr host:port] [-json]",
		about:   "Show the channels of a running liveinject, read from its HTTP endpoint's /status.",
		example: "liveinject status -addr " + profiles.DefaultHTTPListen,
	}
	restartCommand = command{
		name:    "restart",
		short:   "restart a channel's ffmpeg at once",
		args:    "[-addr host:port] NAME",
		about:   "Restart a channel's ffmpeg at once, through the HTTP endpoint (POST /channels/NAME/restart).",
		example: "liveinject restart lobby",
	}
	switchCommand = command{
		name:  "switch",
		short: "put a channel's source, a backup or its slate on air, or back to auto",
		args:  "[-addr host:port] NAME source|backup N|slate|auto",
		about: "Put a channel's input on air and keep it there (source, backup N, slate), or give the choice\n" +
			"back to the channel's rules (auto), through the HTTP endpoint (POST /channels/NAME/switch).\n" +
			"The switch happens at the input's next keyframe, once it runs.",
		example: "liveinject switch lobby backup 1",
	}
	versionCommand = command{
		name:    "version",
		short:   "print liveinject's version and ffmpeg's",
		about:   "Print liveinject's version and ffmpeg's.",
		example: "liveinject version",
	}
	commands = []command{runCommand, checkCommand, statusCommand, restartCommand, switchCommand, versionCommand}
)

// usage is the program's help: the commands, and examples.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: liveinject <command> [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-8s %s\n", c.name, c.short)
	}
	fmt.Fprintf(&b, `
The config is %s unless -c names another. The flags of a command:
liveinject <command> -h. liveinject --version is liveinject version.

examples:
  liveinject check -c %s
  liveinject run -c examples/liveinject.toml
  liveinject status
`, defaultConfig, defaultConfig)
	return b.String()
}

// Main is the whole program, runnable in-process by tests.
type Main struct {
	Stdout, Stderr io.Writer
	// Reload delivers SIGHUP: run reloads the configuration on each value. May be nil.
	Reload <-chan os.Signal
	// TuneRuntime lets run size GOMAXPROCS to its load (internal/procs) and keep the GC from
	// running under a heap floor (internal/gcfloor), each unless the environment sets GOMAXPROCS
	// or GOGC: the program's own run does, tests that run several in one process do not.
	TuneRuntime bool

	// onReady is called by run once the relay listens and the channels are starting (tests).
	onReady func(*instance)
	// onApplied is called by run after each reload has been applied to the channels (tests).
	onApplied func(profiles.Changes)
	// configureHTTP, if set, changes the HTTP endpoint's settings before it starts (tests).
	configureHTTP func(*httpServer)
	// configureWebhooks, if set, changes the webhooks' settings before they start (tests).
	configureWebhooks func(*webhook.Hub)
}

// Run runs the command in args (without the program name) and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage())
		return exitConfig
	}
	switch args[0] {
	case "run":
		return m.run(ctx, args[1:])
	case "check":
		return m.check(ctx, args[1:])
	case "status":
		return m.status(ctx, args[1:])
	case "restart":
		return m.restart(ctx, args[1:])
	case "switch":
		return m.switchInput(ctx, args[1:])
	case "version":
		return m.version(args[1:])
	case "-version", "--version", "-V":
		return m.version(nil)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage())
		return exitOK
	}
	switch arg := args[0]; {
	case strings.HasPrefix(arg, "-"):
		// The command comes first: with one later on the line, move it there.
		i := slices.IndexFunc(args, func(a string) bool {
			return slices.ContainsFunc(commands, func(c command) bool { return c.name == a })
		})
		if i < 0 {
			fmt.Fprintf(m.Stderr, "liveinject: %q before a command: the command comes first, as in liveinject run %s\n\n%s",
				arg, strings.Join(args, " "), usage())
			break
		}
		line := append([]string{args[i]}, slices.Delete(slices.Clone(args), i, i+1)...)
		fmt.Fprintf(m.Stderr, "liveinject: %q before the command: the command comes first: liveinject %s\n",
			arg, strings.Join(line, " "))
	case strings.HasSuffix(arg, ".toml"):
		fmt.Fprintf(m.Stderr, "liveinject: %q is not a command: liveinject check -c %s checks a config, liveinject run -c %s runs it\n",
			arg, arg, arg)
	default:
		fmt.Fprintf(m.Stderr, "liveinject: unknown command %q\n\n%s", arg, usage())
	}
	return exitConfig
}

// configFlags parses the flags of c, a config-reading command: -c, and those extra adds. It
// returns the config's path and the parsed set, whose Visit tells which flags were given; when
// ok is false the command ends with the exit status code.
func (m *Main) configFlags(c command, args []string, extra func(*flag.FlagSet)) (path string, fs *flag.FlagSet, code int, ok bool) {
	fs = m.newFlagSet(c)
	fs.StringVar(&path, "c", defaultConfig, "main config file")
	if extra != nil {
		extra(fs)
	}
	if code, ok := m.parse(fs, c, args, false); !ok {
		return "", nil, code, false
	}
	return path, fs, exitOK, true
}

// loadConfig loads the config and prints every mistake in it, one per line.
func (m *Main) loadConfig(path string) (*profiles.Config, bool) {
	cfg, err := profiles.Load(path)
	if err == nil {
		return cfg, true
	}
	m.configErrors(path, err)
	return nil, false
}

// configErrors says what is wrong with the configuration at path on standard error.
func (m *Main) configErrors(path string, err error) {
	if isProfile(path) {
		fmt.Fprintf(m.Stderr, "liveinject: %s is a channel profile, not the main config: give -c the main config "+
			"(%s when installed), whose profiles directory holds the channels, one per file", path, defaultConfig)
		if main := filepath.Join(filepath.Dir(filepath.Dir(path)), "liveinject.toml"); fileExists(main) {
			fmt.Fprintf(m.Stderr, "; here perhaps -c %s", main)
		}
		fmt.Fprintln(m.Stderr)
		return
	}
	var errs profiles.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(m.Stderr, e)
		}
		fmt.Fprintf(m.Stderr, "liveinject: %d error(s) in the configuration\n", len(errs))
	} else {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
	}
	if errors.Is(err, fs.ErrNotExist) && path == defaultConfig {
		fmt.Fprintf(m.Stderr, "liveinject: give the config with -c, or install the package, which puts one there\n")
	}
}

// isProfile reports whether the TOML file at path has a table only a channel profile has at its
// top level, and no key only the main config has: the slip of giving -c a profile instead of the
// main config.
func isProfile(path string) bool {
	var top map[string]any
	if err := profiles.DecodeTOMLFile(path, &top); err != nil {
		return false
	}
	has := func(keys ...string) bool {
		return slices.ContainsFunc(keys, func(k string) bool { _, ok := top[k]; return ok })
	}
	return has("source", "video", "audio", "destination") && !has("profiles", "relay", "http", "log", "defaults")
}

// fileExists reports whether path names something that can be stat'ed.
func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
