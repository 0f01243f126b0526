package inject

import (
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
)

// senderReportPeriod is how often a recording session sends each medium's RTCP sender report:
// RFC 3550's recommended least interval. Players place the stream in wall-clock time, and sync
// audio with video, from the first one.
const senderReportPeriod = 5 * time.Second

// ntpEpochOffset is the number of seconds from 1900 (NTP's epoch) to 1970 (Unix's).
const ntpEpochOffset = 2208988800

// reporter makes the RTCP sender reports of one session, in place of gortsplib's.
//
// gortsplib v4.16.2 writes the NTP timestamp's fraction in nanoseconds where RFC 3550 wants
// units of 2^-32 s (its issue 869): a player reading a report taken at x.5 s puts it at x.116 s,
// and since the audio and the video reports are taken at different instants, a player that syncs
// the two from their reports (ffmpeg does) shifts one against the other by up to 0.77 s. The
// client's own reports are turned off (Client.DisableRTCPSenderReports) and the session writes
// these with Client.WritePacketRTCP instead, over TCP and UDP alike.
//
// A report maps RTP time to the capture's wall-clock time exactly as the session's packets do:
// from the last packet written, moved on by the wall-clock time since then. It is used by the
// session's goroutine only.
type reporter struct {
	media [2]reportedMedium // by demux.Kind
}

// reportedMedium is what a sender report of one medium needs: the last packet's RTP time and
// the capture time it stands for, when it was written, and the counts since the session began.
type reportedMedium struct {
	rate    int64
	ssrc    uint32
	rtp     uint32
	ntp     time.Time
	at      time.Time
	packets uint32
	octets  uint32
}

// wrote records a packet the client took, at time now; p carries the SSRC the client gave it.
func (r *reporter) wrote(kind demux.Kind, rate int, p *rtp.Packet, ntp, now time.Time) {
	m := &r.media[kind]
	m.rate, m.ssrc, m.rtp, m.ntp, m.at = int64(rate), p.SSRC, p.Timestamp, ntp, now
	m.packets++
	m.octets += uint32(len(p.Payload))
}

// report returns the sender report of a medium at time now, nil before its first packet.
func (r *reporter) report(kind demux.Kind, now time.Time) *rtcp.SenderReport {
	m := &r.media[kind]
	if m.packets == 0 {
		return nil
	}
	since := max(now.Sub(m.at), 0)
	return &rtcp.SenderReport{
		SSRC:        m.ssrc,
		NTPTime:     ntpTimestamp(m.ntp.Add(since)),
		RTPTime:     m.rtp + uint32(scaleTicks(int64(since), m.rate, int64(time.Second))),
		PacketCount: m.packets,
		OctetCount:  m.octets,
	}
}

// send writes the reports of the session's media at time now.
func (r *reporter) send(c *gortsplib.Client, s *session, now time.Time) error {
	for _, kind := range []demux.Kind{demux.Video, demux.Audio} {
		if sr := r.report(kind, now); sr != nil {
			if err := c.WritePacketRTCP(s.media(kind), sr); err != nil {
				return err
			}
		}
	}
	return nil
}

// ntpTimestamp is t in RFC 3550's NTP format: seconds since 1900 in the high 32 bits, the
// fraction of a second in units of 2^-32 s in the low 32 bits.
func ntpTimestamp(t time.Time) uint64 {
	return uint64(t.Unix()+ntpEpochOffset)<<32 | uint64(t.Nanosecond())<<32/uint64(time.Second)
}
