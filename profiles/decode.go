package profiles

import (
	"cmp"
	"encoding"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// decoder turns one file's TOML into config values, collecting every mistake with its line.
//
// The file is decoded into a generic tree and walked by hand rather than decoded into the
// structs: toml's struct decoding stops at its first type error (which one depends on map
// order), matches keys case-insensitively, and cannot tell a missing key from a zero one, while
// an operator should see all mistakes at once and "fps = 0" must not quietly become the
// default. For the same reason unknown keys are the keys the walk did not consume, not
// toml.MetaData.Undecoded, which knows nothing of a tree decoded into a map.
type decoder struct {
	file  string
	lines keyLines
	errs  Errors
	warns Errors
}

// parse decodes src into a tree. It returns nil if src is not valid TOML or nests deeper than
// maxNesting, having reported why.
func (d *decoder) parse(src []byte) *table {
	if line, tooDeep := nestingTooDeep(src); tooDeep {
		d.errs = append(d.errs, &Error{File: d.file, Line: line,
			Msg: fmt.Sprintf("nested more than %d levels deep (arrays, inline tables, dotted keys): no profile needs that", maxNesting)})
		return nil
	}
	var m map[string]any
	if _, err := toml.Decode(string(src), &m); err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			d.errs = append(d.errs, &Error{File: d.file, Line: pe.Position.Line, Msg: pe.Message})
		} else {
			d.errs = append(d.errs, &Error{File: d.file, Msg: err.Error()})
		}
		return nil
	}
	d.lines = scanKeyLines(string(src))
	return &table{m: m, used: map[string]bool{}}
}

// DecodeTOMLFile decodes the TOML file at path into v, as toml.DecodeFile does, within the
// limits every file of the configuration is read with: a regular file of at most 1 MiB whose
// values nest at most 32 levels deep. Callers that look into a file Load refused use it, since
// the TOML library on a file nested 100,000 levels deep overflows the stack.
func DecodeTOMLFile(path string, v any) error {
	src, err := readFile(path)
	if err != nil {
		return err
	}
	if line, tooDeep := nestingTooDeep(src); tooDeep {
		return fmt.Errorf("%s:%d: nested more than %d levels deep", path, line, maxNesting)
	}
	_, err = toml.Decode(string(src), v)
	return err
}

// errorf reports a mistake at the line of p.
func (d *decoder) errorf(p keyPath, format string, args ...any) {
	d.errs = append(d.errs, &Error{File: d.file, Line: d.lines.lineOf(p), Msg: fmt.Sprintf(format, args...)})
}

// warnf reports something that works but should be written otherwise, at the line of p.
func (d *decoder) warnf(p keyPath, format string, args ...any) {
	d.warns = append(d.warns, &Error{File: d.file, Line: d.lines.lineOf(p), Msg: p.name() + ": " + fmt.Sprintf(format, args...)})
}

// keyErrorf reports a mistake in the value of p, prefixed with the key's name.
func (d *decoder) keyErrorf(p keyPath, format string, args ...any) {
	d.errorf(p, "%s: %s", p.name(), fmt.Sprintf(format, args...))
}

// table is a TOML table being walked: the keys read so far are marked used, and those left
// over are unknown.
type table struct {
	path keyPath
	m    map[string]any
	used map[string]bool
	// known lists every key the walk asked for, set or not: the suggestions for a misspelt one.
	known []string
	// hints say, by key, where an unknown key that is known elsewhere goes.
	hints map[string]string
}

// hint sets what the message of key k says when k is unknown in t.
func (t *table) hint(k, msg string) {
	if t.hints == nil {
		t.hints = map[string]string{}
	}
	t.hints[k] = msg
}

// get returns the value of key k and marks it used.
func (t *table) get(k string) (any, keyPath, bool) {
	if !slices.Contains(t.known, k) {
		t.known = append(t.known, k)
	}
	v, ok := t.m[k]
	if ok {
		t.used[k] = true
	}
	return v, t.path.key(k), ok
}

// has reports whether key k is set in t, without marking it used.
func (t *table) has(k string) bool {
	_, ok := t.m[k]
	return ok
}

// table returns the sub-table k, or an empty table if k is not set.
func (d *decoder) table(t *table, k string) *table {
	v, p, ok := t.get(k)
	sub := &table{path: p, used: map[string]bool{}}
	if !ok {
		return sub
	}
	m, isTable := v.(map[string]any)
	if !isTable {
		d.keyErrorf(p, "want a table, got %s", describe(v))
	}
	sub.m = m
	return sub
}

// tables returns the tables of the array of tables k, written either as [[k]] sections or as
// an inline array of tables.
func (d *decoder) tables(t *table, k string) []*table {
	v, p, ok := t.get(k)
	if !ok {
		return nil
	}
	var elems []any
	switch v := v.(type) {
	case []map[string]any:
		for _, m := range v {
			elems = append(elems, m)
		}
	case []any:
		elems = v
	default:
		d.keyErrorf(p, "want an array of tables ([[%s]]), got %s", p.name(), describe(v))
		return nil
	}
	ts := make([]*table, 0, len(elems))
	for i, e := range elems {
		ep := p.index(i)
		m, isTable := e.(map[string]any)
		if !isTable {
			d.errorf(ep, "%s: want a table, got %s", p.name(), describe(e))
			continue
		}
		ts = append(ts, &table{path: ep, m: m, used: map[string]bool{}})
	}
	return ts
}

// The setters below leave *dst alone when the key is not set, so it keeps its default, and
// also when the value is wrong, so that validation does not report the same key twice. They
// return the key's path for the checks that follow.

// str sets *dst to the string k.
func (d *decoder) str(t *table, k string, dst *string) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	s, isString := v.(string)
	if !isString {
		d.keyErrorf(p, "want a string, got %s", describe(v))
		return p
	}
	*dst = s
	return p
}

// boolean sets *dst to the boolean k.
func (d *decoder) boolean(t *table, k string, dst *bool) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	b, isBool := v.(bool)
	if !isBool {
		d.keyErrorf(p, "want true or false, got %s", describe(v))
		return p
	}
	*dst = b
	return p
}

// integer sets *dst to the integer k.
func (d *decoder) integer(t *table, k string, dst *int) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	n, isInt := v.(int64)
	if !isInt || int64(int(n)) != n {
		d.keyErrorf(p, "want an integer, got %s", describe(v))
		return p
	}
	*dst = int(n)
	return p
}

// strs sets *dst to the array of strings k. An empty array leaves *dst nil, as a missing key
// does: the two mean the same.
func (d *decoder) strs(t *table, k string, dst *[]string) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	elems, isArray := v.([]any)
	if !isArray {
		d.keyErrorf(p, "want an array of strings, got %s", describe(v))
		return p
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		s, isString := e.(string)
		if !isString {
			d.errorf(p.index(i), "%s: want a string, got %s", p.name(), describe(e))
			return p
		}
		out[i] = s
	}
	if len(out) > 0 {
		*dst = out
	}
	return p
}

// text sets dst from the string k. With allowInt an integer is taken as its decimal text, so
// that "bitrate = 128000" works as well as "bitrate = \"128k\"".
func (d *decoder) text(t *table, k string, dst encoding.TextUnmarshaler, allowInt bool) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case int64:
		if !allowInt {
			d.keyErrorf(p, "want a string, got %s", describe(v))
			return p
		}
		s = strconv.FormatInt(v, 10)
	default:
		d.keyErrorf(p, "want a string, got %s", describe(v))
		return p
	}
	d.check(p, dst.UnmarshalText([]byte(s)))
	return p
}

// check reports err, if any, as a mistake in the value of p.
func (d *decoder) check(p keyPath, err error) {
	if err != nil {
		d.keyErrorf(p, "%v", err)
	}
}

// unknown reports the keys of t the walk did not use, in the order of the file. A key under an
// unknown table is not reported on its own: the table is the mistake.
func (d *decoder) unknown(t *table) {
	// Each key's line is looked up once: a sort that looked them up at each comparison made a
	// profile of 100,000 unknown keys cost half a gigabyte and seconds at every reload.
	type unknownKey struct {
		name string
		line int
	}
	var keys []unknownKey
	for k := range t.m {
		if !t.used[k] {
			keys = append(keys, unknownKey{k, d.lines.lineOf(t.path.key(k))})
		}
	}
	slices.SortFunc(keys, func(a, b unknownKey) int {
		return cmp.Or(cmp.Compare(a.line, b.line), strings.Compare(a.name, b.name))
	})
	for _, k := range keys {
		p := t.path.key(k.name)
		msg := fmt.Sprintf("unknown key %q", p.name())
		if hint := t.hints[k.name]; hint != "" {
			msg += ": " + hint
		} else if near := nearest(k.name, t.known); near != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", near)
		}
		d.errs = append(d.errs, &Error{File: d.file, Line: k.line, Msg: msg})
	}
}

// nearest returns the known key that k is most likely a misspelling of, or "": one that differs
// only in case, or by at most one edit in four characters (at least one, at most two edits).
func nearest(k string, known []string) string {
	best, bestDist := "", min(max(len(k)/4, 1), 2)+1
	for _, c := range known {
		if strings.EqualFold(k, c) {
			return c
		}
		// The distance is at least the difference in length: a long key costs nothing.
		if abs(len(k)-len(c)) >= bestDist {
			continue
		}
		if d := editDistance(k, c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

func abs(n int) int { return max(n, -n) }

// editDistance is the number of single-byte insertions, deletions, substitutions and swaps of
// two neighbours that turn a into b (optimal string alignment distance): "vidoe" is one from
// "video".
func editDistance(a, b string) int {
	// rows i-2, i-1 and i of the table, on the stack for a known key (they are short): a file of
	// many unknown keys compares each with every known key of its length
	var buf [3 * 32]int
	n := len(b) + 1
	rows := buf[:]
	if 3*n > len(buf) {
		rows = make([]int, 3*n)
	}
	pp, prev, cur := rows[:n], rows[n:2*n], rows[2*n:3*n]
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], pp[j-2]+1)
			}
		}
		pp, prev, cur = prev, cur, pp
	}
	return prev[len(b)]
}

// describe names the TOML type of v, with the value itself when it is short.
func describe(v any) string {
	switch v := v.(type) {
	case string:
		if len(v) > 40 {
			return "a string"
		}
		return fmt.Sprintf("string %q", v)
	case int64:
		return fmt.Sprintf("integer %d", v)
	case float64:
		return fmt.Sprintf("float %v", v)
	case bool:
		return fmt.Sprintf("boolean %v", v)
	case time.Time:
		return "a date-time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}
