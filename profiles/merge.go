package profiles

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
)

// merge puts the profiles read into cfg, giving each channel name and each stream (a
// destination URL without credentials) to one file, and returns the mistakes of the files left
// out. running are the channels that run now, by file; nil at startup.
//
// Files whose channel runs unchanged keep their names and streams; then the files with mistakes
// keep their running version, and claim nothing else; then the others take what is free, in file
// order. A file that asks for a name or a stream another file has is refused at its own line,
// naming that file, and keeps its running version if it has one: an edit can never stop another
// channel.
func merge(cfg *Config, files []profileFile, running map[string]Channel) Errors {
	c := claims{names: map[string]string{}, streams: map[string]string{}}
	var errs Errors
	var unchanged, wrong, changed []*profileFile
	for i := range files {
		f := &files[i]
		if f.err != nil {
			f.errs = Errors{readError(f.file, f.err)}
		}
		ch, runs := running[f.file]
		switch {
		case len(f.errs) > 0:
			wrong = append(wrong, f)
		case runs && !f.disabled && reflect.DeepEqual(ch, f.channel):
			unchanged = append(unchanged, f)
		default:
			changed = append(changed, f)
		}
	}
	// keepRunning keeps the running version of a file left out, if it still fits.
	keepRunning := func(f *profileFile) {
		ch, ok := running[f.file]
		if !ok {
			return
		}
		if conflicts := c.conflicts(channelFile{channel: ch}, f.file); len(conflicts) > 0 {
			errs = append(errs, &Error{File: f.file, Msg: fmt.Sprintf("channel %q stopped: %s", ch.Name, conflicts[0].Msg)})
			return
		}
		c.take(ch, f.file)
		cfg.Channels = append(cfg.Channels, ch)
	}
	for _, f := range unchanged {
		c.take(f.channel, f.file)
		cfg.add(*f)
	}
	for _, f := range wrong {
		// A file with mistakes holds only what it runs. The name it asks for is no claim: a
		// new file with a mistake that named a running channel (or, at startup, any other
		// file's channel) would stop that channel at its next edit, or keep it from starting.
		errs = append(errs, f.errs...)
		keepRunning(f)
	}
	for _, f := range changed {
		if f.disabled {
			cfg.add(*f)
			continue
		}
		if conflicts := c.conflicts(f.channelFile, f.file); len(conflicts) > 0 {
			errs = append(errs, conflicts...)
			keepRunning(f)
			continue
		}
		c.take(f.channel, f.file)
		cfg.add(*f)
	}
	slices.SortStableFunc(errs, func(a, b *Error) int { return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line)) })
	return errs
}

// claims are the channel names and streams given out, and to which file.
type claims struct {
	names, streams map[string]string
}

// conflicts returns a mistake for each name or stream of f (read from file) that another file
// has.
func (c *claims) conflicts(f channelFile, file string) Errors {
	var errs Errors
	if other, taken := c.names[f.channel.Name]; taken && other != file {
		errs = append(errs, &Error{File: file, Line: f.namePath,
			Msg: fmt.Sprintf("channel name %q is taken by %s", f.channel.Name, other)})
	}
	for i, d := range f.channel.Destinations {
		if other, taken := c.streams[streamOf(d)]; taken && other != file {
			line := 0
			if i < len(f.urlLines) {
				line = f.urlLines[i]
			}
			errs = append(errs, &Error{File: file, Line: line,
				Msg: fmt.Sprintf("destination.url: %s is pushed by %s too: two pushes of one stream replace each other at the server",
					describeStream(d), other)})
		}
	}
	return errs.capped()
}

func (c *claims) take(ch Channel, file string) {
	c.names[ch.Name] = file
	for _, d := range ch.Destinations {
		c.streams[streamOf(d)] = file
	}
}
