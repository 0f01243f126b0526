package demux

import (
	"errors"
	"fmt"
)

// maxPESSize bounds a PES without a length (the largest H.264 access unit mediacommon accepts):
// damage that hides every unit start must not grow the buffer without end.
const maxPESSize = 8 << 20

// pesState is where a pesAssembler stands in its PID's packets.
type pesState int

const (
	// pesIdle: waiting for a unit start, after damage or at the beginning.
	pesIdle pesState = iota
	// pesCollecting: a PES is being put together.
	pesCollecting
	// pesDone: a PES with a length was handed on; what follows it before the next unit start
	// is not part of any PES.
	pesDone
)

// pesUnit is one PES: its timestamps and its payload.
type pesUnit struct {
	pid uint16
	// pts and dts are the raw 33-bit timestamps, which onHeader may replace (by unwrapped ones).
	pts, dts int64
	hasPTS   bool
	// start is where the payload starts in the PES.
	start int
	// data is the PES payload. It points into the assembler's buffer: valid during the call
	// it is handed to only.
	data []byte
}

// pesAssembler puts the PES of one PID together from its TS packets, in a buffer it reuses.
//
// A PES whose header gives its length is handed on with its last byte, without waiting for the
// next unit start: ffmpeg writes the length of every PES but video ones of 64 KiB or more, and
// the next one may come a frame later. A PES without a length ends at the next unit start.
type pesAssembler struct {
	pid   uint16
	cc    int // last continuity counter, -1 when none yet
	state pesState
	buf   []byte
	size  int // PES size from its header (6 + PES_packet_length); 0 without; -1 not known yet
	// header is set once the PES header has been read into unit
	header bool
	unit   pesUnit

	// onHeader, if set, is called with every PES header that has a PTS, in stream order, as
	// soon as it has been read; onPES with every complete PES; decodeError with damage.
	onHeader    func(*pesUnit)
	onPES       func(*pesUnit) error
	decodeError func(error)
}

// add takes one TS packet's payload. cc is its continuity counter; discontinuity is the
// adaptation field's discontinuity_indicator.
func (a *pesAssembler) add(payload []byte, unitStart bool, cc int, discontinuity bool) error {
	if a.cc >= 0 && !discontinuity {
		if cc == a.cc {
			// A packet may be sent twice (ISO/IEC 13818-1 2.4.3.3): the copy is dropped.
			return nil
		}
		if cc != (a.cc+1)&0xf {
			lost := (cc - a.cc - 1) & 0xf
			if a.state == pesCollecting {
				a.decodeError(fmt.Errorf("PID %d: continuity counter %d after %d: %d or more TS packets lost, "+
					"PES dropped", a.pid, cc, a.cc, lost))
			} else {
				a.decodeError(fmt.Errorf("PID %d: continuity counter %d after %d: %d or more TS packets lost",
					a.pid, cc, a.cc, lost))
			}
			a.state = pesIdle
		}
	}
	a.cc = cc

	if unitStart {
		if err := a.end(false); err != nil {
			return err
		}
		a.state = pesCollecting
		a.buf = append(a.buf[:0], payload...)
		a.size = -1
	} else {
		switch a.state {
		case pesIdle:
			return nil
		case pesDone:
			a.decodeError(fmt.Errorf("PID %d: %d bytes after the end of a PES", a.pid, len(payload)))
			a.state = pesIdle
			return nil
		}
		a.buf = append(a.buf, payload...)
	}

	if a.size < 0 {
		if len(a.buf) < 6 {
			return nil
		}
		if a.buf[0] != 0 || a.buf[1] != 0 || a.buf[2] != 1 {
			a.decodeError(fmt.Errorf("PID %d: unit start without a PES start code", a.pid))
			a.state = pesIdle
			return nil
		}
		a.size = 0
		if n := int(a.buf[4])<<8 | int(a.buf[5]); n != 0 {
			a.size = 6 + n
		}
		a.header = false
	}
	if !a.header && !a.readHeader() {
		return nil
	}
	switch {
	case a.size > 0 && len(a.buf) >= a.size:
		a.state = pesDone
		if len(a.buf) > a.size {
			// Payload bytes after the PES in its last packet: a muxer fills with adaptation
			// field stuffing instead, so they are damage.
			a.decodeError(fmt.Errorf("PID %d: %d bytes after the end of a PES", a.pid, len(a.buf)-a.size))
		}
		return a.emit(a.buf[:a.size])
	case a.size == 0 && len(a.buf) > maxPESSize:
		a.decodeError(fmt.Errorf("PID %d: PES without length over %d bytes dropped", a.pid, maxPESSize))
		a.state = pesIdle
	}
	return nil
}

// end closes the PES in progress at a unit start, or at the end of the stream (eof): one with a
// length is cut short. One without a length is complete at a unit start; at the end of the
// stream it is dropped, since nothing tells whether it is: the stream of an ffmpeg that was
// killed ends inside a frame, and a keyframe cut short would be the picture a channel holds
// through the outage that follows.
func (a *pesAssembler) end(eof bool) error {
	if a.state != pesCollecting {
		return nil
	}
	a.state = pesIdle
	switch {
	case a.size < 0:
		a.decodeError(fmt.Errorf("PID %d: PES cut short in its header", a.pid))
		return nil
	case a.size > 0:
		a.decodeError(fmt.Errorf("PID %d: PES cut short (%d bytes of %d)", a.pid, len(a.buf), a.size))
		return nil
	case eof:
		a.decodeError(fmt.Errorf("PID %d: PES without a length dropped at the end of the stream: "+
			"it may be cut short", a.pid))
		return nil
	}
	return a.emit(a.buf)
}

var errNoPTS = errors.New("PTS is missing")

// readHeader reads the PES header into unit once it is whole, and tells whether it has. A PES
// without a PTS is dropped.
func (a *pesAssembler) readHeader() bool {
	pes := a.buf
	if a.size > 0 {
		pes = pes[:min(len(pes), a.size)]
	}
	u := &a.unit
	*u = pesUnit{pid: a.pid, start: 6}
	switch pes[3] {
	case 0xbc, 0xbe, 0xbf, 0xf0, 0xf1, 0xf2, 0xf8, 0xff:
		// Stream IDs without the optional header (program stream map, padding, private 2,
		// ECM, EMM, DSM-CC, H.222.1 E, directory): no timestamps.
	default:
		if len(pes) < 9 || 9+int(pes[8]) > len(pes) {
			if a.size > 0 && len(pes) == a.size || a.size == 0 && len(pes) > 9+255 {
				a.decodeError(fmt.Errorf("PID %d: PES header longer than the PES", a.pid))
				a.state = pesIdle
			}
			return false
		}
		hdr := pes[9 : 9+int(pes[8])]
		u.start = 9 + len(hdr)
		flags := pes[7] >> 6
		if flags&2 != 0 && len(hdr) >= 5 {
			u.pts, u.hasPTS = timestamp(hdr), true
			u.dts = u.pts
			if flags == 3 && len(hdr) >= 10 {
				u.dts = timestamp(hdr[5:])
			}
		}
	}
	if !u.hasPTS {
		a.decodeError(fmt.Errorf("PID %d: %w", a.pid, errNoPTS))
		a.state = pesIdle
		return false
	}
	a.header = true
	if a.onHeader != nil {
		a.onHeader(u)
	}
	return true
}

// emit hands a whole PES on.
func (a *pesAssembler) emit(pes []byte) error {
	if !a.header {
		a.decodeError(fmt.Errorf("PID %d: PES header longer than the PES", a.pid))
		return nil
	}
	a.unit.data = pes[a.unit.start:]
	return a.onPES(&a.unit)
}

// timestamp decodes a 33-bit PTS or DTS field.
func timestamp(b []byte) int64 {
	return int64(b[0]>>1&0x07)<<30 | int64(b[1])<<22 | int64(b[2]>>1)<<15 | int64(b[3])<<7 | int64(b[4]>>1)
}
