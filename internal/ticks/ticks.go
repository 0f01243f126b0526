// Package ticks converts between clock rates (90 kHz video time, audio sample rates, nanoseconds)
// without overflow for any lifetime of a channel.
//
// Converting with one multiplication first (ticks * 1e9) overflows int64 after 28.5 hours of
// 90 kHz time; Scale splits the value into whole units of from and the rest, so that it holds
// for any value whose result fits (channel time counts from 1970: about 1.6e14 ticks).
package ticks

import "time"

// Rate is the clock rate of MPEG-TS and RTP video timestamps.
const Rate = 90000

// Scale returns v * to / from, truncated toward zero, without overflow for any v whose result
// fits, and any rates below 2^31.
func Scale(v, to, from int64) int64 {
	return v/from*to + v%from*to/from
}

// Duration converts 90 kHz ticks to a duration.
func Duration(t int64) time.Duration {
	return time.Duration(Scale(t, int64(time.Second), Rate))
}

// FromDuration converts a duration to 90 kHz ticks.
func FromDuration(d time.Duration) int64 {
	return Scale(int64(d), Rate, int64(time.Second))
}
