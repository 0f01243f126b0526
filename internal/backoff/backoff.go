// Package backoff computes capped exponential retry delays with jitter.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff yields retry delays that double from Min up to Max, each with up to ±20 % jitter so that
// many channels or destinations failing together do not retry in lockstep; no delay exceeds Max. It never gives up:
// a box in a closet must recover after a week-long outage. The zero value is not usable; set Min
// and Max. Not safe for concurrent use: each retry loop owns one.
type Backoff struct {
	Min time.Duration
	Max time.Duration

	next time.Duration
}

// Next returns the delay before the next attempt and doubles the one after it.
func (b *Backoff) Next() time.Duration {
	// a Min over Max makes Min the cap
	limit := max(b.Max, b.Min)
	if b.next < b.Min {
		b.next = b.Min
	}
	d := b.next
	b.next = min(b.next*2, limit)
	delay := d + time.Duration((rand.Float64()*0.4-0.2)*float64(d))
	if delay > limit {
		// the jitter stays inside the cap: reflected below it, the delays stay spread
		delay = 2*limit - delay
	}
	return delay
}

// Reset starts again from Min, after a run that was healthy long enough.
func (b *Backoff) Reset() {
	b.next = 0
}
