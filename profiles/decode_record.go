package profiles

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Record is how a channel's program is kept on the box's disk while it streams (see package
// record): MPEG-TS segments in a folder of its own, pruned by age, size and free space.
type Record struct {
	// On: the profile has [record], or the main config's [defaults] has and the profile does
	// not say record = "off".
	On bool `toml:"-"`
	// Dir holds one folder per channel, Dir/NAME/. Relative to the profile's directory (for
	// [defaults.record]: to the main config file's directory) unless absolute; made absolute
	// when loaded. Default "recordings".
	Dir string `toml:"dir"`
	// Segment is how long a segment runs: the next begins at the first video keyframe after
	// it. Default 1m, from 1s to 1h.
	Segment Duration `toml:"segment"`
	// Keep is how long a segment is kept after it began ("7d", "36h"). Default 7d.
	Keep Duration `toml:"keep"`
	// MaxSize bounds the channel's segments together; 0: no bound.
	MaxSize ByteSize `toml:"max_size"`
	// MinFree is the free space to leave on the folder's file system: "5%" (default) or bytes.
	MinFree FreeSpace `toml:"min_free"`
}

// ChannelDir returns the folder of channel name's segments.
func (r Record) ChannelDir(name string) string { return filepath.Join(r.Dir, name) }

// Record defaults and limits: a minute per segment is a file an operator can find by its time
// and a short loss on a crash; a week covers a weekend's events until someone looks.
const (
	defaultRecordDir     = "recordings"
	defaultRecordSegment = Duration(time.Minute)
	defaultRecordKeep    = Duration(7 * 24 * time.Hour)
	defaultMinFreePct    = 5
	minRecordSegment     = time.Second
	maxRecordSegment     = time.Hour
	// maxRecordKeep catches a slip ("7000d"), as checkAtMost does for timings.
	maxRecordKeep = 10 * 365 * 24 * time.Hour
)

// record reads record from t: "off" (in a profile only), or a [record] table over r.
func (d *decoder) record(t *table, r *Record, inProfile bool) {
	v, p, ok := t.get("record")
	if !ok {
		return
	}
	switch v := v.(type) {
	case string:
		if v == "off" && inProfile {
			*r = Record{}
			return
		}
	case map[string]any:
		d.recordTable(&table{path: p, m: v, used: map[string]bool{}}, r)
		return
	}
	if inProfile {
		d.keyErrorf(p, `want "off" or a [record] table, got %s`, describe(v))
		return
	}
	d.keyErrorf(p, `want a [defaults.record] table, got %s`, describe(v))
}

// recordTable reads a [record] table over r, which holds [defaults.record]'s if any.
func (d *decoder) recordTable(t *table, r *Record) {
	if !r.On {
		*r = Record{On: true, Segment: defaultRecordSegment, Keep: defaultRecordKeep,
			MinFree: FreeSpace{Percent: defaultMinFreePct}}
	}
	if p := d.str(t, "dir", &r.Dir); t.has("dir") {
		if r.Dir == "" {
			d.keyErrorf(p, "empty: give a folder, or leave dir out for %q", defaultRecordDir)
		}
		r.Dir = d.relative(r.Dir)
	}
	if r.Dir == "" {
		r.Dir = d.relative(defaultRecordDir)
	}
	segPath := d.text(t, "segment", &r.Segment, false)
	if r.Segment.Std() < minRecordSegment || r.Segment.Std() > maxRecordSegment {
		d.keyErrorf(segPath, "%s: want from %v to %v", r.Segment, minRecordSegment, maxRecordSegment)
	}
	keepPath := d.text(t, "keep", &r.Keep, false)
	switch {
	case r.Keep.Std() < r.Segment.Std():
		d.keyErrorf(keepPath, "%s is shorter than a segment (%s): at least one segment is kept", r.Keep, r.Segment)
	case r.Keep.Std() > maxRecordKeep:
		d.keyErrorf(keepPath, "%s is too long: at most 3650d", r.Keep)
	}
	before := len(d.errs)
	if p := d.text(t, "max_size", &r.MaxSize, true); t.has("max_size") && len(d.errs) == before && r.MaxSize <= 0 {
		d.keyErrorf(p, "must be greater than 0 (leave max_size out for no bound)")
	}
	d.text(t, "min_free", &r.MinFree, true)
	d.unknown(t)
}

// ByteSize is a number of bytes: "20GiB", "500MB", "1.5T" or a plain number.
type ByteSize int64

// byteUnits are the suffixes ByteSize reads: k, M, G, T in powers of 1000 (with or without a
// B), Ki, Mi, Gi, Ti in powers of 1024 (with or without a B).
var byteUnits = []struct {
	suffix string
	mult   float64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40},
	{"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"k", 1e3}, {"K", 1e3}, {"M", 1e6}, {"G", 1e9}, {"T", 1e12}, {"B", 1},
}

// String returns b in the largest binary unit that writes it whole, e.g. "20GiB".
func (b ByteSize) String() string {
	for _, u := range []struct {
		s string
		m ByteSize
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if b != 0 && b%u.m == 0 {
			return strconv.FormatInt(int64(b/u.m), 10) + u.s
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText writes b as String does.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads bytes (see ByteSize).
func (b *ByteSize) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	mult := 1.0
	for _, u := range byteUnits {
		if rest, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if !isDecimal(s) || err != nil {
		return fmt.Errorf("invalid size %q (want bytes, e.g. \"20GiB\", \"500MB\" or \"1000000\")", text)
	}
	v := math.Round(f * mult)
	if v >= 1<<62 {
		return fmt.Errorf("invalid size %q: too large", text)
	}
	*b = ByteSize(v)
	return nil
}

// FreeSpace is free space on a file system: a percentage of its size, or bytes.
type FreeSpace struct {
	Percent float64
	Bytes   ByteSize
}

// String returns f as UnmarshalText reads it: "5%" or "2GiB".
func (f FreeSpace) String() string {
	if f.Bytes > 0 {
		return f.Bytes.String()
	}
	return strconv.FormatFloat(f.Percent, 'f', -1, 64) + "%"
}

// MarshalText writes f as String does.
func (f FreeSpace) MarshalText() ([]byte, error) { return []byte(f.String()), nil }

// UnmarshalText reads "5%" (above 0, under 100) or bytes (see ByteSize), more than 0.
func (f *FreeSpace) UnmarshalText(text []byte) error {
	if s, ok := strings.CutSuffix(strings.TrimSpace(string(text)), "%"); ok {
		p, err := strconv.ParseFloat(s, 64)
		if !isDecimal(s) || err != nil || p <= 0 || p >= 100 {
			return fmt.Errorf("invalid free space %q (want a percentage above 0 and under 100, e.g. \"5%%\", or bytes, e.g. \"2GiB\")", text)
		}
		*f = FreeSpace{Percent: p}
		return nil
	}
	var b ByteSize
	if err := b.UnmarshalText(text); err != nil || b <= 0 {
		return fmt.Errorf("invalid free space %q (want a percentage, e.g. \"5%%\", or bytes above 0, e.g. \"2GiB\")", text)
	}
	*f = FreeSpace{Bytes: b}
	return nil
}
