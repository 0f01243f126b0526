// Package backoff computes capped exponential retry delays with jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields retry delays that double from Min up to Max, each with up to ±20 % jitter so that
// many channels or destinations failing together do not retry in lockstep. It never gives up:
// a box in a closet must recover after a week-long outage. The zero value is not usable; set Min
// and Max. Not safe for concurrent use: each retry loop owns one.
type Backoff struct {
	Min time.Duration
	Max time.Duration

	next time.Duration
}

// Next returns the delay before the next attempt and doubles the one after it.
func (b *Backoff) Next() time.Duration {
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	b.next = min(b.next*2, b.Max)
	jitter := time.Duration((rand.Float64()*0.4 - 0.2) * float64(d))
	return d + jitter
}

// Reset starts again from Min, after a run that was healthy long enough.
func (b *Backoff) Reset() {
	b.next = 0
}
