package profiles

import (
	"cmp"
	"fmt"
	"reflect"
	"slices"
)

// Changes is what turns one channel set into another: what the supervisor does on a reload.
// Each list is sorted by channel name and holds the new version of a channel (the old one for
// Removed).
type Changes struct {
	// Added channels are started.
	Added []Channel
	// Removed channels are stopped.
	Removed []Channel
	// Restart channels changed what the source's ffmpeg does ([source], [video], [audio],
	// [ffmpeg], [alarms], whose filters are in its encoding graph): their ffmpeg is stopped and
	// started again.
	Restart []Channel
	// Retarget channels changed their destinations, backups, slate or failover timings, and
	// not what the source's ffmpeg does: the channel's owner takes the new version while it
	// runs, and never restarts the input on air unless that input changed (a backup on air
	// whose keys changed, or that is gone). The injector gets the new destinations; those
	// that did not change keep their sessions.
	Retarget []Channel
	// Rerecord channels changed their [record] only: the channel's owner starts, stops or
	// reconfigures its recording, and nothing else (no ffmpeg restarts, no destination
	// reconnects). A channel that changed more is in Restart or Retarget, whose owner applies
	// its [record] too.
	Rerecord []Channel
	// Unchanged channels are left alone.
	Unchanged []Channel
}

// Empty reports whether applying the changes would do nothing.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Restart) == 0 && len(c.Retarget) == 0 &&
		len(c.Rerecord) == 0
}

// Diff compares two channel sets by channel name. A channel whose profile moved to another file
// with the same content is unchanged.
func Diff(old, new []Channel) Changes {
	var c Changes
	before := make(map[string]Channel, len(old))
	for _, ch := range old {
		before[ch.Name] = ch
	}
	seen := make(map[string]bool, len(new))
	for _, ch := range new {
		seen[ch.Name] = true
		prev, ok := before[ch.Name]
		switch {
		case !ok:
			c.Added = append(c.Added, ch)
		case !SameEncoding(prev, ch):
			c.Restart = append(c.Restart, ch)
		case !SameDestinations(prev, ch) || !SameInputs(prev, ch):
			c.Retarget = append(c.Retarget, ch)
		case prev.Record != ch.Record:
			c.Rerecord = append(c.Rerecord, ch)
		default:
			c.Unchanged = append(c.Unchanged, ch)
		}
	}
	for _, ch := range old {
		if !seen[ch.Name] {
			c.Removed = append(c.Removed, ch)
		}
	}
	for _, l := range []*[]Channel{&c.Added, &c.Removed, &c.Restart, &c.Retarget, &c.Rerecord, &c.Unchanged} {
		slices.SortFunc(*l, func(a, b Channel) int { return cmp.Compare(a.Name, b.Name) })
	}
	return c
}

// SameEncoding reports whether two versions of a channel run the same ffmpeg for the source:
// everything but the destinations, the backups, the slate, the timings of failover and hold,
// the recording, and where the profile was read from is the same.
func SameEncoding(a, b Channel) bool {
	return reflect.DeepEqual(sourceOnly(a), sourceOnly(b))
}

// sourceOnly returns c without what its owner applies while the source's ffmpeg runs on.
func sourceOnly(c Channel) Channel {
	c.File = ""
	c.Destinations = nil
	c.Hold = 0
	c.Backups, c.Slate = nil, Slate{}
	c.FailoverAfter, c.ReturnAfter, c.SlateAfter = 0, 0, 0
	c.Record = Record{}
	return c
}

// SameDestinations reports whether two versions of a channel push to the same destinations in
// the same way.
func SameDestinations(a, b Channel) bool {
	return slices.Equal(a.Destinations, b.Destinations)
}

// SameInputs reports whether two versions of a channel have the same backups, in the same
// order, the same slate and the same failover timings.
func SameInputs(a, b Channel) bool {
	return slices.EqualFunc(a.Backups, b.Backups, SameSource) && a.Slate == b.Slate &&
		a.FailoverAfter == b.FailoverAfter && a.ReturnAfter == b.ReturnAfter && a.SlateAfter == b.SlateAfter
}

// SameSource reports whether two inputs are the same, input_args nil or empty alike.
func SameSource(a, b Source) bool {
	if !slices.Equal(a.InputArgs, b.InputArgs) {
		return false
	}
	a.InputArgs, b.InputArgs = nil, nil
	return reflect.DeepEqual(a, b)
}

// Changed says what differs between two versions of a channel, for the log of a reload: one
// "key old → new" per setting ("video.bitrate 2500k → 800k", "backup 1.url ..."), the backups
// added (+), removed (-) or of another kind (~) by position, the slate turned off or on, the
// alarms turned off or on, and the destinations added (+), removed (-) and changed (~).
// Passwords never show; lists say only that they changed.
func Changed(was, is Channel) []string {
	var out []string
	ov, nv := reflect.ValueOf(was), reflect.ValueOf(is)
	for i := range ov.NumField() {
		section := ov.Type().Field(i).Tag.Get("toml")
		if ov.Field(i).Kind() != reflect.Struct || section == "-" || section == "slate" || section == "alarms" || section == "record" {
			continue
		}
		out = append(out, changedKeys(section, ov.Field(i), nv.Field(i))...)
	}
	out = append(out, changedBackups(was.Backups, is.Backups)...)
	switch {
	case was.Slate == is.Slate:
	case is.Slate.Off:
		out = append(out, "slate off")
	default:
		if was.Slate.Off {
			out = append(out, "slate on")
		}
		out = append(out, changedKeys("slate", reflect.ValueOf(was.Slate), reflect.ValueOf(is.Slate))...)
	}
	switch {
	case was.Alarms == is.Alarms:
	case is.Alarms.Off:
		out = append(out, "alarms off")
	case was.Alarms.Off:
		out = append(out, "alarms on")
	default:
		out = append(out, changedKeys("alarms", reflect.ValueOf(was.Alarms), reflect.ValueOf(is.Alarms))...)
	}
	switch {
	case was.Record == is.Record:
	case !is.Record.On:
		out = append(out, "record off")
	case !was.Record.On:
		out = append(out, "record on")
	default:
		out = append(out, changedKeys("record", reflect.ValueOf(was.Record), reflect.ValueOf(is.Record))...)
	}
	out = append(out, changedDestinations(was.Destinations, is.Destinations)...)
	for _, t := range []struct {
		key     string
		was, is Duration
	}{
		{"hold", was.Hold, is.Hold}, {"failover_after", was.FailoverAfter, is.FailoverAfter},
		{"return_after", was.ReturnAfter, is.ReturnAfter}, {"slate_after", was.SlateAfter, is.SlateAfter},
	} {
		if t.was != t.is {
			out = append(out, fmt.Sprintf("%s %q → %q", t.key, t.was, t.is))
		}
	}
	if was.Name != is.Name {
		out = append(out, fmt.Sprintf("name %q → %q", was.Name, is.Name))
	}
	return out
}

// changedKeys says which keys of two versions of a table differ, each as
// "prefix.key old → new", or "prefix.key changed" for a list. URLs are redacted.
func changedKeys(prefix string, was, is reflect.Value) []string {
	var out []string
	for j := range was.NumField() {
		key := was.Type().Field(j).Tag.Get("toml")
		a, b := was.Field(j), is.Field(j)
		if key == "-" || reflect.DeepEqual(a.Interface(), b.Interface()) {
			continue
		}
		if a.Kind() == reflect.Slice {
			out = append(out, prefix+"."+key+" changed")
			continue
		}
		av, bv := fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface())
		if key == "url" {
			av, bv = Redact(av), Redact(bv)
		}
		out = append(out, fmt.Sprintf("%s.%s %q → %q", prefix, key, av, bv))
	}
	return out
}

// changedBackups says how the backups changed, position by position, since their order is
// the order they are tried in: "backup 2 +file /srv/loop.mp4", "backup 3 -testsrc",
// "backup 1 ~rtsp rtsp://cam/x" (another kind), or the keys that changed
// ("backup 1.url ...").
func changedBackups(was, is []Source) []string {
	var out []string
	for i := range max(len(was), len(is)) {
		name := InputName(i + 1)
		switch {
		case i >= len(was):
			out = append(out, name+" +"+describeInput(is[i]))
		case i >= len(is):
			out = append(out, name+" -"+describeInput(was[i]))
		case was[i].Kind != is[i].Kind:
			out = append(out, name+" ~"+describeInput(is[i]))
		default:
			out = append(out, changedKeys(name, reflect.ValueOf(was[i]), reflect.ValueOf(is[i]))...)
		}
	}
	return out
}

// describeInput names an input by its kind and what it captures, its URL redacted.
// input_args are left out: they may hold a URL with a password.
func describeInput(s Source) string {
	switch s.Kind {
	case SourceV4L2:
		return s.Kind + " " + s.Device
	case SourceRTSP:
		return s.Kind + " " + Redact(s.URL)
	case SourceFile:
		return s.Kind + " " + s.Path
	}
	return s.Kind
}

// changedDestinations says which destinations were added (+), removed (-) or changed (~), each
// by its URL redacted. A destination is the same stream as before (see streamOf), or else one of
// the same URL whose stream key or streamid changed: a new key for the same ingest URL is a
// change of the destination, as an operator sees it, not one gone and one added.
func changedDestinations(was, is []Destination) []string {
	var out []string
	before := make(map[string]Destination, len(was))
	for _, d := range was {
		before[streamOf(d)] = d
	}
	matched := make(map[string]bool, len(was))
	var unmatched []Destination
	for _, d := range is {
		s := streamOf(d)
		prev, ok := before[s]
		if !ok {
			unmatched = append(unmatched, d)
			continue
		}
		matched[s] = true
		if prev != d {
			out = append(out, "destination ~"+Redact(d.URL))
		}
	}
	var gone []Destination
	for _, d := range was {
		if !matched[streamOf(d)] {
			gone = append(gone, d)
		}
	}
	for _, d := range unmatched {
		i := slices.IndexFunc(gone, func(g Destination) bool { return g.URL == d.URL })
		if i < 0 {
			out = append(out, "destination +"+Redact(d.URL))
			continue
		}
		gone = slices.Delete(gone, i, i+1)
		out = append(out, "destination ~"+Redact(d.URL))
	}
	for _, d := range gone {
		out = append(out, "destination -"+Redact(d.URL))
	}
	return out
}
