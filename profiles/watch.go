package profiles

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// defaultDebounce is long enough for an editor's save (write a temporary file, rename it, delete
// the backup) or a ConfigMap swap to end in one reload, and short enough to feel immediate.
const defaultDebounce = 200 * time.Millisecond

// maxDebounceWaits is how many debounces a reload waits at most after the first event, however
// many come after it.
const maxDebounceWaits = 10

// defaultPollInterval is how often the files are read when they cannot be watched: an edit
// applies within it, and reading a few dozen small files that often costs nothing.
const defaultPollInterval = 2 * time.Second

// Update is what a Watcher delivers after a change.
type Update struct {
	// Config is the effective configuration: the main config and every channel at its last
	// good version.
	Config *Config
	// Errors holds the mistakes of the files that were kept at their last good version (or
	// left out, for a new file that never loaded), each as file:line: message; nil when every
	// file is good.
	Errors Errors
}

// Watcher watches a main config file and its profile directory with fsnotify and delivers
// updates.
//
// It watches directories, never files: editors save by renaming a new file over the old one,
// and Kubernetes updates a ConfigMap volume by swapping its "..data" symlink, so the file
// watched would be the old one. It watches the config file's directory, the profile directory,
// and the profile directory's parent, so that a profile directory that is removed and made
// again is watched again.
//
// Every file is checked on its own: a file with mistakes is kept at its last good version and
// its mistakes are reported, while valid changes to the other files apply.
type Watcher struct {
	// Path is the main config file, as given to Load.
	Path string
	// Debounce is the quiet time after the last event before reloading, and a tenth of the
	// longest a reload waits after the first event. Default 200ms.
	Debounce time.Duration
	// Logger receives file errors and reloads; nil discards them.
	Logger *slog.Logger
	// PollInterval is how often the files are read again when fsnotify cannot watch them (the
	// inotify limits reached, most likely). Default 2s.
	PollInterval time.Duration

	requests chan struct{} // Reload requests, at most one pending
	// newFSWatcher makes the fsnotify watcher; tests make it fail.
	newFSWatcher func() (*fsnotify.Watcher, error)
	// polling says why the Watcher reads the files on a timer; nil while fsnotify watches.
	polling atomic.Pointer[string]

	// last is what apply was last given; owned by Run's goroutine.
	last Update
}

// NewWatcher returns a Watcher of the config file at path. initial, not nil, is the config that
// the program started with, as Load returned it for the same path: it is the last good version
// of every file. The Watcher keeps its own copy, so the caller may change initial afterwards.
func NewWatcher(path string, initial *Config) *Watcher {
	return &Watcher{
		Path:         path,
		requests:     make(chan struct{}, 1),
		newFSWatcher: fsnotify.NewWatcher,
		last:         Update{Config: initial.clone()},
	}
}

// Polling returns why the Watcher reads the files on a timer instead of being told of changes
// by fsnotify, or "" while fsnotify watches them.
func (w *Watcher) Polling() string {
	if p := w.polling.Load(); p != nil {
		return *p
	}
	return ""
}

// Reload asks Run for a reload now, as on SIGHUP. It never blocks: requests that come while one
// is pending merge into it.
func (w *Watcher) Reload() {
	select {
	case w.requests <- struct{}{}:
	default:
	}
}

// Run watches until ctx ends, then returns nil. It reloads once when it starts, for the changes
// made since initial was loaded; then after each debounced change and each Reload request.
// After a reload it calls apply, from Run's own goroutine, only when the effective Config or the
// Errors differ from what it delivered last. apply gets its own copy of the Config and may keep
// or change it. When fsnotify cannot watch (the inotify limits reached, most likely), Run reads
// the files every PollInterval instead, and Polling says why. Run returns an error only when the
// config file's directory does not exist. It may be called once.
func (w *Watcher) Run(ctx context.Context, apply func(Update)) error {
	log := w.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	debounce := w.Debounce
	if debounce <= 0 {
		debounce = defaultDebounce
	}

	// Without the config file's directory there is nothing to read; the profile directory may
	// come and go.
	if _, err := os.Stat(filepath.Dir(w.Path)); err != nil {
		return fmt.Errorf("watch %s: %w", w.Path, err)
	}
	fsw, err := w.newFSWatcher()
	if err == nil {
		defer fsw.Close()
		err = fsw.Add(filepath.Dir(w.Path))
	}
	if err != nil {
		return w.poll(ctx, log, apply, err)
	}

	timer := time.NewTimer(debounce)
	timer.Stop()
	defer timer.Stop()
	// first is when the first event not yet reloaded came, zero when none waits. Events that
	// never pause (a .toml file rewritten in a loop) would hold the reload back for as long as
	// they come: it waits at most maxDebounceWaits debounces after the first.
	var first time.Time
	wait := func() {
		now := time.Now()
		if first.IsZero() {
			first = now
		}
		timer.Reset(max(0, min(debounce, first.Add(maxDebounceWaits*debounce).Sub(now))))
	}

	w.reloadAndApply(fsw, log, apply)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-fsw.Events:
			if !ok {
				return w.poll(ctx, log, apply, errors.New("fsnotify closed its events"))
			}
			if !w.relevant(ev.Name) {
				// A log file written beside the config would otherwise hold every reload
				// back for as long as it is written, and a debug line for each of its
				// writes, written to it, would make the next event.
				continue
			}
			log.Debug("file event", "file", ev.Name, "op", ev.Op.String())
			wait()
		case err, ok := <-fsw.Errors:
			if !ok {
				return w.poll(ctx, log, apply, errors.New("fsnotify closed its errors"))
			}
			// Most likely ErrEventOverflow: events were lost, so reload to be sure.
			log.Warn("watching config files", "error", err)
			wait()
		case <-w.requests:
			timer.Stop()
			first = time.Time{}
			w.reloadAndApply(fsw, log, apply)
		case <-timer.C:
			first = time.Time{}
			w.reloadAndApply(fsw, log, apply)
		}
	}
}

// relevant reports whether a change to the file or directory at name, in a watched directory,
// can change what is read: the main config, a .toml file (a profile, when it is in the profile
// directory), the profile directory itself, or a ConfigMap volume's "..data" or timestamped
// directory. Run's goroutine only.
func (w *Watcher) relevant(name string) bool {
	base := filepath.Base(name)
	return base == filepath.Base(w.Path) ||
		strings.HasSuffix(base, ".toml") ||
		strings.HasPrefix(base, "..") ||
		filepath.Clean(name) == filepath.Clean(w.last.Config.ProfileDir())
}

// poll reads the files every PollInterval, and at each Reload, until ctx ends: what Run does
// when fsnotify cannot watch, for the reason given.
func (w *Watcher) poll(ctx context.Context, log *slog.Logger, apply func(Update), reason error) error {
	every := w.PollInterval
	if every <= 0 {
		every = defaultPollInterval
	}
	why := reason.Error()
	w.polling.Store(&why)
	log.Warn("cannot watch the config files: reading them on a timer instead", "error", reason, "every", every)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		w.reloadAndApply(nil, log, apply)
		select {
		case <-ctx.Done():
			return nil
		case <-w.requests:
		case <-t.C:
		}
	}
}

// reloadAndApply reloads every file and gives apply the result if it differs from the last.
// fsw, when not nil, is made to watch the directories read.
func (w *Watcher) reloadAndApply(fsw *fsnotify.Watcher, log *slog.Logger, apply func(Update)) {
	// Watch before reading, so that no change falls between the read and the watch: a profile
	// directory that came back is read only once it is watched.
	w.watch(fsw, log, w.last.Config)
	u := w.load()
	if u.Config.ProfileDir() != w.last.Config.ProfileDir() {
		w.watch(fsw, log, u.Config)
		u = w.load()
	}
	changed := !reflect.DeepEqual(u, w.last)
	log.Debug("reloaded", "channels", len(u.Config.Channels), "errors", len(u.Errors), "changed", changed)
	if !changed {
		return
	}
	if !reflect.DeepEqual(u.Errors, w.last.Errors) {
		for _, e := range u.Errors {
			log.Warn("config error: file kept at its last good version", "file", e.File, "line", e.Line, "error", e.Msg)
		}
		if u.Errors == nil {
			log.Info("config errors fixed")
		}
	}
	w.last = u
	apply(Update{Config: u.Config.clone(), Errors: slices.Clone(u.Errors)})
}

// watch makes fsw watch the directories that cfg is read from, and no others. Adding a watch
// again is cheap, and needed: a directory that was removed and made again is a new one.
func (w *Watcher) watch(fsw *fsnotify.Watcher, log *slog.Logger, cfg *Config) {
	if fsw == nil {
		return
	}
	dir := cfg.ProfileDir()
	want := []string{filepath.Dir(w.Path), dir, filepath.Dir(dir)}
	for i := range want {
		want[i] = filepath.Clean(want[i])
	}
	for _, d := range fsw.WatchList() {
		if !slices.Contains(want, d) {
			if err := fsw.Remove(d); err != nil {
				log.Debug("unwatching", "dir", d, "error", err)
			}
		}
	}
	for _, d := range want {
		// A missing profile directory is reported by load.
		if err := fsw.Add(d); err != nil {
			log.Debug("watching", "dir", d, "error", err)
		}
	}
}

// load reads every file, keeping each one that has mistakes at its last good version.
func (w *Watcher) load() Update {
	cfg, errs, err := readConfig(w.Path)
	if err != nil {
		errs = Errors{readError(w.Path, err)}
	}
	if len(errs) > 0 {
		return Update{Config: w.last.Config, Errors: errs}
	}

	files, err := readProfiles(cfg)
	if err != nil {
		cfg.Channels = w.last.Config.Channels
		return Update{Config: cfg, Errors: Errors{readError(cfg.ProfileDir(), err)}}
	}
	running := make(map[string]Channel, len(w.last.Config.Channels))
	for _, ch := range w.last.Config.Channels {
		running[ch.File] = ch
	}
	errs = merge(cfg, files, running)
	cfg.sort()
	return Update{Config: cfg, Errors: errs}
}

// readError reports that file could not be read, naming it once.
func readError(file string, err error) *Error {
	if pe, ok := errors.AsType[*fs.PathError](err); ok {
		err = pe.Err
	}
	return &Error{File: file, Msg: err.Error()}
}

// clone returns a copy of c that shares nothing changeable with it.
func (c *Config) clone() *Config {
	cp := *c
	cp.Channels = slices.Clone(c.Channels)
	for i := range cp.Channels {
		cp.Channels[i].Destinations = slices.Clone(cp.Channels[i].Destinations)
	}
	cp.Defaults.Destinations = slices.Clone(c.Defaults.Destinations)
	cp.Disabled = slices.Clone(c.Disabled)
	cp.Warnings = slices.Clone(c.Warnings)
	cp.Webhooks = slices.Clone(c.Webhooks)
	for i := range cp.Webhooks {
		cp.Webhooks[i].Events = slices.Clone(cp.Webhooks[i].Events)
	}
	return &cp
}
