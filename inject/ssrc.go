package inject

import (
	"encoding/binary"
	"hash/fnv"
	"sync/atomic"

	"github.com/liveinject/liveinject/demux"
)

// Darwin Streaming Server's reflector locks a broadcast onto the SSRC of its packets
// (use_one_SSRC_per_stream) and drops packets of another SSRC until the locked one has been
// silent timeout_stream_SSRC_secs (30 s). gortsplib v4.16.2 gives every client session a new
// random SSRC and has no option for it, so a reconnect, a re-ANNOUNCE or a restart of liveinject
// would leave every viewer dark for half a minute. The SSRC is therefore set on the way out, in
// the connection the client's DialContext hook hands it: interleaved RTP and RTCP are rewritten
// to carry an SSRC derived from the channel, the destination and the track, the same for ever.
//
// Over UDP no wrapper can see the packets (gortsplib v4.16.2 asserts that what its ListenPacket
// hook returns is a *net.UDPConn), so the session writes them itself from those sockets, with
// the same stable SSRCs (udp_session.go). Over rtsps the packets are SRTP inside TLS, keyed and
// authenticated by the library: an SSRC changed on the way would fail their check, and doing
// TLS ourselves would announce plain RTP where the server expects SRTP. rtsps keeps the
// library's SSRC (see README, "Pushing to Darwin Streaming Server"; DSS does not offer rtsps).

// stableSSRC returns the SSRC of track k of a channel at a destination, given without
// credentials. It never is 0, and the video's and the audio's differ.
func stableSSRC(channel, dest string, k demux.Kind) uint32 {
	h := fnv.New32a()
	h.Write([]byte(channel))
	h.Write([]byte{0})
	h.Write([]byte(dest))
	s := h.Sum32()
	if k == demux.Audio {
		// a second hash of the same names, so that the two tracks' SSRCs are unrelated
		h.Write([]byte("\x00audio"))
		if s2 := h.Sum32(); s2 != s {
			s = s2
		} else {
			s ^= 1
		}
	}
	if s == 0 {
		s = 1
	}
	return s
}

// ssrcRewriter puts a destination's stable SSRCs into the RTP and RTCP packets of one client
// session. Its methods edit packets in place and may be called from any goroutine.
type ssrcRewriter struct {
	// stable SSRC by RTP payload type: the payload types are ours (videoPayloadType,
	// audioPayloadType).
	video, audio uint32
	// learned maps the client's SSRCs to the stable ones, as RTP packets show them, for the
	// RTCP packets that follow: per track, from<<32 | to; 0 while unknown.
	learned [2]atomic.Uint64
}

func newSSRCRewriter(channel, dest string) *ssrcRewriter {
	return &ssrcRewriter{
		video: stableSSRC(channel, dest, demux.Video),
		audio: stableSSRC(channel, dest, demux.Audio),
	}
}

// rtp sets the SSRC of an RTP packet of ours.
func (r *ssrcRewriter) rtp(p []byte) {
	if len(p) < 12 || p[0]>>6 != 2 {
		return
	}
	var slot int
	var to uint32
	switch p[1] & 0x7f {
	case videoPayloadType:
		slot, to = 0, r.video
	case audioPayloadType:
		slot, to = 1, r.audio
	default:
		return
	}
	from := binary.BigEndian.Uint32(p[8:12])
	if m := uint64(from)<<32 | uint64(to); r.learned[slot].Load() != m {
		r.learned[slot].Store(m)
	}
	binary.BigEndian.PutUint32(p[8:12], to)
}

// rtcp sets the SSRC of every sender report, receiver report, SDES chunk and BYE of an RTCP
// compound packet whose SSRC the RTP packets have shown.
func (r *ssrcRewriter) rtcp(p []byte) {
	for len(p) >= 8 && p[0]>>6 == 2 {
		size := (int(binary.BigEndian.Uint16(p[2:4])) + 1) * 4
		if size > len(p) {
			return
		}
		pkt := p[:size]
		count := int(pkt[0] & 0x1f)
		switch pkt[1] {
		case 200, 201: // SR, RR: the sender's SSRC
			r.swap(pkt[4:8])
		case 202: // SDES: chunks of an SSRC and items up to a zero item, padded to 32 bits
			b := pkt[4:]
			for range count {
				if len(b) < 4 {
					break
				}
				r.swap(b[0:4])
				i := 4
				for i < len(b) && b[i] != 0 {
					if i+1 >= len(b) {
						return
					}
					i += 2 + int(b[i+1])
				}
				i = (i + 4) &^ 3 // the zero item and the padding
				if i > len(b) {
					break
				}
				b = b[i:]
			}
		case 203: // BYE: a list of SSRCs
			for i := 0; i < count && 8+4*i <= len(pkt); i++ {
				r.swap(pkt[4+4*i : 8+4*i])
			}
		}
		p = p[size:]
	}
}

// swap replaces an SSRC learned from the RTP packets with its stable one.
func (r *ssrcRewriter) swap(b []byte) {
	from := binary.BigEndian.Uint32(b)
	for i := range r.learned {
		if m := r.learned[i].Load(); m != 0 && uint32(m>>32) == from {
			binary.BigEndian.PutUint32(b, uint32(m))
			return
		}
	}
}
