package profiles

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Std returns d as a time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }

// String returns d as time.Duration writes it, e.g. "2s", with whole days first from a day
// on, as UnmarshalText reads them: "7d", "1d12h0m0s".
func (d Duration) String() string {
	const day = 24 * time.Hour
	v := time.Duration(d)
	if v < day {
		return v.String()
	}
	s := strconv.FormatInt(int64(v/day), 10) + "d"
	if rest := v % day; rest != 0 {
		s += rest.String()
	}
	return s
}

// MarshalText writes d as UnmarshalText reads it.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText reads a duration such as "2s" or "500ms", or days first: "7d", "1d12h" (for
// how long recordings are kept). A bare number is refused: "gop = 5" could mean seconds or
// frames.
func (d *Duration) UnmarshalText(text []byte) error {
	s := string(text)
	var days int64
	hasDays := false
	if i := strings.IndexByte(s, 'd'); i > 0 {
		hasDays = true
		n, err := strconv.ParseInt(s[:i], 10, 64)
		if err != nil || n < 0 || n > 100_000 || !isDecimal(s[:i]) {
			return fmt.Errorf("invalid duration %q (want a number with a unit, e.g. \"2s\" or \"500ms\")", text)
		}
		days, s = n, s[i+1:]
	}
	var v time.Duration
	if s != "" || !hasDays {
		var err error
		if v, err = time.ParseDuration(s); err != nil || hasDays && v < 0 {
			return fmt.Errorf("invalid duration %q (want a number with a unit, e.g. \"2s\" or \"500ms\")", text)
		}
	}
	*d = Duration(time.Duration(days)*24*time.Hour + v)
	return nil
}

// String returns b in the shortest form UnmarshalText reads back exactly: "4M", "2500k" or
// "128001".
func (b Bitrate) String() string {
	switch {
	case b != 0 && b%1_000_000 == 0:
		return strconv.FormatInt(int64(b/1_000_000), 10) + "M"
	case b != 0 && b%1000 == 0:
		return strconv.FormatInt(int64(b/1000), 10) + "k"
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalText writes b as String does.
func (b Bitrate) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText reads bits per second: "128000", "128k" (×1000) or "2.5M" (×1000000), the
// suffixes ffmpeg uses for bitrates.
func (b *Bitrate) UnmarshalText(text []byte) error {
	s := string(text)
	mult := 1.0
	switch {
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		mult = 1e3
		s = s[:len(s)-1]
	case strings.HasSuffix(s, "M"):
		mult = 1e6
		s = s[:len(s)-1]
	}
	// ParseFloat alone would also take "inf", "1e9" and hex; an operator's bitrate is plain digits.
	f, err := strconv.ParseFloat(s, 64)
	if !isDecimal(s) || err != nil {
		return fmt.Errorf("invalid bitrate %q (want bits per second, e.g. \"2500k\", \"2.5M\" or \"128000\")", text)
	}
	v := math.Round(f * mult)
	if v >= 1<<62 {
		return fmt.Errorf("invalid bitrate %q: too large", text)
	}
	*b = Bitrate(v)
	return nil
}

// isDecimal reports whether s is digits with at most one '.' between or after them.
func isDecimal(s string) bool {
	digits, dots := 0, 0
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits++
		case r == '.' && digits > 0:
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1
}

// String returns s as "WxH".
func (s Size) String() string { return strconv.Itoa(s.Width) + "x" + strconv.Itoa(s.Height) }

// MarshalText writes s as String does.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads "WxH", e.g. "1280x720". Whether the size suits an encoder is checked
// when the profile is validated.
func (s *Size) UnmarshalText(text []byte) error {
	w, h, ok := strings.Cut(string(text), "x")
	if ok {
		width, errW := strconv.Atoi(w)
		height, errH := strconv.Atoi(h)
		if errW == nil && errH == nil {
			*s = Size{Width: width, Height: height}
			return nil
		}
	}
	return fmt.Errorf("invalid size %q (want WIDTHxHEIGHT, e.g. \"1280x720\")", text)
}

// Level is a sound or picture difference level in dB (below full scale), written "-60dB".
type Level float64

// String returns the level as ffmpeg's filters take it: "-60dB".
func (l Level) String() string { return strconv.FormatFloat(float64(l), 'f', -1, 64) + "dB" }

// MarshalText implements encoding.TextMarshaler.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads "-60dB", or "-60".
func (l *Level) UnmarshalText(text []byte) error {
	s := strings.TrimSpace(string(text))
	x, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(s, "dB")), 64)
	if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
		return fmt.Errorf("invalid level %q (want dB below full scale, e.g. \"-60dB\")", s)
	}
	*l = Level(x)
	return nil
}
