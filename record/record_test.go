package record

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestSegmentNames(t *testing.T) {
	start := time.Date(2026, 12, 4, 10, 15, 0, 500e6, time.FixedZone("CET", 3600))
	if got := SegmentName(start, 1); got != "2026-12-04T09-15-00Z.ts" {
		t.Errorf("SegmentName = %q", got)
	}
	if got := SegmentName(start, 12); got != "2026-12-04T09-15-00Z_12.ts" {
		t.Errorf("SegmentName n=12 = %q", got)
	}
	for name, want := range map[string]Segment{
		"2026-12-04T09-15-00Z.ts":      {Start: start.Truncate(time.Second).UTC()},
		"2026-12-04T09-15-00Z.ts.part": {Start: start.Truncate(time.Second).UTC(), Open: true},
		"2026-12-04T09-15-00Z_2.ts":    {Start: start.Truncate(time.Second).UTC()},
	} {
		s, ok := ParseSegmentName(name)
		want.Name = name
		if !ok || s != want {
			t.Errorf("ParseSegmentName(%q) = %+v %v, want %+v", name, s, ok, want)
		}
	}
	for _, name := range []string{"x.ts", "2026-12-04T09-15-00Z.mp4", "2026-12-04T09-15-00Z_1.ts",
		"2026-12-04T09-15-00Z_02.ts", "../2026-12-04T09-15-00Z.ts", "2026-12-04T09-15-00Z-x.ts", ""} {
		if s, ok := ParseSegmentName(name); ok {
			t.Errorf("ParseSegmentName(%q) = %+v, want not a segment", name, s)
		}
	}
}

func TestList(t *testing.T) {
	dir := t.TempDir()
	if got, err := List(filepath.Join(dir, "none")); err != nil || len(got) != 0 || got == nil {
		t.Errorf("List of a missing folder: %v %v, want empty", got, err)
	}
	files := map[string]int{
		"2026-12-04T09-15-00Z_10.ts":   3,
		"2026-12-04T09-15-00Z.ts":      1,
		"2026-12-04T09-15-00Z_2.ts":    2,
		"2026-12-04T09-14-00Z.ts":      0,
		"2026-12-04T09-16-00Z.ts.part": 4,
		"notes.txt":                    5,
	}
	for name, size := range files {
		if err := os.WriteFile(filepath.Join(dir, name), make([]byte, size), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "2026-12-04T09-17-00Z.ts"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range got {
		names = append(names, s.Name)
		if int(s.Size) != files[s.Name] {
			t.Errorf("%s: size %d, want %d", s.Name, s.Size, files[s.Name])
		}
	}
	want := []string{"2026-12-04T09-14-00Z.ts", "2026-12-04T09-15-00Z.ts", "2026-12-04T09-15-00Z_2.ts",
		"2026-12-04T09-15-00Z_10.ts", "2026-12-04T09-16-00Z.ts.part"}
	if !slices.Equal(names, want) {
		t.Errorf("List = %q, want %q", names, want)
	}
}
