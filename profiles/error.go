package profiles

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one mistake in a config or profile file, located so that an operator can go
// straight to it: "profiles/lobby.toml:7: unknown key "video.bitrat"".
type Error struct {
	// File is the path of the file, as Load was given it or found it in the profile directory.
	File string
	// Line is the 1-based line of the offending key, or 0 when the mistake has no single line
	// (such as a missing section).
	Line int
	// Msg says what is wrong; it names the key where there is one.
	Msg string
}

// Error returns "file:line: msg", or "file: msg" when Line is 0.
func (e *Error) Error() string {
	if e.Line == 0 {
		return e.File + ": " + e.Msg
	}
	return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Msg
}

// Errors is every mistake found while loading, so that one run of "liveinject check" shows
// them all instead of one per edit. Load returns it as the error value itself (not a pointer),
// so callers test for it with errors.As(err, &profiles.Errors{}).
type Errors []*Error

// Error returns one mistake per line.
func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.As and errors.Is look at each mistake.
func (es Errors) Unwrap() []error {
	errs := make([]error, len(es))
	for i, e := range es {
		errs[i] = e
	}
	return errs
}

// sortByLine orders the mistakes of one file as they appear in it. The sort is stable so that
// mistakes on one line keep the order in which they were found.
func (es Errors) sortByLine() {
	slices.SortStableFunc(es, func(a, b *Error) int { return cmp.Compare(a.Line, b.Line) })
}

// maxFileErrors is how many mistakes (and how many warnings) of one file are listed. A real
// profile has a handful; a file of a hundred thousand unknown keys, which fits in the size limit,
// would otherwise put as many lines into the log at each reload and into every /status answer.
const maxFileErrors = 100

// maxMsg bounds the bytes of one message: one quotes the value it refuses, which may be most of
// a file (kind = "<1 MiB>"), and would put as much into the log and every /status answer.
const maxMsg = 512

// capped returns the first maxFileErrors mistakes of es, all of one file, and one that counts the
// rest at the line where they begin; a message longer than maxMsg is cut, and says so.
func (es Errors) capped() Errors {
	for _, e := range es {
		if len(e.Msg) > maxMsg {
			cut := strings.ToValidUTF8(e.Msg[:maxMsg-64], "")
			e.Msg = fmt.Sprintf("%s… (%d bytes in all)", cut, len(e.Msg))
		}
	}
	if len(es) <= maxFileErrors {
		return es
	}
	rest := es[maxFileErrors:]
	return append(es[:maxFileErrors:maxFileErrors], &Error{File: rest[0].File, Line: rest[0].Line,
		Msg: fmt.Sprintf("%d more from here on, not listed", len(rest))})
}
