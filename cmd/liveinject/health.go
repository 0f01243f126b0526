package main

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/supervisor"
)

// serveHealth answers 200 "ok" while every channel runs, with no content alarm and a recording
// (if it has one) that is not in error, and every destination records and is not unverified
// (its server plays it back, a check is under way, or none is made), and 503 with one line for each that does not. A box with no profile at all is
// healthy: nothing on it fails.
func (s *httpServer) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Before the supervisor has started them, the channels are not in its status yet: a box that
	// has just come up is not healthy for having none.
	problems := []string{"channels: starting"}
	started := s.Instance.sup.Started()
	var channels []supervisor.Status
	if started {
		channels = s.Instance.sup.Status()
		problems = unhealthy(channels)
	}
	if errs := s.Instance.profileErrors.Load(); errs != nil && len(*errs) > 0 {
		// Profiles that all failed to load leave the box streaming nothing: say so first, not
		// as if one channel were only degraded.
		if started && len(channels) == 0 {
			plural := "s"
			if len(*errs) == 1 {
				plural = ""
			}
			problems = append(problems, fmt.Sprintf("no channel runs: %d profile error%s", len(*errs), plural))
		}
		for _, e := range *errs {
			problems = append(problems, "profile error: "+e)
		}
	}
	if why := s.Instance.watcher.Polling(); why != "" {
		problems = append(problems, "config files: fsnotify cannot watch them ("+why+"): read on a timer instead")
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, strings.Join(problems, "\n"))
}

// unhealthy says what of channels is not running or recording: "channel NAME: STATE: cause",
// "channel NAME destination URL: STATE: error", for a destination that records but whose
// server does not play it back, "channel NAME destination URL: unverified: cause", and for a
// recording on the box's disk that cannot write, "channel NAME: recording error: cause".
func unhealthy(channels []supervisor.Status) []string {
	var out []string
	problem := func(what, state, cause string) {
		if cause != "" {
			state += ": " + cause
		}
		out = append(out, what+": "+state)
	}
	for _, c := range channels {
		if c.State != supervisor.StateRunning {
			problem("channel "+c.Name, c.State, c.LastCause)
		}
		if !c.HoldingSince.IsZero() {
			problem("channel "+c.Name, "holding", "no frame since "+c.HoldingSince.UTC().Format(time.RFC3339))
		}
		// A backup on air is the program on air: healthy (its alert and /status say it). The
		// slate is not: like the hold, no input gives the channel's picture.
		if c.OnAir == "slate" {
			problem("channel "+c.Name, "slate on air", failingInputs(c))
		}
		// Viewers see black, or a still picture, or hear nothing, while every part runs.
		for _, a := range c.Alarms {
			problem("channel "+c.Name, "alarm "+a, alarmText[a]+" on "+c.OnAir)
		}
		// The box streams on, but what it promises to keep is lost meanwhile.
		if c.Record != nil && c.Record.State == record.StateError {
			problem("channel "+c.Name, "recording error", c.Record.Cause)
		}
		for _, d := range c.Destinations {
			switch {
			case d.State != inject.StateRecording:
				problem("channel "+c.Name+" destination "+d.URL, d.State, d.LastError)
			case d.Verify.State == inject.VerifyUnverified:
				// The server takes the push and does not play it back. Checking is no problem
				// yet: a check that finds nothing ends unverified.
				problem("channel "+c.Name+" destination "+d.URL, d.Verify.State, d.Verify.Cause)
			}
		}
	}
	return out
}

// alarmText says what each content alarm means, for /healthz and the status command.
var alarmText = map[string]string{
	supervisor.AlarmBlack:  "the picture is black",
	supervisor.AlarmFrozen: "the picture stands still",
	supervisor.AlarmSilent: "the sound is silent",
}

// failingInputs says why each input of c but the slate does not run: "no input works: source:
// CAUSE, backup 1: CAUSE"; an operator's switch to the slate says so.
func failingInputs(c supervisor.Status) string {
	if c.Mode == "manual" && c.Forced == "slate" {
		return "switched to by an operator (liveinject switch " + c.Name + " auto gives it back)"
	}
	var why []string
	for _, in := range c.Inputs {
		if in.Name == "slate" {
			continue
		}
		cause := cmp.Or(in.LastCause, in.State)
		why = append(why, in.Name+": "+cause)
	}
	return "no input works: " + strings.Join(why, ", ")
}
