package main

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"
)

// command describes a subcommand for its -h text and the program's usage: what follows
// "liveinject NAME" on the usage line, what it does in a few words and in full, and an example.
type command struct {
	name, args, short, about, example string
}

// enumFlag is a string flag that takes one of a fixed set of values, and names them when given
// another.
type enumFlag struct {
	value   string
	allowed []string
}

func (e *enumFlag) String() string { return e.value }

// Set accepts one of the allowed values.
func (e *enumFlag) Set(s string) error {
	if !slices.Contains(e.allowed, s) {
		hint := ""
		if s == "verbose" || s == "trace" || s == "all" {
			hint = " (debug is the most verbose)"
		}
		return fmt.Errorf("not one of %s%s", strings.Join(e.allowed, ", "), hint)
	}
	e.value = s
	return nil
}

// newFlagSet returns a flag set for c whose parse errors go to standard error, and whose usage
// text parse prints itself.
func (m *Main) newFlagSet(c command) *flag.FlagSet {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	// parse prints the usage itself: on standard output for -h, a hint on standard error for
	// other mistakes.
	fs.Usage = func() {}
	return fs
}

// parse parses args for c, which must be flags only unless positional is set. It returns
// false and the exit status when the command must not go on: exitOK after -h, exitConfig after a
// mistake.
func (m *Main) parse(fs *flag.FlagSet, c command, args []string, positional bool) (int, bool) {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		m.commandUsage(fs, c)
		return exitOK, false
	}
	if err != nil {
		// The flag package has said what is wrong.
		fmt.Fprintf(m.Stderr, "usage: liveinject %s %s (liveinject %s -h for more)\n", c.name, c.args, c.name)
		return exitConfig, false
	}
	if positional || fs.NArg() == 0 {
		return exitOK, true
	}
	arg := fs.Arg(0)
	if fs.Lookup("c") != nil && strings.HasSuffix(arg, ".toml") {
		fmt.Fprintf(m.Stderr, "liveinject %s: unexpected argument %q: the config is given with -c: liveinject %s -c %s\n",
			c.name, arg, c.name, arg)
		return exitConfig, false
	}
	if strings.HasPrefix(arg, "-") {
		fmt.Fprintf(m.Stderr, "liveinject %s: %q after an argument: flags come first: liveinject %s %s\n",
			c.name, arg, c.name, c.args)
		return exitConfig, false
	}
	fmt.Fprintf(m.Stderr, "liveinject %s: unexpected argument %q\nusage: liveinject %s %s\n", c.name, arg, c.name, c.args)
	return exitConfig, false
}

// commandUsage prints c's -h text on standard output.
func (m *Main) commandUsage(fs *flag.FlagSet, c command) {
	fmt.Fprintf(m.Stdout, "usage: %s\n\n%s\n", strings.TrimSpace("liveinject "+c.name+" "+c.args), c.about)
	var n int
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintln(m.Stdout, "\nflags:")
		fs.SetOutput(m.Stdout)
		fs.PrintDefaults()
		fs.SetOutput(m.Stderr)
	}
	fmt.Fprintf(m.Stdout, "\nexample:\n  %s\n", c.example)
}
