package profiles

import (
	"fmt"
	"math"
	"time"
)

// Alarm defaults. A fade or a cut to black lasts a second or three; five seconds of black is a
// capped lens, a dead HDMI link or a player that stopped, and the soonest sign worth a call. A
// still picture and silence have honest causes that last longer (a slide, a pause in speech,
// an empty room: a live camera's sensor noise keeps its pictures apart, and a live microphone's
// room tone stays above -60 dB), so they wait ten seconds. The thresholds are ffmpeg's own
// defaults for the three filters.
const (
	defaultBlackAfter     = Duration(5 * time.Second)
	defaultBlackThreshold = 0.10
	defaultBlackRatio     = 0.98
	defaultFrozenAfter    = Duration(10 * time.Second)
	defaultFrozenNoise    = Level(-60)
	defaultSilentAfter    = Duration(10 * time.Second)
	defaultSilentLevel    = Level(-60)

	// minAlarmAfter: under a second, a fade or a pause in speech raises an alarm.
	minAlarmAfter = time.Second
)

// DefaultAlarms returns the alarms a channel gets when its profile says nothing of them.
func DefaultAlarms() Alarms {
	return Alarms{
		BlackAfter: defaultBlackAfter, BlackThreshold: defaultBlackThreshold, BlackRatio: defaultBlackRatio,
		FrozenAfter: defaultFrozenAfter, FrozenNoise: defaultFrozenNoise,
		SilentAfter: defaultSilentAfter, SilentLevel: defaultSilentLevel,
	}
}

// alarms reads alarms from t: "off", or an [alarms] table over the defaults. ch's encoders
// must be read already: a stream that is copied cannot be checked, which a table that asks
// for its alarms is told.
func (d *decoder) alarms(t *table, ch *Channel) {
	ch.Alarms = DefaultAlarms()
	v, p, ok := t.get("alarms")
	if !ok {
		return
	}
	switch v := v.(type) {
	case string:
		if v == "off" {
			ch.Alarms = Alarms{Off: true}
			return
		}
	case map[string]any:
		at := &table{path: p, m: v, used: map[string]bool{}}
		d.alarmsTable(at, &ch.Alarms)
		if ch.Video.Encoder == EncoderCopy {
			d.warnf(p, `video is copied (encoder "copy"), not decoded: it has no black or frozen alarm`)
		}
		if ch.Audio.Encoder == EncoderCopy {
			d.warnf(p, `audio is copied (encoder "copy"), not decoded: it has no silent alarm`)
		}
		return
	}
	d.keyErrorf(p, `want "off" or an [alarms] table, got %s`, describe(v))
}

// alarmsTable reads an [alarms] table over a.
func (d *decoder) alarmsTable(t *table, a *Alarms) {
	for _, k := range []struct {
		key string
		dst *Duration
	}{{"black_after", &a.BlackAfter}, {"frozen_after", &a.FrozenAfter}, {"silent_after", &a.SilentAfter}} {
		d.check(d.text(t, k.key, k.dst, false), checkAtLeast(*k.dst, minAlarmAfter))
	}
	d.check(d.float(t, "black_threshold", &a.BlackThreshold), checkFraction(a.BlackThreshold, false))
	d.check(d.float(t, "black_ratio", &a.BlackRatio), checkFraction(a.BlackRatio, true))
	d.check(d.text(t, "frozen_noise", &a.FrozenNoise, true), checkLevel(a.FrozenNoise))
	d.check(d.text(t, "silent_level", &a.SilentLevel, true), checkLevel(a.SilentLevel))
	d.unknown(t)
}

// float sets *dst to the number k, an integer or a float.
func (d *decoder) float(t *table, k string, dst *float64) keyPath {
	v, p, ok := t.get(k)
	if !ok {
		return p
	}
	switch v := v.(type) {
	case float64:
		*dst = v
	case int64:
		*dst = float64(v)
	default:
		d.keyErrorf(p, "want a number, got %s", describe(v))
	}
	return p
}

// checkFraction accepts a share from 0 to 1; with positive, not 0.
func checkFraction(x float64, positive bool) error {
	if math.IsNaN(x) || x < 0 || x > 1 || positive && x == 0 {
		return fmt.Errorf("%v is outside 0..1 (a share: 0.1 is a tenth)", x)
	}
	return nil
}

// checkLevel accepts levels from -120 dB (below any 24-bit sound's noise) to 0 dB (full
// scale): ffmpeg takes a positive number of dB as more than full scale, which nothing is under.
func checkLevel(l Level) error {
	if l < -120 || l >= 0 {
		return fmt.Errorf("%s is outside -120dB..0dB (e.g. \"-60dB\")", l)
	}
	return nil
}
