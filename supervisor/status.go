package supervisor

import (
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/record"
)

// Channel states, as Status reports them.
const (
	StateStarting = "starting" // ffmpeg started, no frame yet
	StateRunning  = "running"  // frames flowing
	StateBackoff  = "backoff"  // ffmpeg ended or stalled; restarting at RetryAt
	StateStopped  = "stopped"  // the channel was stopped
	StateError    = "error"    // the channel's profile cannot run: see LastCause
)

// Status is a snapshot of one channel for status pages and metrics. The channel's goroutine
// publishes a new one at every change; readers get copies and never lock the channel.
type Status struct {
	Name  string
	File  string // the profile
	State string
	// Since is when State began.
	Since time.Time
	// PID is the running ffmpeg's, 0 when none runs.
	PID int
	// Starts counts ffmpeg starts; Stalls the restarts because frames stopped coming.
	Starts, Stalls uint64
	// Frames and AudioFrames count the video and audio frames handed to the injector over the
	// channel's life (ffmpeg restarts and reloads included); DemuxErrors the damage in ffmpeg's
	// MPEG-TS that the demuxer recovered from.
	Frames, AudioFrames, DemuxErrors uint64
	// LastCause says why ffmpeg last ended, or why the profile cannot run; Cause says it in a
	// few words (see the Cause constants, or "exited N"); LastCauseAt says when, zero before
	// the first (a cause stays after the channel has recovered: this tells an old one from a
	// current one); LastStderr are ffmpeg's last stderr lines then.
	LastCause   string
	Cause       string
	LastCauseAt time.Time
	LastStderr  []string
	// Progress is what the running ffmpeg last reported; zero when none runs.
	Progress Progress
	// RetryAt is when ffmpeg starts again, in StateBackoff.
	RetryAt time.Time
	// HoldingSince is when the last frame came, while the channel's destinations get its last
	// keyframe again instead (see profiles.Channel.Hold); zero when frames come. Held is how
	// long the holds that ended lasted, together.
	HoldingSince time.Time
	Held         time.Duration
	// OnAir names the input whose frames the destinations get: "source", "backup 1" …
	// "backup 4", "slate", "hold" while none does (the last picture is held, see
	// HoldingSince), or "none" before the first frame; OnAirSince says since when. Mode is "auto", or "manual" while an operator
	// has forced an input (see Supervisor.Switch).
	OnAir      string
	OnAirSince time.Time
	Mode       string
	// Forced is the input an operator switched to, "" in auto mode.
	Forced string
	// Switches counts the changes of OnAir to an input, by reason: SwitchFailed (the input on
	// air gave no frame for failover_after, or a reload removed it), SwitchReturned (an
	// earlier input worked again), SwitchManual (an operator's switch).
	Switches map[string]uint64
	// Alarms are the content alarms of the input on air (see profiles.Alarms): AlarmBlack,
	// AlarmFrozen, AlarmSilent, sorted; empty, not nil, when none is up, and while the slate or
	// the hold is on air (the channel's own picture and silence are not its camera's).
	Alarms []string
	// Inputs are the channel's inputs in order: the source, the backups, the slate.
	Inputs []InputStatus
	// Destinations are the injector's figures, one per destination.
	Destinations []inject.Stats
	// Record is the channel's recording (see package record); nil when the profile has no
	// [record].
	Record *record.Stats
}

// Reasons of a switch, as Status.Switches counts them.
const (
	SwitchFailed   = "failed"
	SwitchReturned = "returned"
	SwitchManual   = "manual"
)

// Input states, beside the channel states an input's ffmpeg goes through (starting, running,
// backoff, error).
const (
	// StateStandby: the input is not needed (one before it is on air), and its ffmpeg does not
	// run; it starts when the inputs before it fail.
	StateStandby = "standby"
)

// InputStatus is one input of a channel: its ffmpeg's state and last cause.
type InputStatus struct {
	// Name is "source", "backup N" or "slate"; Kind the source kind ("testsrc", "rtsp", …,
	// "slate").
	Name, Kind string
	// State is the input's: starting, running (frames flowing), backoff, error, or standby.
	State string
	Since time.Time
	PID   int
	// Starts counts its ffmpeg starts; Frames the video frames it delivered (on air or not).
	Starts, Frames uint64
	// LastCause, Cause and LastCauseAt say why its ffmpeg last ended (see Status).
	LastCause, Cause string
	LastCauseAt      time.Time
	RetryAt          time.Time
	// Alarms are the content alarms of the input's picture and sound, on air or not (see
	// Status.Alarms); empty, not nil, when none is up.
	Alarms []string
}

// setCause records why ffmpeg ended, or why the profile cannot run: full in LastCause, in a few
// words in Cause, now in LastCauseAt.
func (s *Status) setCause(full, cause string) {
	s.LastCause, s.Cause, s.LastCauseAt = full, cause, time.Now()
}
