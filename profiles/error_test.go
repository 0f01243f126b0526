package profiles

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  *Error
		want string
	}{
		{&Error{File: "p/a.toml", Line: 7, Msg: `unknown key "video.bitrat"`}, `p/a.toml:7: unknown key "video.bitrat"`},
		{&Error{File: "p/a.toml", Msg: "no [[destination]]"}, `p/a.toml: no [[destination]]`},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("got %q, want %q", got, tt.want)
		}
	}
	errs := Errors{tests[0].err, tests[1].err}
	if got, want := errs.Error(), tests[0].want+"\n"+tests[1].want; got != want {
		t.Errorf("Errors.Error() = %q, want %q", got, want)
	}
}

func TestErrorsAs(t *testing.T) {
	first := &Error{File: "a.toml", Line: 1, Msg: "x"}
	var err error = fmt.Errorf("reload: %w", Errors{first, {File: "b.toml", Msg: "y"}})

	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 2 {
		t.Fatalf("errors.As(Errors) = %v, %v", errs, err)
	}
	// The form the cmd uses to pick exit status 2.
	if !errors.As(err, &Errors{}) {
		t.Error("errors.As(err, &Errors{}) = false")
	}
	var one *Error
	if !errors.As(err, &one) || one != first {
		t.Errorf("errors.As(*Error) = %v", one)
	}
	if errors.As(errors.New("plain"), &Errors{}) {
		t.Error("a plain error is taken for Errors")
	}
}

// TestLongValueMessageCut: a message that quotes a huge value (most of a file within the size
// limit) is cut, and says how long it was, so that the log and /status stay readable.
func TestLongValueMessageCut(t *testing.T) {
	src := "[source]\nkind = \"" + strings.Repeat("x", 500_000) + "\"\n"
	_, errs := decodeTest("p.toml", "p", []byte(src), "")
	if len(errs) == 0 {
		t.Fatal("no error for an unknown kind")
	}
	for _, e := range errs {
		if len(e.Msg) > maxMsg {
			t.Errorf("a message of %d bytes: %.80s…", len(e.Msg), e.Msg)
		}
		if strings.Contains(e.Msg, "source.kind") && !strings.Contains(e.Msg, "bytes in all)") {
			t.Errorf("the cut message does not say it was cut: %.600s", e.Msg)
		}
	}
}
