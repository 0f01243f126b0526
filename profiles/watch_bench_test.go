package profiles

import (
	"context"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// benchWatcher runs a Watcher of a config with one profile, "a", until the benchmark ends, and
// returns a function that saves version v of a (by rename, as editors do) and waits until the
// Watcher has delivered it.
func benchWatcher(b *testing.B, debounce time.Duration) (edit func(v int)) {
	b.Helper()
	dir := b.TempDir()
	config := filepath.Join(dir, "liveinject.toml")
	profile := filepath.Join(dir, "profiles", "a.toml")
	if err := os.MkdirAll(filepath.Dir(profile), 0o755); err != nil {
		b.Fatal(err)
	}
	save := func(name, content string) {
		tmp := filepath.Join(filepath.Dir(name), "."+filepath.Base(name)+".tmp")
		if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
		if err := os.Rename(tmp, name); err != nil {
			b.Fatal(err)
		}
	}
	save(config, "")
	save(profile, profileV(0))
	cfg, err := Load(config)
	if err != nil {
		b.Fatal(err)
	}
	w := NewWatcher(config, cfg)
	w.Debounce = debounce
	updates := make(chan Update, 16)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx, func(u Update) { updates <- u }) }()
	b.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			b.Error(err)
		}
	})
	return func(v int) {
		save(profile, profileV(v))
		want := "a=" + strconv.Itoa(v)
		deadline := time.After(10 * time.Second)
		for {
			select {
			case u := <-updates:
				if versions(u) == want {
					return
				}
			case <-deadline:
				b.Fatalf("version %d never delivered", v)
			}
		}
	}
}

// BenchmarkWatcherEditToApply measures how long an edit takes to reach the supervisor with the
// default debounce: ns/op is the latency from the rename to the update.
func BenchmarkWatcherEditToApply(b *testing.B) {
	edit := benchWatcher(b, defaultDebounce)
	edit(1) // the watcher is up
	b.ResetTimer()
	for i := range b.N {
		edit(i + 2)
	}
}

// BenchmarkWatcherReloadCycles edits and reloads over and over and reports what is left behind
// afterwards: goroutines, open files, resident memory and live heap compared with before.
func BenchmarkWatcherReloadCycles(b *testing.B) {
	edit := benchWatcher(b, time.Millisecond)
	edit(1)
	runtime.GC()
	goroutines, fds, rss, heap := runtime.NumGoroutine(), openFiles(b), residentKiB(b), heapKiB()
	b.ResetTimer()
	for i := range b.N {
		edit(i + 2)
	}
	b.StopTimer()
	runtime.GC()
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines), "goroutines-delta")
	b.ReportMetric(float64(openFiles(b)-fds), "fds-delta")
	b.ReportMetric(float64(residentKiB(b)-rss), "rss-KiB-delta")
	b.ReportMetric(float64(heapKiB()-heap), "heap-KiB-delta")
}

// heapKiB is the live heap after a collection.
func heapKiB() int {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapAlloc / 1024)
}

func openFiles(b *testing.B) int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		b.Skip("no /proc/self/fd")
	}
	return len(entries)
}

func residentKiB(b *testing.B) int {
	s, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		b.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(s))
	pages, err := strconv.Atoi(f[1])
	if err != nil {
		b.Fatal(err)
	}
	return pages * os.Getpagesize() / 1024
}
