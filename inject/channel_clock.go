package inject

import (
	"time"

	"github.com/liveinject/liveinject/internal/ticks"
)

// maxWallStep is how far the wall clock may move against the monotonic clock before the NTP
// times of the channel follow it: an NTP daemon's step, a box without RTC setting its time, a
// VM resumed with its clock corrected. Slews are far below it.
const maxWallStep = 500 * time.Millisecond

// channelClock places a channel's time, in 90 kHz ticks, on the wall clock.
//
// Channel time counts from the Unix epoch, as the wall clock does: a new process starts where
// the wall clock is, so that RTP time (a fixed offset of channel time) goes on across restarts
// of liveinject by the time that passed, rather than jumping by hours as a random base did.
// Within a process it follows the monotonic clock, which no step of the wall clock moves, and
// within an ffmpeg run the source's own timestamps.
//
// The NTP time of the sender reports maps channel time to the capture's wall clock. It is
// anchored afresh at every discontinuity (a new ffmpeg run, a held picture): there the frame
// written is the one captured now. Between discontinuities it follows the source's timestamps,
// which tell when its frames were captured even when they come late or in a burst. Tying it to
// channel time for ever, as before, let any excess of the source's time over the wall clock (a
// backlog written at once, a run faster than real time) stay in every later report: 136 s on a
// real box after a stall. A lead under a second stays rather than going back (see
// Fanout.anchorTime): players time the stream by the reports.
type channelClock struct {
	// start is when the clock began, with its monotonic reading; startTicks the wall-clock time
	// then, in ticks since 1970.
	start      time.Time
	startTicks int64
	// The NTP mapping: channel time anchorTicks was captured at anchorAt (read with its
	// monotonic reading); step is the wall clock's move since then, as far as it was followed.
	anchorTicks int64
	anchorAt    time.Time
	step        time.Duration
}

// newChannelClock returns a clock started at now, a reading of time.Now.
func newChannelClock(now time.Time) channelClock {
	return channelClock{start: now, startTicks: ticks.FromDuration(time.Duration(now.UnixNano()))}
}

// at returns the channel time of now, a reading of time.Now: the wall clock's at the start,
// moved on by the monotonic clock.
func (c *channelClock) at(now time.Time) int64 {
	return c.startTicks + ticks.FromDuration(now.Sub(c.start))
}

// since returns the monotonic time from the clock's start to now, for comparing readings across
// steps of the wall clock.
func (c *channelClock) since(now time.Time) time.Duration { return now.Sub(c.start) }

// anchor maps channel time t to now, when the frame at t was captured.
func (c *channelClock) anchor(t int64, now time.Time) {
	c.anchorTicks, c.anchorAt, c.step = t, now, 0
}

// ntp returns the wall-clock time at which channel time t was captured, as of now (a reading of
// time.Now): a step of the wall clock since the anchor, once more than maxWallStep, moves it too.
func (c *channelClock) ntp(t int64, now time.Time) time.Time {
	step := now.Round(0).Sub(c.anchorAt.Round(0)) - now.Sub(c.anchorAt)
	if d := step - c.step; d > maxWallStep || d < -maxWallStep {
		c.step = step
	}
	return c.anchorAt.Round(0).Add(c.step + ticks.Duration(t-c.anchorTicks))
}
