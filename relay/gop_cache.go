package relay

import (
	"bytes"
	"slices"
	"sync/atomic"

	"github.com/pion/rtp"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// Bounds of a path's GOP cache. A GOP over either bound is not cached: players that join during
// it wait for the next IDR instead. All paths' caches together stay within the server's
// GOPMemory.
const (
	gopMaxPackets = 2000
	gopMaxBytes   = 8 << 20
)

// gopBudget is the payload bytes that every path's GOP cache may hold together: a publisher that
// announces many paths cannot make the relay hold 8 MiB for each.
type gopBudget struct {
	max  int64
	used atomic.Int64
}

// cachedPacket is one RTP packet of any media of the path, as the publisher sent it.
type cachedPacket struct {
	media *description.Media
	pkt   *rtp.Packet
}

// gopCache keeps every packet of every media since the start of the access unit that carries the
// latest H.264 IDR, so that a player who joins late can start decoding at once. While no GOP is
// cached (before the first IDR, after an overflow) it holds only the packets of the current video
// access unit, because the SPS and PPS that open an IDR access unit come before the IDR itself.
//
// It is not safe for concurrent use: the path's mutex guards it.
type gopCache struct {
	maxPackets int
	maxBytes   int
	budget     *gopBudget // shared with the other paths'; nil: none

	pkts  []cachedPacket
	bytes int
	// active: pkts starts with an access unit that carries an IDR.
	active bool
	// paramsInGOP: the first access unit of the cached GOP carries both SPS and PPS.
	paramsInGOP bool

	// latest parameter sets, from the announced SDP or in-band
	sps []byte
	pps []byte

	// the current video access unit
	auSeen  bool
	auTS    uint32
	auEnded bool // its last packet so far had the marker bit
	auStart int  // index in pkts of its first packet
	auSPS   bool
	auPPS   bool
	auIDR   bool
	auSkip  bool // it overflowed the cache: nothing more of it is kept
}

func newGOPCache(sps, pps []byte, budget *gopBudget) *gopCache {
	return &gopCache{
		maxPackets: gopMaxPackets,
		maxBytes:   gopMaxBytes,
		budget:     budget,
		sps:        sps,
		pps:        pps,
	}
}

// pushVideo adds an H.264 packet. started reports that the packet opened a new GOP (it belongs to
// an access unit with an IDR, and is the first such packet of it); paramsChanged reports that it
// carried an SPS or PPS different from the latest one.
func (c *gopCache) pushVideo(media *description.Media, pkt *rtp.Packet) (started, paramsChanged bool) {
	if !c.auSeen || pkt.Timestamp != c.auTS || c.auEnded {
		c.auSeen = true
		c.auTS = pkt.Timestamp
		c.auSPS, c.auPPS, c.auIDR, c.auSkip = false, false, false, false
		if !c.active {
			c.clear()
		}
		c.auStart = len(c.pkts)
	}
	c.auEnded = pkt.Marker

	n := inspectH264(pkt.Payload)
	if n.sps != nil {
		c.auSPS = true
		if !bytes.Equal(n.sps, c.sps) {
			c.sps = bytes.Clone(n.sps)
			paramsChanged = true
		}
	}
	if n.pps != nil {
		c.auPPS = true
		if !bytes.Equal(n.pps, c.pps) {
			c.pps = bytes.Clone(n.pps)
			paramsChanged = true
		}
	}

	if c.auSkip {
		return false, paramsChanged
	}

	if n.idr && !c.auIDR {
		c.auIDR = true
		c.dropBefore(c.auStart)
		c.auStart = 0
		c.active = true
		c.paramsInGOP = c.auSPS && c.auPPS
		started = true
	}

	if !c.add(media, pkt) {
		c.auSkip = true
		return false, paramsChanged
	}
	return started, paramsChanged
}

// pushOther adds a packet of a media other than the H.264 video. Before the first IDR there is
// nothing for it to follow, so it is dropped.
func (c *gopCache) pushOther(media *description.Media, pkt *rtp.Packet) {
	if c.active {
		c.add(media, pkt)
	}
}

// add appends a packet; when that takes the cache over its bounds, or all caches over the shared
// budget, it empties the cache, which then waits for the next IDR, and returns false.
func (c *gopCache) add(media *description.Media, pkt *rtp.Packet) bool {
	c.pkts = append(c.pkts, cachedPacket{media: media, pkt: pkt})
	c.account(len(pkt.Payload))
	if len(c.pkts) > c.maxPackets || c.bytes > c.maxBytes || (c.budget != nil && c.budget.used.Load() > c.budget.max) {
		c.clear()
		c.active = false
		return false
	}
	return true
}

// dropBefore removes the packets before index i.
func (c *gopCache) dropBefore(i int) {
	if i == 0 {
		return
	}
	for _, p := range c.pkts[:i] {
		c.account(-len(p.pkt.Payload))
	}
	c.pkts = slices.Delete(c.pkts, 0, i)
}

func (c *gopCache) clear() {
	clear(c.pkts)
	c.pkts = c.pkts[:0]
	c.account(-c.bytes)
	c.auStart = 0
}

// account adds n payload bytes to the cache's count and to the shared budget's.
func (c *gopCache) account(n int) {
	c.bytes += n
	if c.budget != nil {
		c.budget.used.Add(int64(n))
	}
}

// replay passes the cached GOP to write, in the order the packets arrived, and returns how many
// packets it passed; 0 when no GOP is cached. When the GOP's first access unit lacks SPS or PPS,
// the latest ones go first, in packets numbered just before the IDR's first packet: the player
// has seen none of the earlier packets, so for it the sequence has neither gap nor duplicate.
func (c *gopCache) replay(write func(*description.Media, *rtp.Packet)) int {
	if !c.active || len(c.pkts) == 0 {
		return 0
	}
	n := 0
	first := c.pkts[0]
	if !c.paramsInGOP && c.sps != nil && c.pps != nil {
		for i, ps := range [][]byte{c.sps, c.pps} {
			write(first.media, &rtp.Packet{
				Header: rtp.Header{
					Version:        2,
					PayloadType:    first.pkt.PayloadType,
					SequenceNumber: first.pkt.SequenceNumber - uint16(2-i),
					Timestamp:      first.pkt.Timestamp,
					SSRC:           first.pkt.SSRC,
				},
				Payload: ps,
			})
			n++
		}
	}
	for _, p := range c.pkts {
		write(p.media, p.pkt)
		n++
	}
	return n
}

// h264Info is what one RTP payload carries that matters to the cache.
type h264Info struct {
	idr bool
	sps []byte
	pps []byte
}

// inspectH264 looks into an H.264 RTP payload: a single NAL unit, a STAP-A, or a fragment of an
// FU-A/FU-B (a fragment of an IDR counts as IDR; SPS and PPS are never worth fragmenting).
func inspectH264(payload []byte) h264Info {
	var info h264Info
	if len(payload) == 0 {
		return info
	}
	nalu := func(n []byte) {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeIDR:
			info.idr = true
		case h264.NALUTypeSPS:
			info.sps = n
		case h264.NALUTypePPS:
			info.pps = n
		}
	}
	// RTP payload structures of RFC 6184
	switch typ := h264.NALUType(payload[0] & 0x1f); typ {
	case h264.NALUTypeSTAPA:
		for p := payload[1:]; len(p) >= 2; {
			size := int(p[0])<<8 | int(p[1])
			p = p[2:]
			if size == 0 || size > len(p) {
				break
			}
			nalu(p[:size])
			p = p[size:]
		}
	case h264.NALUTypeFUA, h264.NALUTypeFUB:
		if len(payload) >= 2 && h264.NALUType(payload[1]&0x1f) == h264.NALUTypeIDR {
			info.idr = true
		}
	default:
		if typ >= 1 && typ <= 23 {
			nalu(payload)
		}
	}
	return info
}
