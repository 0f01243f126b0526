package supervisor

import "github.com/liveinject/liveinject/profiles"

// InputProfiles returns channel ch as each of its inputs runs it, in the order they go on air:
// the source, each backup, and the slate unless it is off. Args of each is that input's
// command line; every one encodes with the channel's [video] and [audio], so that the
// destinations see one stream across a switch. None of them has backups of its own.
func InputProfiles(ch profiles.Channel) []profiles.Channel {
	out := feedProfiles(ch)
	if !ch.Slate.Off {
		out = append(out, slateProfile(ch))
	}
	return out
}

// InputNames returns the names of channel ch's inputs, in InputProfiles' order: "source",
// "backup 1"… (profiles.InputName) and "slate".
func InputNames(ch profiles.Channel) []string {
	names := make([]string, 0, len(ch.Backups)+2)
	for i := range len(ch.Backups) + 1 {
		names = append(names, profiles.InputName(i))
	}
	if !ch.Slate.Off {
		names = append(names, "slate")
	}
	return names
}
