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
	// Restart channels changed what ffmpeg does: their ffmpeg is stopped and started again.
	Restart []Channel
	// Retarget channels changed only their destinations: their injector gets the new list,
	// ffmpeg keeps running.
	Retarget []Channel
	// Unchanged channels are left alone.
	Unchanged []Channel
}

// Empty reports whether applying the changes would do nothing.
func (c Changes) Empty() bool {
	return len(c.Added) == 0 && len(c.Removed) == 0 && len(c.Restart) == 0 && len(c.Retarget) == 0
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
		case !SameDestinations(prev, ch):
			c.Retarget = append(c.Retarget, ch)
		default:
			c.Unchanged = append(c.Unchanged, ch)
		}
	}
	for _, ch := range old {
		if !seen[ch.Name] {
			c.Removed = append(c.Removed, ch)
		}
	}
	for _, l := range []*[]Channel{&c.Added, &c.Removed, &c.Restart, &c.Retarget, &c.Unchanged} {
		slices.SortFunc(*l, func(a, b Channel) int { return cmp.Compare(a.Name, b.Name) })
	}
	return c
}

// SameEncoding reports whether two versions of a channel run the same ffmpeg: everything but
// the destinations and where the profile was read from is the same.
func SameEncoding(a, b Channel) bool {
	a.File, b.File = "", ""
	a.Destinations, b.Destinations = nil, nil
	a.Hold, b.Hold = 0, 0 // the channel's owner applies it without a restart
	return reflect.DeepEqual(a, b)
}

// SameDestinations reports whether two versions of a channel push to the same destinations in
// the same way.
func SameDestinations(a, b Channel) bool {
	return slices.Equal(a.Destinations, b.Destinations)
}

// Changed says what differs between two versions of a channel, for the log of a reload: one
// "key old → new" per setting ("video.bitrate 2500k → 800k"), and the destinations added (+),
// removed (-) and changed (~). Passwords never show; lists say only that they changed.
func Changed(was, is Channel) []string {
	var out []string
	ov, nv := reflect.ValueOf(was), reflect.ValueOf(is)
	for i := range ov.NumField() {
		section := ov.Type().Field(i).Tag.Get("toml")
		if ov.Field(i).Kind() != reflect.Struct || section == "-" {
			continue
		}
		osec, nsec := ov.Field(i), nv.Field(i)
		for j := range osec.NumField() {
			key := osec.Type().Field(j).Tag.Get("toml")
			a, b := osec.Field(j), nsec.Field(j)
			if key == "-" || reflect.DeepEqual(a.Interface(), b.Interface()) {
				continue
			}
			if a.Kind() == reflect.Slice {
				out = append(out, section+"."+key+" changed")
				continue
			}
			av, bv := fmt.Sprint(a.Interface()), fmt.Sprint(b.Interface())
			if key == "url" {
				av, bv = Redact(av), Redact(bv)
			}
			out = append(out, fmt.Sprintf("%s.%s %q → %q", section, key, av, bv))
		}
	}
	before := make(map[string]Destination, len(was.Destinations))
	for _, d := range was.Destinations {
		before[streamOf(d.URL)] = d
	}
	after := make(map[string]bool, len(is.Destinations))
	for _, d := range is.Destinations {
		s := streamOf(d.URL)
		after[s] = true
		if prev, ok := before[s]; !ok {
			out = append(out, "destination +"+Redact(d.URL))
		} else if prev != d {
			out = append(out, "destination ~"+Redact(d.URL))
		}
	}
	for _, d := range was.Destinations {
		if !after[streamOf(d.URL)] {
			out = append(out, "destination -"+Redact(d.URL))
		}
	}
	if was.Hold != is.Hold {
		out = append(out, fmt.Sprintf("hold %q → %q", was.Hold, is.Hold))
	}
	if was.Name != is.Name {
		out = append(out, fmt.Sprintf("name %q → %q", was.Name, is.Name))
	}
	return out
}
