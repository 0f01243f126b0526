package demux

import (
	"bytes"
	"fmt"
	"io"
)

const (
	// tsPacketSize is the size of an MPEG-TS packet.
	tsPacketSize = 188
	// tsSyncByte starts every MPEG-TS packet.
	tsSyncByte = 0x47
	// packetReaderSize is what packetReader asks of its source at most in one read: about what a
	// pipe holds (64 KiB), so that a backlog is taken in few system calls.
	packetReaderSize = 348 * tsPacketSize
)

// packetReader cuts a byte stream into 188-byte MPEG-TS packets. It hands on every packet as soon
// as its last byte has been read, whatever the source returns in one read: a pipe's reads return
// what has arrived, and waiting to fill a larger buffer would delay the frames.
//
// Out of sync (at the start, or after garbage or a lost byte) it takes a sync byte for the start
// of a packet only when another one follows 188 bytes later, so that a 0x47 in garbage or in a
// payload does not cost the packets after it.
type packetReader struct {
	r io.Reader
	// onSkip is told how many bytes were skipped to find the next packet.
	onSkip func(n int)

	buf        []byte
	start, end int // buf[start:end] is read but not yet handed on
	synced     bool
	skipped    int
	err        error
}

// reset makes p read from r, from scratch, keeping its buffer.
func (p *packetReader) reset(r io.Reader) {
	if p.buf == nil {
		p.buf = make([]byte, packetReaderSize)
	}
	p.r = r
	p.start, p.end = 0, 0
	p.synced = false
	p.skipped = 0
	p.err = nil
}

// next returns the next packet. It stays valid until the next call. At the end of the source it
// returns the source's error (io.EOF), after reporting the bytes of a last incomplete packet as
// skipped.
func (p *packetReader) next() ([]byte, error) {
	for {
		if pkt := p.find(); pkt != nil {
			return pkt, nil
		}
		if p.err != nil {
			p.skip(p.end - p.start)
			p.flushSkipped()
			return nil, p.err
		}
		p.fill()
	}
}

// find returns the next packet in the buffer, or nil when more bytes are needed first.
func (p *packetReader) find() []byte {
	for p.end-p.start >= tsPacketSize {
		if p.buf[p.start] != tsSyncByte {
			p.skip(1)
			continue
		}
		more := p.end-p.start > tsPacketSize
		switch {
		case more && p.buf[p.start+tsPacketSize] == tsSyncByte:
			// The next packet's first byte confirms this one.
		case p.synced:
			// Unconfirmed in sync: garbage follows this packet, or starts here with a sync
			// byte. In the second case a confirmed packet starts inside this one.
			if k := p.confirmedWithin(); k > 0 {
				p.skip(k)
				continue
			}
		case more:
			p.skip(1)
			continue
		case p.err == nil:
			// Nothing follows yet to confirm this packet: wait for it.
			return nil
		default:
			// The last bytes of the stream: nothing will follow.
		}
		pkt := p.buf[p.start : p.start+tsPacketSize : p.start+tsPacketSize]
		p.start += tsPacketSize
		p.synced = true
		p.flushSkipped()
		return pkt
	}
	return nil
}

// confirmedWithin returns the offset of a sync byte inside the packet at the start of the buffer
// that has another one 188 bytes later, or 0.
func (p *packetReader) confirmedWithin() int {
	for off := 1; off < tsPacketSize; off++ {
		i := bytes.IndexByte(p.buf[p.start+off:p.start+tsPacketSize], tsSyncByte)
		if i < 0 {
			return 0
		}
		off += i
		if next := p.start + off + tsPacketSize; next < p.end && p.buf[next] == tsSyncByte {
			return off
		}
	}
	return 0
}

// skip drops n bytes, and then every byte up to the next sync byte.
func (p *packetReader) skip(n int) {
	p.synced = false
	p.start += n
	p.skipped += n
	i := bytes.IndexByte(p.buf[p.start:p.end], tsSyncByte)
	if i < 0 {
		i = p.end - p.start
	}
	p.start += i
	p.skipped += i
}

func (p *packetReader) flushSkipped() {
	if p.skipped > 0 && p.onSkip != nil {
		p.onSkip(p.skipped)
	}
	p.skipped = 0
}

// fill reads once from the source, after moving what is left to the front of the buffer.
func (p *packetReader) fill() {
	if p.start > 0 {
		p.end = copy(p.buf, p.buf[p.start:p.end])
		p.start = 0
	}
	n, err := p.r.Read(p.buf[p.end:])
	if n < 0 || n > len(p.buf)-p.end {
		err = fmt.Errorf("reader returned %d bytes for a buffer of %d", n, len(p.buf)-p.end)
		n = 0
	}
	p.end += n
	if err != nil {
		p.err = err
	}
}
