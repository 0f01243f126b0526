package profiles

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxFileSize bounds every file the configuration is read from: the main config, the profiles,
// password and certificate files. The largest real profile is a few kilobytes and a CA bundle a
// few hundred; anything bigger is the wrong file, and read whole it would cost its size in
// memory at every reload.
const maxFileSize = 1 << 20

// maxNesting bounds how deep the values of a file nest (arrays, inline tables, and the tables of
// dotted keys): no real profile nests deeper than three. See nestingTooDeep.
const maxNesting = 32

// errTooLarge is why a file over maxFileSize is refused.
var errTooLarge = fmt.Errorf("larger than %d bytes (1 MiB), the most liveinject reads of a config file", maxFileSize)

// readFile reads a file of the configuration, following symlinks. It refuses, without reading
// them, what is not a regular file (a directory; a FIFO, whose open would wait for a writer and
// block every reload; a device such as /dev/zero, which never ends) and a file over maxFileSize.
// Its errors are *fs.PathError, naming the file.
func readFile(file string) ([]byte, error) {
	info, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, &fs.PathError{Op: "read", Path: file, Err: err}
	}
	// O_NONBLOCK: what is opened may have been swapped for a FIFO since the Stat.
	f, err := os.OpenFile(file, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if info, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(info); err != nil {
		return nil, &fs.PathError{Op: "read", Path: file, Err: err}
	}
	// A file that grows while it is read is cut at one byte over the limit.
	src, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(src) > maxFileSize {
		return nil, &fs.PathError{Op: "read", Path: file, Err: errTooLarge}
	}
	return src, nil
}

// checkRegular refuses what is not a regular file, or is one over maxFileSize.
func checkRegular(info fs.FileInfo) error {
	mode := info.Mode()
	switch {
	case mode.IsRegular():
		if info.Size() > maxFileSize {
			return errTooLarge
		}
		return nil
	case mode.IsDir():
		return errors.New("a directory, not a regular file")
	case mode&fs.ModeNamedPipe != 0:
		return errors.New("a named pipe (FIFO), not a regular file")
	case mode&fs.ModeSocket != 0:
		return errors.New("a socket, not a regular file")
	case mode&fs.ModeDevice != 0:
		return errors.New("a device, not a regular file")
	}
	return errors.New("not a regular file")
}

// nestingTooDeep reports whether the values of a TOML document nest deeper than maxNesting, and
// the line where they first do. It runs before toml.Decode: the TOML library and scanKeyLines
// recurse once per level, so that 30,000 "[" (a 60 KB profile) overflowed the goroutine stack,
// a fatal error no recover catches, which stopped every channel; and scanKeyLines' memory grew
// with the square of the depth.
//
// It reads the text once, in constant memory, skipping strings and comments as TOML does, and
// counts: an open bracket or brace is one level more than the nesting at its key, the parts of a
// dotted key one level each. A table header's brackets count too, and the '.' of a float one
// level: on valid TOML the count is at most two over the real nesting. On text TOML refuses it
// may count wrong, but only after the mistake that toml.Decode reports.
func nestingTooDeep(src []byte) (line int, tooDeep bool) {
	line = 1
	// stack holds the nesting outside each open bracket, to go back to at its close. It never
	// holds more than maxNesting entries, since each one is a level.
	var stack []int
	nesting, dots := 0, 0 // at the current bracket, and the dots of the key being read
	for i := 0; i < len(src); i++ {
		switch src[i] {
		case '\n':
			line++
			dots = 0
		case '#':
			for i+1 < len(src) && src[i+1] != '\n' {
				i++
			}
		case '"', '\'':
			var lines int
			i, lines = skipTOMLString(src, i)
			line += lines
		case '[', '{':
			stack = append(stack, nesting)
			nesting += dots + 1
			dots = 0
			if nesting > maxNesting {
				return line, true
			}
		case ']', '}':
			if n := len(stack); n > 0 {
				nesting, stack = stack[n-1], stack[:n-1]
			}
			dots = 0
		case '=', ',':
			dots = 0
		case '.':
			dots++
			if nesting+dots > maxNesting {
				return line, true
			}
		}
	}
	return 0, false
}

// skipTOMLString returns the index of the last byte of the basic, literal or multi-line string
// that starts at src[i], and how many newlines it holds. A one-line string ends at the end of
// its line if not before: TOML refuses it there.
func skipTOMLString(src []byte, i int) (last, lines int) {
	quote := src[i]
	multiline := i+2 < len(src) && src[i+1] == quote && src[i+2] == quote
	j := i + 1
	if multiline {
		j = i + 3
	}
	for ; j < len(src); j++ {
		switch c := src[j]; {
		case c == '\\' && quote == '"':
			// an escape: the next byte cannot end the string (a line-ending backslash is
			// TOML's line continuation)
			if j+1 < len(src) && src[j+1] == '\n' {
				lines++
			}
			j++
		case c == '\n':
			if !multiline {
				return j - 1, lines
			}
			lines++
		case c == quote && !multiline:
			return j, lines
		case c == quote && j+2 < len(src) && src[j+1] == quote && src[j+2] == quote:
			// A multi-line string may end in up to two quotes of its own: """a"""""
			j += 2
			for n := 0; n < 2 && j+1 < len(src) && src[j+1] == quote; n++ {
				j++
			}
			return j, lines
		}
	}
	return len(src) - 1, lines
}
