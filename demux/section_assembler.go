package demux

import "fmt"

// sectionAssembler puts the PSI sections (PAT, PMT) of one PID together from its TS packets.
type sectionAssembler struct {
	pid    uint16
	cc     int // last continuity counter, -1 when none yet
	buf    []byte
	active bool // buf holds the start of a section

	// onSection is called with every whole section; decodeError for damage.
	onSection   func([]byte) error
	decodeError func(error)
}

func (s *sectionAssembler) reset() {
	s.cc = -1
	s.active = false
}

// add takes one TS packet's payload.
func (s *sectionAssembler) add(payload []byte, unitStart bool, cc int, discontinuity bool) error {
	if s.cc >= 0 && !discontinuity && cc != (s.cc+1)&0xf {
		if cc == s.cc {
			return nil // a duplicate packet
		}
		if s.active {
			s.decodeError(fmt.Errorf("PID %d: continuity counter %d after %d: PSI section dropped", s.pid, cc, s.cc))
		}
		s.active = false
	}
	s.cc = cc

	if !unitStart {
		if s.active {
			s.buf = append(s.buf, payload...)
			return s.complete()
		}
		return nil
	}
	if len(payload) == 0 || 1+int(payload[0]) > len(payload) {
		s.decodeError(fmt.Errorf("PID %d: PSI pointer field past the packet", s.pid))
		s.active = false
		return nil
	}
	ptr := int(payload[0])
	if s.active {
		s.buf = append(s.buf, payload[1:1+ptr]...)
		if err := s.complete(); err != nil {
			return err
		}
		if s.active {
			s.decodeError(fmt.Errorf("PID %d: PSI section cut short", s.pid))
		}
	}
	s.active = false
	for rest := payload[1+ptr:]; len(rest) > 0 && rest[0] != 0xff; {
		n := len(rest)
		if n >= 3 {
			n = 3 + (int(rest[1]&0x0f)<<8 | int(rest[2]))
		}
		if n > len(rest) {
			s.buf = append(s.buf[:0], rest...)
			s.active = true
			return s.complete()
		}
		if err := s.section(rest[:n]); err != nil {
			return err
		}
		rest = rest[n:]
	}
	return nil
}

// complete hands the section in buf on once it is whole.
func (s *sectionAssembler) complete() error {
	if len(s.buf) < 3 {
		return nil
	}
	n := 3 + (int(s.buf[1]&0x0f)<<8 | int(s.buf[2]))
	if n > maxSectionSize {
		s.active = false
		s.decodeError(fmt.Errorf("PID %d: PSI section of %d bytes", s.pid, n))
		return nil
	}
	if len(s.buf) < n {
		return nil
	}
	s.active = false
	return s.section(s.buf[:n])
}

func (s *sectionAssembler) section(sec []byte) error {
	if len(sec) > maxSectionSize {
		s.decodeError(fmt.Errorf("PID %d: PSI section of %d bytes", s.pid, len(sec)))
		return nil
	}
	return s.onSection(sec)
}
