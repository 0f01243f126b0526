// Package sdptext checks the free text that a profile puts into an announced SDP: the session
// name, information, and DarwinInjector's QuickTime text attributes.
package sdptext

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// MaxLen bounds one text, in bytes, so that all of them together stay well inside Darwin
// Streaming Server's 4 KB limit for an ANNOUNCE body.
const MaxLen = 256

// Check says what is wrong with s as one line of SDP text, or nil.
func Check(s string) error {
	if len(s) > MaxLen {
		return fmt.Errorf("%d bytes: at most %d", len(s), MaxLen)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8")
	}
	for i, r := range s {
		if unicode.IsControl(r) {
			// a line break would end the SDP line and start another of the text's making
			return fmt.Errorf("control character %U at byte %d", r, i)
		}
	}
	return nil
}
