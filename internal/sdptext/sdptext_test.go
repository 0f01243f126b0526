package sdptext

import (
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		in, err string
	}{
		{"", ""},
		{"Lobby camera — Hôtel de ville", ""},
		{strings.Repeat("é", MaxLen/2), ""},
		{strings.Repeat("x", MaxLen+1), "257 bytes: at most 256"},
		{"a\r\na=x-evil:1", "control character U+000D at byte 1"},
		{"tab\there", "control character U+0009 at byte 3"},
		{"\x85", "not valid UTF-8"},
		{"next line\u0085", "control character U+0085 at byte 9"},
	} {
		err := Check(tc.in)
		if got := ""; err != nil {
			got = err.Error()
			if got != tc.err {
				t.Errorf("Check(%q) = %q, want %q", tc.in, got, tc.err)
			}
		} else if tc.err != "" {
			t.Errorf("Check(%q) = nil, want %q", tc.in, tc.err)
		}
	}
}
