package main

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/liveinject/liveinject/supervisor"
)

// web is the dashboard: plain HTML, CSS and JavaScript that read /status, /history and the
// thumbnails. Nothing is fetched from anywhere else: encoder networks are often isolated.
//
//go:embed web
var web embed.FS

// dashboardFiles are web's files without the directory, as GET /assets/ serves them.
var dashboardFiles = func() fs.FS {
	sub, err := fs.Sub(web, "web")
	if err != nil {
		panic(err) // web is embedded at build time: it is there
	}
	return sub
}()

// serveDashboard serves the page, GET /. Every other path that nothing else serves is 404.
func (s *httpServer) serveDashboard(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" {
		http.NotFound(w, r)
		return
	}
	b, err := fs.ReadFile(dashboardFiles, "index.html")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Cache-Control", "no-cache")
	// The page runs its own script and styles, and loads pictures and JSON from this endpoint
	// alone; no other site may frame it.
	w.Header().Set("Content-Security-Policy",
		"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	http.ServeContent(w, r, "index.html", time.Time{}, bytes.NewReader(b))
}

// serveAssets serves the page's script and styles: GET /assets/NAME.
func (s *httpServer) serveAssets() http.Handler {
	files := http.StripPrefix("/assets/", http.FileServerFS(dashboardFiles))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r) // files only, no listings
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})
}

// historyReport is the JSON of GET /history: each channel's rates, oldest first.
type historyReport struct {
	IntervalSeconds float64             `json:"interval_seconds"`
	Channels        map[string][]sample `json:"channels"`
}

func (s *httpServer) serveHistory(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, historyReport{IntervalSeconds: s.hist.Interval.Seconds(), Channels: s.hist.Samples()}, "")
}

// serveThumbnail serves a channel's latest keyframe as a small JPEG:
// GET /channels/NAME/thumbnail.jpg.
func (s *httpServer) serveThumbnail(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if !slices.ContainsFunc(s.Instance.sup.Status(), func(c supervisor.Status) bool { return c.Name == name }) {
		http.Error(w, "no channel "+name, http.StatusNotFound)
		return
	}
	jpeg, at, err := s.thumbs.Get(r.Context(), name)
	switch {
	case errors.Is(err, errNoKeyframe):
		http.Error(w, "channel "+name+" has no keyframe yet: its ffmpeg has not delivered a picture", http.StatusNotFound)
		return
	case r.Context().Err() != nil:
		return // the client went away while another request decoded
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/jpeg")
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", at, bytes.NewReader(jpeg))
}

// pruneThumbnails forgets, now and then, the thumbnails of channels that are gone, until ctx ends.
func (s *httpServer) pruneThumbnails(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			channels := s.Instance.sup.Status()
			s.thumbs.Prune(func(name string) bool {
				return slices.ContainsFunc(channels, func(c supervisor.Status) bool { return c.Name == name })
			})
		}
	}
}
