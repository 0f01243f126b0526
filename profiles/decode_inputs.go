package profiles

import (
	"path/filepath"
	"strings"
)

// timings reads failover_after, return_after and slate_after over their defaults. It reports
// whether they are right, for checkSlateAfter.
func (d *decoder) timings(t *table, ch *Channel) bool {
	ch.FailoverAfter, ch.ReturnAfter, ch.SlateAfter = defaultFailoverAfter, defaultReturnAfter, defaultSlateAfter
	before := len(d.errs)
	d.check(d.text(t, "failover_after", &ch.FailoverAfter, false), checkAtLeast(ch.FailoverAfter, minFailoverAfter))
	d.check(d.text(t, "return_after", &ch.ReturnAfter, false), checkAtLeast(ch.ReturnAfter, minReturnAfter))
	d.check(d.text(t, "slate_after", &ch.SlateAfter, false), checkAtLeast(ch.SlateAfter, minSlateAfter))
	return len(d.errs) == before
}

// checkSlateAfter reports a slate that would go on air before the first backup is tried: the
// backups would then never get their turn while the slate is up.
func (d *decoder) checkSlateAfter(t *table, ch *Channel) {
	if len(ch.Backups) == 0 || ch.Slate.Off || ch.SlateAfter >= ch.FailoverAfter {
		return
	}
	if t.has("slate_after") {
		d.keyErrorf(t.path.key("slate_after"), "%s is shorter than failover_after (%s): the slate would come before a backup is tried",
			ch.SlateAfter, ch.FailoverAfter)
		return
	}
	d.keyErrorf(t.path.key("failover_after"), "%s is longer than slate_after (%s, the default): the slate would come before a backup is tried; raise slate_after",
		ch.FailoverAfter, ch.SlateAfter)
}

// backups reads the [[backup]] tables of t into ch.Backups and returns them in the same order.
// Those beyond MaxBackups are refused, unread.
func (d *decoder) backups(t *table, ch *Channel) []*table {
	ts := d.tables(t, "backup")
	if len(ts) > MaxBackups {
		d.errorf(ts[MaxBackups].path, "backup: at most %d [[backup]] inputs (this profile has %d)", MaxBackups, len(ts))
		ts = ts[:MaxBackups]
	}
	for _, bt := range ts {
		var s Source
		d.source(bt, &s, true)
		ch.Backups = append(ch.Backups, s)
	}
	return ts
}

// checkDevices reports a capture device that two inputs of ch name: a v4l2 device, or an ALSA
// one, opens once, so whichever input opens it second fails at every try. PulseAudio devices
// take several clients and may be shared. The error is at the later input's key. tables are
// those of the source and the backups, in order; fillDefaults has run.
func (d *decoder) checkDevices(ch *Channel, tables []*table) {
	devices, sounds := map[string]int{}, map[string]int{} // input by device
	// claim gives device, the value of key k of input i, to i, or reports it if an earlier
	// input has it.
	claim := func(owners map[string]int, device string, i int, k, what string) {
		j, taken := owners[filepath.Clean(device)]
		if !taken {
			owners[filepath.Clean(device)] = i
			return
		}
		t, owner := tables[i], InputName(j)+"'s"
		if j == 0 {
			owner = "the source's"
		}
		if !t.has(k) {
			device += " (the default)"
		}
		d.errorf(t.path.key(k), "%s: %s is already %s %s: a capture device opens once; give each input its own",
			InputName(i), device, owner, what)
	}
	for i, s := range append([]Source{ch.Source}, ch.Backups...) {
		if s.Kind != SourceV4L2 {
			continue
		}
		claim(devices, s.Device, i, "device", "device")
		if strings.HasPrefix(s.Audio, "alsa:") {
			claim(sounds, s.Audio, i, "audio", "audio device")
		}
	}
}

// slate reads slate from t: "off", or a [slate] table.
func (d *decoder) slate(t *table, s *Slate) {
	v, p, ok := t.get("slate")
	if !ok {
		s.Text = defaultSlateText
		return
	}
	switch v := v.(type) {
	case string:
		if v == "off" {
			s.Off = true
			return
		}
	case map[string]any:
		d.slateTable(&table{path: p, m: v, used: map[string]bool{}}, s)
		return
	}
	d.keyErrorf(p, `want "off" or a [slate] table, got %s`, describe(v))
}

// slateTable reads a [slate] table over s.
func (d *decoder) slateTable(t *table, s *Slate) {
	if p := d.str(t, "image", &s.Image); s.Image != "" {
		s.Image = d.relative(s.Image)
		d.check(p, checkImage(s.Image))
	}
	s.Text = defaultSlateText
	textPath := d.str(t, "text", &s.Text)
	switch {
	case s.Image != "" && t.has("text"):
		d.keyErrorf(textPath, "drawn on the card liveinject makes only, not over an image: give image or text")
	case s.Image != "":
		s.Text = ""
	default:
		d.check(textPath, checkSlateText(s.Text))
	}
	d.unknown(t)
}
