package supervisor

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/profiles"
)

// The content alarms, as Status.Alarms names them, in the order they are listed (sorted).
const (
	AlarmBlack  = "black"  // the picture is black
	AlarmFrozen = "frozen" // the picture stands still
	AlarmSilent = "silent" // the sound is silent
)

// The lines the alarm filters print: blackdetect's, freezedetect's and silencedetect's frame
// metadata when a condition starts and ends, printed by a metadata (ametadata) filter each.
const (
	keyBlackStart   = "lavfi.black_start"
	keyBlackEnd     = "lavfi.black_end"
	keyFreezeStart  = "lavfi.freezedetect.freeze_start"
	keyFreezeEnd    = "lavfi.freezedetect.freeze_end"
	keySilenceStart = "lavfi.silence_start"
	keySilenceEnd   = "lavfi.silence_end"
)

// printMeta returns the filter that writes key's value to ffmpeg's stderr on each frame that
// carries it, with the frame's number and time on the line before. It writes whatever ffmpeg's
// -loglevel (warning: the filters' own info lines are not printed), and at once (direct): the
// file is unbuffered, so each line comes as the frame passes, not when a buffer fills.
func printMeta(filter, key string) string {
	return filter + "=mode=print:key=" + key + ":file=" + escapeGraph(`pipe\:2`) + ":direct=1"
}

// alarmRate is how many pictures a second the black and frozen checks look at: enough for
// alarms that wait a second at least, and a fifth of the cost of every picture of a 25 fps
// channel (blackdetect reads every pixel: 0.9 ms a 1080p picture here, see BENCHMARKS.md).
const alarmRate = 5

// videoAlarmFilters returns the chain of a's black and frozen alarms, for a branch of an
// input's video chain split off at its end, where the picture is the channel's (its size, its
// rate fps), and thinned to about alarmRate pictures a second; nil when a has none.
//
// blackdetect marks the first black picture at once (d=0): its own duration gates only its log
// line, printed when the black ends, and the alarm must come while it lasts; black_after is
// counted here, from that picture (see detector). freezedetect marks the picture at which the
// picture has stood still for frozen_after itself.
func videoAlarmFilters(a profiles.Alarms, fps int) []string {
	if a.Off || a.BlackAfter <= 0 && a.FrozenAfter <= 0 {
		return nil
	}
	vf := []string{fmt.Sprintf("framestep=%d", max(1, (fps+alarmRate/2)/alarmRate))}
	if a.BlackAfter > 0 {
		vf = append(vf, fmt.Sprintf("blackdetect=d=0:pix_th=%s:pic_th=%s", ratio(a.BlackThreshold), ratio(a.BlackRatio)))
	}
	if a.FrozenAfter > 0 {
		vf = append(vf, fmt.Sprintf("freezedetect=n=%s:d=%s", a.FrozenNoise, seconds(a.FrozenAfter)))
	}
	if a.BlackAfter > 0 {
		vf = append(vf, printMeta("metadata", keyBlackStart), printMeta("metadata", keyBlackEnd))
	}
	if a.FrozenAfter > 0 {
		vf = append(vf, printMeta("metadata", keyFreezeStart), printMeta("metadata", keyFreezeEnd))
	}
	return vf
}

// audioAlarmFilters returns the filters of a's silent alarm. silencedetect marks the frame at
// which the sound has been silent for silent_after, on all channels at once (mono off): a
// stereo microphone with one side dead is not silent.
func audioAlarmFilters(a profiles.Alarms) []string {
	if a.Off || a.SilentAfter <= 0 {
		return nil
	}
	return []string{
		fmt.Sprintf("silencedetect=n=%s:d=%s", a.SilentLevel, seconds(a.SilentAfter)),
		printMeta("ametadata", keySilenceStart), printMeta("ametadata", keySilenceEnd),
	}
}

func ratio(x float64) string { return strconv.FormatFloat(x, 'f', -1, 64) }

func seconds(d profiles.Duration) string { return ratio(d.Std().Seconds()) }

// detector keeps what the alarm filters of an input's ffmpeg said: the stderr reader tells it
// each line, Status asks it which alarms are up. A new run starts with none: its filters start
// afresh.
type detector struct {
	mu         sync.Mutex
	alarms     profiles.Alarms // the run's
	blackSince time.Time       // when the picture turned black; zero when it is not
	frozen     bool
	silent     bool
}

// reset starts a new run with alarms a; nothing is raised.
func (d *detector) reset(a profiles.Alarms) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.alarms, d.blackSince, d.frozen, d.silent = a, time.Time{}, false, false
}

// line takes one stderr line and reports whether it was the alarm filters': their key=value
// lines and the frame lines before them ("frame:25   pts:1000000 pts_time:1").
func (d *detector) line(s string, now time.Time) bool {
	if strings.HasPrefix(s, "frame:") && strings.Contains(s, " pts_time:") {
		return true
	}
	key, _, ok := strings.Cut(s, "=")
	if !ok || !strings.HasPrefix(key, "lavfi.") {
		return false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	switch key {
	case keyBlackStart:
		// A filter graph made anew mid-run (the input's size changed) marks a black picture
		// that lasts as a new start: the black goes on.
		if d.blackSince.IsZero() {
			d.blackSince = now
		}
	case keyBlackEnd:
		d.blackSince = time.Time{}
	case keyFreezeStart:
		d.frozen = true
	case keyFreezeEnd:
		d.frozen = false
	case keySilenceStart:
		d.silent = true
	case keySilenceEnd:
		d.silent = false
	default:
		return false
	}
	return true
}

// raised returns the alarms up at now, sorted; empty, not nil, when none is. A black picture
// stands still too: frozen is not said while the picture is black, before black_after as well,
// so that a black picture raises one alarm, whichever of the two durations is shorter.
func (d *detector) raised(now time.Time) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []string{}
	if !d.blackSince.IsZero() && now.Sub(d.blackSince) >= d.alarms.BlackAfter.Std() {
		out = append(out, AlarmBlack)
	}
	if d.frozen && d.blackSince.IsZero() {
		out = append(out, AlarmFrozen)
	}
	if d.silent {
		out = append(out, AlarmSilent)
	}
	return out
}

// alarmWords say what each alarm means, for the events' Cause.
var alarmWords = map[string]string{
	AlarmBlack:  "black picture",
	AlarmFrozen: "still picture",
	AlarmSilent: "silent sound",
}

// alarmEvents returns the events that turn a channel's alarms was, of input wasOn, into is, of
// input isOn (inputs as Status.OnAir names them): those cleared, then those raised.
func alarmEvents(channel string, was []string, wasOn string, is []string, isOn string) []event.Event {
	var out []event.Event
	for _, a := range was {
		if slices.Contains(is, a) {
			continue
		}
		cause := "content back on " + isOn
		switch {
		case isOn == "stopped":
			cause = "channel stopped"
		case isOn != wasOn:
			cause = wasOn + " went off air (" + isOn + " on air)"
		}
		out = append(out, event.Event{Kind: event.AlarmCleared, Channel: channel, Alarm: a, Cause: cause})
	}
	for _, a := range is {
		if !slices.Contains(was, a) {
			out = append(out, event.Event{Kind: event.AlarmRaised, Channel: channel, Alarm: a, Cause: alarmWords[a] + " on " + isOn})
		}
	}
	return out
}
