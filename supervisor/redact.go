package supervisor

import (
	"net/url"
	"strings"

	"github.com/liveinject/liveinject/profiles"
)

// Redactor returns a function that hides the passwords of a channel's input, which ffmpeg's
// command line holds and its messages may repeat, in a text: an argument, or a line ffmpeg
// printed. Destinations are not ffmpeg's business and need no hiding here.
func Redactor(ch profiles.Channel) func(string) string {
	var pairs []string
	for _, arg := range append([]string{ch.Source.URL}, ch.FFmpeg.InputArgs...) {
		for _, pw := range urlPasswords(arg) {
			pairs = append(pairs, pw, "xxxxx")
		}
	}
	if len(pairs) == 0 {
		return func(s string) string { return s }
	}
	return strings.NewReplacer(pairs...).Replace
}

// urlPasswords returns the password of a URL as written and as decoded, or nothing.
func urlPasswords(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return nil
	}
	decoded, ok := u.User.Password()
	if !ok || decoded == "" {
		return nil
	}
	_, rest, ok := strings.Cut(raw, "://")
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		rest = rest[:end]
	}
	at := strings.LastIndex(rest, "@")
	_, written, _ := strings.Cut(rest[:max(at, 0)], ":")
	if !ok || at < 0 || written == decoded || written == "" {
		return []string{decoded}
	}
	return []string{written, decoded}
}
