package supervisor

import (
	"fmt"
	"strings"
)

// UnknownChannelError is returned for a channel the Supervisor does not have.
type UnknownChannelError struct {
	Channel string
}

func (e *UnknownChannelError) Error() string {
	return fmt.Sprintf("no channel %q", e.Channel)
}

// NotRunnableError is returned by Supervisor.Restart for a channel in state error: its profile
// cannot run, so no ffmpeg runs to restart. A corrected profile starts it.
type NotRunnableError struct {
	Channel string
	File    string // the channel's profile
	Cause   string // why it cannot run, as Status.LastCause says
}

func (e *NotRunnableError) Error() string {
	// short: `liveinject restart` shows what the HTTP endpoint answers only under 200 bytes
	return fmt.Sprintf("channel %q cannot run, no ffmpeg to restart: fix its profile %s "+
		"(last_cause in /status says why), which applies when saved", e.Channel, e.File)
}

// FFmpegNotFoundError is returned when the configured ffmpeg binary cannot be found.
type FFmpegNotFoundError struct {
	Path string
	Err  error
}

func (e *FFmpegNotFoundError) Error() string {
	return fmt.Sprintf("ffmpeg not found (%q): install it with `apt-get install ffmpeg` (or `make deps`), "+
		"or set ffmpeg = \"/path/to/ffmpeg\" in the main config", e.Path)
}

func (e *FFmpegNotFoundError) Unwrap() error { return e.Err }

// BadSwitchError is returned by Supervisor.Switch for a target the channel does not have.
type BadSwitchError struct {
	Channel, Target string
	// Want lists the targets the channel has.
	Want []string
}

func (e *BadSwitchError) Error() string {
	return fmt.Sprintf("channel %q has no input %q: want one of %s", e.Channel, e.Target, strings.Join(e.Want, ", "))
}
