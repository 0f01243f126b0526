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
  run     -c <config>   capture, encode and push every channel until SIGINT/SIGTERM
  check   -c <config>   validate the config and profiles, print each channel's ffmpeg command
  version               print the version
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

// configFlags parses the flags every config-reading command shares.
func (m *Main) configFlags(name string, args []string, extra func(*flag.FlagSet)) (string, bool) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	path := fs.String("c", defaultConfig, "main config file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		return "", false
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(m.Stderr, "liveinject %s: unexpected argument %q\n", name, fs.Arg(0))
		return "", false
	}
	return *path, true
}

// loadConfig loads the config and prints every mistake in it, one per line.
func (m *Main) loadConfig(path string) (*profiles.Config, bool) {
	cfg, err := profiles.Load(path)
	if err == nil {
		return cfg, true
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
	return nil, false
}
