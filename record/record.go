// Package record keeps a channel's program on the box's disk while it streams: the frames that
// go on air, as MPEG-TS segments cut at keyframes, each playable alone, pruned by age, size and
// free space. It is an output of a channel, beside its destinations: it takes the frames the
// demuxer made, whatever the servers do.
package record

import "time"

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
	// BytesWritten counts what was written over the recorder's life.
	BytesWritten uint64
	// Deleted counts the segments that retention deleted, by reason (DeletedKeep, ...).
	Deleted map[string]uint64
	// FreeBytes is the free space of Dir's file system, as last looked at.
	FreeBytes int64
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
