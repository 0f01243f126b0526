package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	neturl "net/url"
	"os"
	"strings"
	"time"

	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/supervisor"
)

// recordingWriteTimeout bounds the sending of one segment. The server's WriteTimeout (30 s) is
// for JSON and pictures: a minute of an 8 Mbit/s channel is 60 MB, which a slow link takes
// longer than that to carry.
const recordingWriteTimeout = 30 * time.Minute

// recordReport is a channel's recording in /status (see record.Stats).
type recordReport struct {
	// State is waiting (for a keyframe to begin a segment), recording, or error (Cause says
	// why: the disk is full, the folder cannot be made, a write failed; it tries again by
	// itself, and the channel streams on).
	State string `json:"state"`
	Cause string `json:"cause"`
	Dir   string `json:"dir"`
	// BytesOnDisk and Segments are the closed segments' (the one being written not counted);
	// Oldest and Newest their first and last start, null with none.
	BytesOnDisk int64      `json:"bytes_on_disk"`
	Segments    int        `json:"segments"`
	Oldest      *time.Time `json:"oldest"`
	Newest      *time.Time `json:"newest"`
	// BytesWritten counts what was written since liveinject started.
	BytesWritten uint64        `json:"bytes_written"`
	Deleted      deletedReport `json:"deleted"`
	// FreeBytes is the free space of the folder's file system, as last looked at.
	FreeBytes   int64      `json:"free_bytes"`
	Errors      uint64     `json:"errors"`
	LastError   string     `json:"last_error"`
	LastErrorAt *time.Time `json:"last_error_at"` // null before the first
}

// deletedReport counts the segments retention deleted, by reason.
type deletedReport struct {
	Keep    uint64 `json:"keep"`     // older than keep
	MaxSize uint64 `json:"max_size"` // the channel's segments took more than max_size
	MinFree uint64 `json:"min_free"` // the file system had less free space than min_free
}

// recordReportOf is how /status shows a channel's recording: nil (null) when it records nothing.
func recordReportOf(s *record.Stats) *recordReport {
	if s == nil {
		return nil
	}
	return &recordReport{
		State:        s.State,
		Cause:        s.Cause,
		Dir:          s.Dir,
		BytesOnDisk:  s.BytesOnDisk,
		Segments:     s.Segments,
		Oldest:       timeOrNull(s.Oldest),
		Newest:       timeOrNull(s.Newest),
		BytesWritten: s.BytesWritten,
		Deleted: deletedReport{Keep: s.Deleted[record.DeletedKeep], MaxSize: s.Deleted[record.DeletedMaxSize],
			MinFree: s.Deleted[record.DeletedMinFree]},
		FreeBytes:   s.FreeBytes,
		Errors:      s.Errors,
		LastError:   s.LastError,
		LastErrorAt: timeOrNull(s.LastErrorAt),
	}
}

// recordingsReport is the JSON of GET /channels/NAME/recordings.
type recordingsReport struct {
	Channel string `json:"channel"`
	Dir     string `json:"dir"`
	// Segments are oldest first; the one being written, if any, last.
	Segments []segmentReport `json:"segments"`
}

type segmentReport struct {
	Name  string    `json:"name"`
	Start time.Time `json:"start"` // when its first frame was captured, UTC
	Size  int64     `json:"size"`
	// Open: it is being written, and is served once closed (under its name without .part).
	Open bool `json:"open"`
	// URL is the path that serves it on this endpoint; null while it is open.
	URL *string `json:"url"`
}

// recordings serves the segments a channel has recorded on the box's disk:
// GET /channels/NAME/recordings lists them, GET /channels/NAME/recordings/FILE serves one.
// Nothing but a closed segment's file in the channel's folder can be named.
type recordings struct {
	// Status returns the channels' snapshots (supervisor.Supervisor.Status): their folders.
	Status func() []supervisor.Status
	Logger *slog.Logger
}

// Route adds the endpoints to mux.
func (rs *recordings) Route(mux *http.ServeMux) {
	mux.HandleFunc("GET /channels/{name}/recordings", rs.serveList)
	mux.HandleFunc("GET /channels/{name}/recordings/{file}", rs.serveFile)
}

// folder returns the folder of channel name's recording, or answers 404 and returns false: no
// such channel, or it does not record.
func (rs *recordings) folder(w http.ResponseWriter, name string) (string, bool) {
	for _, c := range rs.Status() {
		if c.Name != name {
			continue
		}
		if c.Record == nil {
			http.Error(w, "channel "+name+" does not record: its profile has no [record]", http.StatusNotFound)
			return "", false
		}
		return c.Record.Dir, true
	}
	http.Error(w, "no channel "+name, http.StatusNotFound)
	return "", false
}

func (rs *recordings) serveList(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	dir, ok := rs.folder(w, name)
	if !ok {
		return
	}
	segments, err := record.List(dir)
	if err != nil {
		http.Error(w, fmt.Sprintf("channel %s: recordings: %v", name, err), http.StatusInternalServerError)
		return
	}
	out := recordingsReport{Channel: name, Dir: dir, Segments: make([]segmentReport, len(segments))}
	for i, s := range segments {
		out.Segments[i] = segmentReport{Name: s.Name, Start: s.Start, Size: s.Size, Open: s.Open}
		if !s.Open {
			url := "/channels/" + neturl.PathEscape(name) + "/recordings/" + neturl.PathEscape(s.Name)
			out.Segments[i].URL = &url
		}
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, out, "  ")
}

// serveFile serves one closed segment, with ranges: a player or a download can resume.
func (rs *recordings) serveFile(w http.ResponseWriter, r *http.Request) {
	name, file := r.PathValue("name"), r.PathValue("file")
	dir, ok := rs.folder(w, name)
	if !ok {
		return
	}
	// Segment names only, in the folder itself: not "..", not "a/b" (an escaped slash), not
	// another file of the folder.
	seg, ok := record.ParseSegmentName(file)
	if !ok || strings.ContainsAny(file, `/\`) {
		http.Error(w, fmt.Sprintf("channel %s: %q is not a segment's name (such as 2026-12-04T10-15-00Z.ts): "+
			"GET /channels/%s/recordings lists them", name, file, name), http.StatusNotFound)
		return
	}
	// The root keeps every look-up inside the folder, symbolic links included.
	root, err := os.OpenRoot(dir)
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, fmt.Sprintf("channel %s: no segment %s (nothing recorded yet)", name, file), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("channel %s: recordings: %v", name, err), http.StatusInternalServerError)
		return
	}
	defer root.Close()
	info, err := root.Lstat(file)
	if seg.Open || errors.Is(err, fs.ErrNotExist) {
		// the segment being written, asked for by either name
		closed := strings.TrimSuffix(file, ".part")
		if _, err := root.Lstat(closed + ".part"); err == nil {
			http.Error(w, fmt.Sprintf("channel %s: segment %s is being written: it is served once closed, as %s",
				name, file, closed), http.StatusConflict)
			return
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		http.Error(w, fmt.Sprintf("channel %s: no segment %s (retention may have deleted it): "+
			"GET /channels/%s/recordings lists them", name, file, name), http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, fmt.Sprintf("channel %s: segment %s: %v", name, file, err), http.StatusInternalServerError)
		return
	}
	f, err := root.Open(file)
	if err != nil {
		if info.Mode()&fs.ModeSymlink != 0 {
			// a link that leads out of the folder: not a segment of this channel's
			rs.Logger.Warn("recording link leads out of the channel's folder", "channel", name, "file", file, "error", err)
			http.Error(w, fmt.Sprintf("channel %s: no segment %s in its folder", name, file), http.StatusNotFound)
			return
		}
		http.Error(w, fmt.Sprintf("channel %s: segment %s: %v", name, file, err), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	info, err = f.Stat()
	if err != nil || !info.Mode().IsRegular() {
		http.Error(w, fmt.Sprintf("channel %s: no segment %s in its folder", name, file), http.StatusNotFound)
		return
	}
	//nolint:errcheck // ErrNotSupported under a ResponseWriter without deadlines: nothing to extend
	http.NewResponseController(w).SetWriteDeadline(time.Now().Add(recordingWriteTimeout))
	w.Header().Set("Content-Type", "video/mp2t")
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name + "_" + file}))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, file, info.ModTime(), f)
}
