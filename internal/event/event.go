// Package event names what happens to a channel that someone outside the box may want to hear
// of: a channel that starts or stops, holds or goes live again, switches inputs, a destination
// that records, fails, is verified or not, a content alarm, a profile that does not load. The
// parts that see it happen (supervisor, inject, the profile watcher) hand an Event to a Sink; the
// webhooks deliver it.
package event

import "time"

// The kinds of event, as the webhooks name them.
const (
	ChannelStarted = "channel.started"
	ChannelStopped = "channel.stopped"
	// ChannelHolding: the channel's input stopped and the destinations are held on the last
	// picture and silence; ChannelLive: frames flow again.
	ChannelHolding = "channel.holding"
	ChannelLive    = "channel.live"
	// InputSwitched: another input went on air (From, To, Reason).
	InputSwitched = "input.switched"
	// DestinationRecording: the server takes the stream; DestinationFailed: it no longer does
	// (Cause). Each is said once per change, not for every retry.
	DestinationRecording = "destination.recording"
	DestinationFailed    = "destination.failed"
	// DestinationVerified: the stream played back from the server is the channel's
	// (ServerDelay); DestinationUnverified: it is not, or not any more (Cause).
	DestinationVerified   = "destination.verified"
	DestinationUnverified = "destination.unverified"
	// AlarmRaised and AlarmCleared: a content alarm (Alarm: black, frozen, silent).
	AlarmRaised  = "alarm.raised"
	AlarmCleared = "alarm.cleared"
	// ProfileError: a profile or the main config did not load; the last good one is kept
	// (File, Line, Cause).
	ProfileError = "profile.error"
)

// Kinds is every kind of event, in the order above.
var Kinds = []string{ChannelStarted, ChannelStopped, ChannelHolding, ChannelLive, InputSwitched,
	DestinationRecording, DestinationFailed, DestinationVerified, DestinationUnverified,
	AlarmRaised, AlarmCleared, ProfileError}

// Event is one thing that happened. Only the fields of its kind are set.
type Event struct {
	Kind string    `json:"event"`
	Time time.Time `json:"time"`
	// Channel is the channel's name; empty for a ProfileError of the main config.
	Channel string `json:"channel,omitempty"`
	// Destination is the destination's URL with any password replaced by "xxxxx".
	Destination string `json:"destination,omitempty"`
	// From and To name the inputs of an InputSwitched ("source", "backup 1", "slate", "hold",
	// "none"); Reason is why: "failed", "returned" or "manual".
	From   string `json:"from,omitempty"`
	To     string `json:"to,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Alarm is "black", "frozen" or "silent".
	Alarm string `json:"alarm,omitempty"`
	// Cause says why, in the words /status uses.
	Cause string `json:"cause,omitempty"`
	// File and Line place a ProfileError.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// ServerDelay is, for DestinationVerified, the time from a packet's send to its return
	// from the server, in seconds.
	ServerDelay float64 `json:"server_delay_seconds,omitempty"`
}

// Sink takes events. It must not block: whoever calls it may be on a channel's frame path. A nil
// Sink drops them.
type Sink func(Event)

// Emit hands e to s, stamped with the time now when it has none.
func (s Sink) Emit(e Event) {
	if s == nil {
		return
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	s(e)
}
