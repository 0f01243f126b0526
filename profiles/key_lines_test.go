package profiles

import (
	"maps"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestScanKeyLines(t *testing.T) {
	src := `# comment with "quotes" and [brackets] = x
top = 1
"quoted key" = 'it"s'
s = """
multi-line "string"
with [brackets] and key = value
"""
lit = '''
[not.a.table]
'''
[a]
b.c = "#not a comment"   # but this is
d = { e = 1, "f g" = { h = 2 } }
dt = 1979-05-27 07:32:00Z
arr = [
  1,
  { x = "]" },
  [ 2, 3 ],
]

[[dest]]
url = "u1"
[dest.opts]
k = true
[[dest.hops]]
n = 1
[[dest.hops]]
n = 2

[[dest]]
url = "u2"
[[dest.hops]]
n = 3
[ "sp ace" . x ]
y = 'esc\'
`
	// The scanner runs only on documents toml accepts; make sure this one is.
	var m map[string]any
	if _, err := toml.Decode(src, &m); err != nil {
		t.Fatal(err)
	}
	want := keyLines{
		"top":               2,
		`"quoted key"`:      3,
		"s":                 4,
		"lit":               8,
		"a":                 11,
		"a.b":               12,
		"a.b.c":             12,
		"a.d":               13,
		"a.d.e":             13,
		`a.d."f g"`:         13,
		`a.d."f g".h`:       13,
		"a.dt":              14,
		"a.arr":             15,
		"a.arr[0]":          16,
		"a.arr[1]":          17,
		"a.arr[1].x":        17,
		"a.arr[2]":          18,
		"a.arr[2][0]":       18,
		"a.arr[2][1]":       18,
		"dest":              21,
		"dest[0]":           21,
		"dest[0].url":       22,
		"dest[0].opts":      23,
		"dest[0].opts.k":    24,
		"dest[0].hops":      25,
		"dest[0].hops[0]":   25,
		"dest[0].hops[0].n": 26,
		"dest[0].hops[1]":   27,
		"dest[0].hops[1].n": 28,
		"dest[1]":           30,
		"dest[1].url":       31,
		"dest[1].hops":      32,
		"dest[1].hops[0]":   32,
		"dest[1].hops[0].n": 33,
		`"sp ace"`:          34,
		`"sp ace".x`:        34,
		`"sp ace".x.y`:      35,
	}
	got := scanKeyLines(src)
	for k, line := range want {
		if got[k] != line {
			t.Errorf("%s: line %d, want %d", k, got[k], line)
		}
	}
	for k := range maps.Keys(got) {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected key %s at line %d", k, got[k])
		}
	}
}

func TestKeyLinesFallBackToTable(t *testing.T) {
	kl := keyLines{"video": 4}
	if got := kl.lineOf(keyPath{}.key("video").key("fps")); got != 4 {
		t.Errorf("line = %d, want 4 (the table's)", got)
	}
	if got := kl.lineOf(keyPath{}.key("audio").key("fps")); got != 0 {
		t.Errorf("line = %d, want 0", got)
	}
}

func TestKeyPath(t *testing.T) {
	p := keyPath{}.key("destination").index(1).key("url")
	if got, want := p.String(), "destination[1].url"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := p.name(), "destination.url"; got != want {
		t.Errorf("name() = %q, want %q", got, want)
	}
	// A key that looks like an index stays a key.
	if got, want := (keyPath{}.key("a").key("[1]")).String(), `a."[1]"`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
