package demux

import (
	"errors"
	"fmt"
)

// tsDemuxer follows a single-program MPEG-TS: the PAT, the program's PMT, and the PES of the
// elementary streams it is told to follow (at most two: our video and our audio). It keeps no
// memory per packet: each packet is taken apart where it lies, and each PID's data goes into a
// buffer that is reused.
type tsDemuxer struct {
	// onPMT is called with the program's streams when its PMT first comes and whenever it
	// changes; it picks the PIDs to follow with follow. The slice is reused.
	onPMT func([]esInfo) error
	// onHeader, if set, is called with every PES header of a followed PID, in stream order.
	onHeader func(*pesUnit)
	// onPES is called with every complete PES of a followed PID.
	onPES func(*pesUnit) error
	// decodeError is told of damage that the demuxer recovers from.
	decodeError func(error)

	pat, pmt sectionAssembler
	pmtPID   int // -1 before the first PAT
	// CRCs of the PAT and PMT sections in force: a repeated table is recognised by its CRC,
	// and neither checked nor parsed again.
	patCRC, pmtCRC   uint32
	havePAT, havePMT bool
	streams          []esInfo
	es               [2]*pesAssembler
}

func (d *tsDemuxer) initialize() {
	d.pat = sectionAssembler{pid: 0, cc: -1, onSection: d.onPAT, decodeError: d.decodeError}
	d.pmt = sectionAssembler{cc: -1, onSection: d.onPMTSection, decodeError: d.decodeError}
	d.pmtPID = -1
}

// follow sets the PIDs whose PES are put together (-1: none). A PID followed before keeps its
// state.
func (d *tsDemuxer) follow(pids [2]int) {
	var es [2]*pesAssembler
	for i, pid := range pids {
		if pid < 0 {
			continue
		}
		for _, a := range d.es {
			if a != nil && int(a.pid) == pid {
				es[i] = a
			}
		}
		if es[i] == nil {
			es[i] = &pesAssembler{pid: uint16(pid), cc: -1, onHeader: d.onHeader, onPES: d.onPES,
				decodeError: d.decodeError}
		}
	}
	d.es = es
}

// feed takes one TS packet.
func (d *tsDemuxer) feed(pkt []byte) error {
	if pkt[1]&0x80 != 0 {
		d.decodeError(errors.New("TS packet with the transport error indicator dropped"))
		return nil
	}
	pid := uint16(pkt[1]&0x1f)<<8 | uint16(pkt[2])
	control := pkt[3] >> 4 & 3
	if control&1 == 0 {
		// No payload: an adaptation field alone (a PCR, stuffing), or a reserved value.
		return nil
	}
	payload := pkt[4:]
	discontinuity := false
	if control == 3 {
		n := int(pkt[4])
		if n > tsPacketSize-5 {
			d.decodeError(fmt.Errorf("PID %d: adaptation field of %d bytes", pid, n))
			return nil
		}
		discontinuity = n > 0 && pkt[5]&0x80 != 0
		payload = pkt[5+n:]
	}
	unitStart := pkt[1]&0x40 != 0
	cc := int(pkt[3] & 0x0f)

	switch {
	case pid == 0:
		return d.pat.add(payload, unitStart, cc, discontinuity)
	case int(pid) == d.pmtPID:
		return d.pmt.add(payload, unitStart, cc, discontinuity)
	}
	for _, a := range d.es {
		if a != nil && a.pid == pid {
			return a.add(payload, unitStart, cc, discontinuity)
		}
	}
	return nil
}

// flush ends the stream: a PES without a length still in progress is complete.
func (d *tsDemuxer) flush() error {
	first, second := d.es[0], d.es[1]
	if first == nil || second != nil && second.pid < first.pid {
		first, second = second, first
	}
	for _, a := range [2]*pesAssembler{first, second} {
		if a == nil {
			continue
		}
		if err := a.end(true); err != nil {
			return err
		}
	}
	return nil
}

// sectionCRC returns the CRC_32 field at the end of a section.
func sectionCRC(sec []byte) uint32 {
	n := len(sec)
	return uint32(sec[n-4])<<24 | uint32(sec[n-3])<<16 | uint32(sec[n-2])<<8 | uint32(sec[n-1])
}

func (d *tsDemuxer) onPAT(sec []byte) error {
	if sec[0] != 0x00 || len(sec) < 4 || d.havePAT && sectionCRC(sec) == d.patCRC {
		return nil
	}
	current, body, err := checkSection(sec)
	if err != nil {
		d.decodeError(fmt.Errorf("PAT: %w", err))
		return nil
	}
	if !current {
		return nil
	}
	pid, ok := parsePAT(body)
	if !ok {
		d.decodeError(errors.New("PAT without a program"))
		return nil
	}
	d.patCRC, d.havePAT = sectionCRC(sec), true
	if int(pid) != d.pmtPID {
		d.pmtPID = int(pid)
		d.pmt.pid = pid
		d.pmt.reset()
		d.havePMT = false
	}
	return nil
}

func (d *tsDemuxer) onPMTSection(sec []byte) error {
	if sec[0] != 0x02 || len(sec) < 4 || d.havePMT && sectionCRC(sec) == d.pmtCRC {
		return nil
	}
	current, body, err := checkSection(sec)
	if err != nil {
		d.decodeError(fmt.Errorf("PMT: %w", err))
		return nil
	}
	if !current {
		return nil
	}
	streams, err := parsePMT(body, d.streams[:0])
	if err != nil {
		d.decodeError(err)
		return nil
	}
	d.streams = streams
	d.pmtCRC, d.havePMT = sectionCRC(sec), true
	return d.onPMT(streams)
}
