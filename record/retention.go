package record

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// retain deletes the oldest closed segments until keep, max_size and min_free all hold, never
// the open one, and refreshes the figures of the folder. With min_free still short and nothing
// left to delete, the recording stops: the disk is full (another program filled it), and
// streaming must not suffer for it.
func (r *Recorder) retain(s *recorderState, now time.Time) {
	if !s.ready {
		return
	}
	segs, err := List(s.cfg.Dir)
	if err != nil {
		r.fail(s, "cannot read the folder", err, false)
		return
	}
	free, total, spaceErr := r.Space(s.cfg.Dir)
	var size int64
	for _, g := range segs {
		size += g.Size
	}
	deleted := map[string]uint64{}
	kept := segs[:0]
	for i, g := range segs {
		reason := ""
		switch {
		case g.Open:
		case now.Sub(g.Start) > s.cfg.Keep:
			reason = DeletedKeep
		case s.cfg.MaxSize > 0 && size > s.cfg.MaxSize:
			reason = DeletedMaxSize
		case spaceErr == nil && free < s.cfg.minFree(total):
			reason = DeletedMinFree
		}
		if reason == "" || isOpen(s, g) {
			kept = append(kept, segs[i])
			continue
		}
		if err := os.Remove(filepath.Join(s.cfg.Dir, g.Name)); err != nil {
			r.fail(s, "cannot delete a segment", err, false)
			kept = append(kept, segs[i])
			continue
		}
		r.Logger.Info("recording: segment deleted", "file", g.Name, "reason", reason)
		deleted[reason]++
		size -= g.Size
		free += g.Size
	}
	if spaceErr == nil {
		free, total, spaceErr = r.Space(s.cfg.Dir)
	}
	var st Stats
	for _, g := range kept {
		if g.Open {
			continue
		}
		if st.Segments == 0 {
			st.Oldest = g.Start
		}
		st.Segments++
		st.BytesOnDisk += g.Size
		st.Newest = g.Start
	}
	r.update(func(out *Stats) {
		out.Segments, out.BytesOnDisk, out.Oldest, out.Newest = st.Segments, st.BytesOnDisk, st.Oldest, st.Newest
		if spaceErr == nil {
			out.FreeBytes = free
		}
		for k, n := range deleted {
			out.Deleted[k] += n
		}
	})
	if spaceErr == nil && free < s.cfg.minFree(total) && !s.stopped {
		// what is left is the open segment and others' files: stop before the disk is full
		if s.seg != nil {
			r.endSegmentQuiet(s)
		}
		r.fail(s, fmt.Sprintf("disk full: %s free of %s", formatBytes(free), formatBytes(total)), nil, true)
	}
}

// endSegmentQuiet closes the open segment without a retention pass of its own.
func (r *Recorder) endSegmentQuiet(s *recorderState) {
	seg := s.seg
	s.seg = nil
	if err := seg.close(); err != nil {
		seg.abandon()
	}
}

// isOpen reports whether g is the segment being written.
func isOpen(s *recorderState, g Segment) bool {
	return s.seg != nil && filepath.Base(s.seg.path) == g.Name
}
