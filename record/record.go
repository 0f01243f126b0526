// Package record keeps a channel's program on the box's disk while it streams: the frames that
// go on air, as MPEG-TS segments cut at keyframes, each playable alone, pruned by age, size and
// free space. It is an output of a channel, beside its destinations: it takes the frames the
// demuxer made, whatever the servers do.
package record

import (
	"cmp"
	"errors"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Recording states, as Stats shows them.
const (
	// StateWaiting: recording is on and waits for the channel's next keyframe to begin a segment
	// (at the start, and after a gap: an outage, a hold).
	StateWaiting = "waiting"
	// StateRecording: a segment is being written.
	StateRecording = "recording"
	// StateError: it cannot write (Cause says why: the disk is full, the folder cannot be
	// made, a write failed); it tries again by itself, and the channel's streaming goes on.
	StateError = "error"
)

// Reasons for which retention deletes a segment, as Stats.Deleted counts them.
const (
	DeletedKeep    = "keep"     // older than keep
	DeletedMaxSize = "max_size" // the channel's segments took more than max_size
	DeletedMinFree = "min_free" // the file system had less free space than min_free
)

// Stats are a channel's recording figures.
type Stats struct {
	State string
	// Cause says why, in StateError; empty otherwise.
	Cause string
	// Dir is the channel's folder, where its segments are.
	Dir string
	// BytesOnDisk and Segments are the size and number of the closed segments in Dir (the one
	// being written not counted); Oldest and Newest the start times of the first and last of
	// them, zero when there is none.
	BytesOnDisk    int64
	Segments       int
	Oldest, Newest time.Time
	// BytesWritten counts what was written over the recorder's life, as it goes.
	BytesWritten uint64
	// Deleted counts the segments that retention deleted, by reason (DeletedKeep, ...).
	Deleted map[string]uint64
	// FreeBytes is the free space of Dir's file system, as last looked at.
	FreeBytes int64
	// Dropped counts the frames that found the recorder's queue full (the disk did not keep
	// up): each run of them is a gap, and the recording goes on at the next keyframe.
	Dropped uint64
	// Errors counts the failures (a write, a rename, a sync, a full disk); LastError is the
	// latest, kept after a recovery, and LastErrorAt when it came.
	Errors      uint64
	LastError   string
	LastErrorAt time.Time
}

// Segment is one file of a channel's recording.
type Segment struct {
	// Name is the file's name in the channel's folder, e.g. "2026-12-04T10-15-00Z.ts".
	Name string
	// Start is when its first frame was captured (UTC), from its name.
	Start time.Time
	Size  int64
	// Open: it is being written (its name ends in ".part").
	Open bool
}

// nameLayout is how a segment's name says its start: UTC, to the second, sortable as text.
const nameLayout = "2006-01-02T15-04-05Z"

// Extensions of a closed segment and of the one being written.
const (
	extClosed = ".ts"
	extOpen   = ".ts.part"
)

// SegmentName returns the name of a closed segment that starts at start, the n-th (from 1) to
// start within that second: a segment after a short gap can start in the second of the one
// before it.
func SegmentName(start time.Time, n int) string {
	name := start.UTC().Format(nameLayout)
	if n > 1 {
		name += "_" + strconv.Itoa(n)
	}
	return name + extClosed
}

// ParseSegmentName reads a segment's file name: its start, and whether it is being written. ok
// is false for a name that is not a segment's.
func ParseSegmentName(name string) (s Segment, ok bool) {
	base, open := strings.CutSuffix(name, extOpen)
	if !open {
		var closed bool
		if base, closed = strings.CutSuffix(name, extClosed); !closed {
			return Segment{}, false
		}
	}
	// the stamp has dashes of its own (2026-12-04T10-15-00Z): the counter follows its Z
	stamp, n, hasN := base, "", false
	if i := strings.LastIndex(base, "Z_"); i >= 0 {
		stamp, n, hasN = base[:i+1], base[i+2:], true
	}
	start, err := time.Parse(nameLayout, stamp)
	if err != nil {
		return Segment{}, false
	}
	if hasN {
		if k, err := strconv.Atoi(n); err != nil || k < 2 || strconv.Itoa(k) != n {
			return Segment{}, false
		}
	}
	return Segment{Name: name, Start: start, Open: open}, true
}

// List returns the segments in a channel's folder dir, oldest first, with their sizes; other
// files are left out. A folder that does not exist has none.
func List(dir string) ([]Segment, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return []Segment{}, nil
	}
	if err != nil {
		return nil, err
	}
	out := []Segment{}
	for _, e := range entries {
		s, ok := ParseSegmentName(e.Name())
		if !ok || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		s.Size = info.Size()
		out = append(out, s)
	}
	// names sort by start, then by counter only up to _9: order by what they say
	slices.SortStableFunc(out, func(a, b Segment) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(counter(a.Name), counter(b.Name))
	})
	return out, nil
}

// counter is the n of a segment's name (see SegmentName), 1 when it has none.
func counter(name string) int {
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".part"), extClosed)
	if i := strings.LastIndex(base, "Z_"); i >= 0 {
		if k, err := strconv.Atoi(base[i+2:]); err == nil {
			return k
		}
	}
	return 1
}
