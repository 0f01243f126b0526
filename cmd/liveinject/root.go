package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

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

const usage = `usage: liveinject <command> [flags]

commands:
  run     -c <config>   capture, encode and push every channel until SIGINT/SIGTERM;
                        -log-level debug|info|warn|error and -log-format text|json
                        override the config's [log]
  check   -c <config>   validate the config and profiles, print each channel's ffmpeg command
  status  [-addr host:port] [-json]
                        show the channels of a running liveinject (default 127.0.0.1:7580)
  restart [-addr host:port] NAME
                        restart a channel's ffmpeg at once (POST /channels/NAME/restart)
  version               print liveinject's and ffmpeg's versions
`

// Main is the whole program, runnable in-process by tests.
type Main struct {
	Stdout, Stderr io.Writer
	// Reload delivers SIGHUP: run reloads the configuration on each value. May be nil.
	Reload <-chan os.Signal

	// onReady is called by run once the relay listens and the channels are starting (tests).
	onReady func(*instance)
	// onApplied is called by run after each reload has been applied to the channels (tests).
	onApplied func(profiles.Changes)
}

// Run runs the command in args (without the program name) and returns the exit status.
func (m *Main) Run(ctx context.Context, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(m.Stderr, usage)
		return exitConfig
	}
	switch args[0] {
	case "run":
		return m.run(ctx, args[1:])
	case "check":
		return m.check(args[1:])
	case "status":
		return m.status(ctx, args[1:])
	case "restart":
		return m.restart(ctx, args[1:])
	case "version", "-version", "--version":
		return m.version()
	case "help", "-h", "-help", "--help":
		fmt.Fprint(m.Stdout, usage)
		return exitOK
	default:
		fmt.Fprintf(m.Stderr, "liveinject: unknown command %q\n%s", args[0], usage)
		return exitConfig
	}
}

// configFlags parses the flags every config-reading command shares, and those extra adds. It
// returns the parsed set too, whose Visit tells which flags were given.
func (m *Main) configFlags(name string, args []string, extra func(*flag.FlagSet)) (string, *flag.FlagSet, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	path := fs.String("c", defaultConfig, "main config file")
	if extra != nil {
		extra(fs)
	}
	if !m.parseFlags(fs, args) {
		return "", nil, false
	}
	return *path, fs, true
}

// parseFlags parses args, which must hold flags only.
func (m *Main) parseFlags(fs *flag.FlagSet, args []string) bool {
	if err := fs.Parse(args); err != nil {
		return false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "liveinject %s: unexpected argument %q\n", fs.Name(), fs.Arg(0))
		return false
	}
	return true
}

// loadConfig loads the config and prints every mistake in it, one per line.
func (m *Main) loadConfig(path string) (*profiles.Config, bool) {
	cfg, err := profiles.Load(path)
	if err == nil {
		return cfg, true
	}
	m.configErrors(err)
	return nil, false
}

// configErrors says what is wrong with the configuration on standard error.
func (m *Main) configErrors(err error) {
	var errs profiles.Errors
	if errors.As(err, &errs) {
		for _, e := range errs {
			fmt.Fprintln(m.Stderr, e)
		}
		fmt.Fprintf(m.Stderr, "liveinject: %d error(s) in the configuration\n", len(errs))
	} else {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
	}
}
