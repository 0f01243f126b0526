// Package ratelog keeps a kind of log line to one a period, however often its cause repeats: a
// server that sends garbage with every packet, a web page that keeps knocking, must not fill the
// log. The line that is let through says how many were held back since the one before.
package ratelog

import (
	"sync"
	"time"
)

// Limiter lets one line through per Every. Its methods may be called from any goroutine; the
// zero Limiter with Every set is ready to use.
type Limiter struct {
	Every time.Duration

	mu      sync.Mutex
	last    time.Time
	skipped uint64
}

// Allow reports whether a line may be logged at now and, when it may, how many were held back
// since the last one let through.
func (l *Limiter) Allow(now time.Time) (heldBack uint64, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.last.IsZero() && now.Sub(l.last) < l.Every {
		l.skipped++
		return 0, false
	}
	heldBack = l.skipped
	l.last, l.skipped = now, 0
	return heldBack, true
}
