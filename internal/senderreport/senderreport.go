// Package senderreport makes and reads RTCP sender reports (RFC 3550, section 6.4.1): what
// players use to place an RTP stream in wall-clock time and to sync its audio with its video.
//
// gortsplib v4.16.2 gets the NTP timestamp's fraction wrong both ways (its issue 869): it writes
// nanoseconds where RFC 3550 wants units of 2^-32 s, and reads them back the same way. Its reports
// put a report taken at x.5 s at x.116 s for any other reader, and it reads a correct report taken
// at x.5 s as x+2.147 s. Since the audio and the video reports are taken at different instants,
// a player that syncs the two from them (ffmpeg does) shifts one against the other by up to
// 0.77 s, and the time of a stream that went through a gortsplib server jumps at every report.
// liveinject turns gortsplib's reports off and makes its own with this package.
package senderreport

import (
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/internal/ticks"
)

// epochOffset is the number of seconds from 1900 (NTP's epoch) to 1970 (Unix's).
const epochOffset = 2208988800

// NTP returns t as an NTP timestamp: seconds since 1900 in the high 32 bits, the fraction of a
// second in units of 2^-32 s in the low 32 bits.
func NTP(t time.Time) uint64 {
	return uint64(t.Unix()+epochOffset)<<32 | uint64(t.Nanosecond())<<32/uint64(time.Second)
}

// Time returns the time of an NTP timestamp, rounded to the nanosecond.
func Time(v uint64) time.Time {
	ns := (v&0xffffffff*uint64(time.Second) + 1<<31) >> 32
	return time.Unix(int64(v>>32)-epochOffset, int64(ns))
}

// Sender tracks an outgoing RTP stream for its sender reports. A report maps RTP time to NTP
// time as the stream's packets do: from the last packet written, moved on by the wall-clock time
// since then. It is not safe for concurrent use.
type Sender struct {
	// ClockRate is the stream's RTP clock rate.
	ClockRate int

	ssrc    uint32
	rtp     uint32
	ntp     time.Time
	at      time.Time
	packets uint32
	octets  uint32
}

// Wrote records a packet written at time now, whose RTP time stands for the NTP time ntp.
func (s *Sender) Wrote(p *rtp.Packet, ntp, now time.Time) {
	s.ssrc, s.rtp, s.ntp, s.at = p.SSRC, p.Timestamp, ntp, now
	s.packets++
	s.octets += uint32(len(p.Payload))
}

// Started tells whether a packet has been written.
func (s *Sender) Started() bool { return s.packets > 0 }

// Report returns the stream's sender report at time now, nil before its first packet.
func (s *Sender) Report(now time.Time) *rtcp.SenderReport {
	if s.packets == 0 {
		return nil
	}
	since := max(now.Sub(s.at), 0)
	return &rtcp.SenderReport{
		SSRC:        s.ssrc,
		NTPTime:     NTP(s.ntp.Add(since)),
		RTPTime:     s.rtp + uint32(ticks.Scale(int64(since), int64(s.ClockRate), int64(time.Second))),
		PacketCount: s.packets,
		OctetCount:  s.octets,
	}
}

// Receiver maps the RTP time of an incoming stream to NTP time, from the stream's last sender
// report; before the first one, from the arrival time of its first packet. It is not safe for
// concurrent use.
type Receiver struct {
	// ClockRate is the stream's RTP clock rate.
	ClockRate int

	anchored, reported bool
	rtp                uint32
	ntp                time.Time
}

// Report takes a sender report of the stream.
func (r *Receiver) Report(sr *rtcp.SenderReport) {
	r.anchored, r.reported, r.rtp, r.ntp = true, true, sr.RTPTime, Time(sr.NTPTime)
}

// Reported tells whether a sender report of the stream has come: until then, the times are
// those of the first packet's arrival, and the first report will move them.
func (r *Receiver) Reported() bool { return r.reported }

// PacketNTP returns the NTP time of an RTP time that arrived at time now.
func (r *Receiver) PacketNTP(ts uint32, now time.Time) time.Time {
	if !r.anchored {
		r.anchored, r.rtp, r.ntp = true, ts, now
	}
	// RTP time goes either way from the report, by far less than half its range
	d := int64(int32(ts - r.rtp))
	return r.ntp.Add(time.Duration(ticks.Scale(d, int64(time.Second), int64(r.ClockRate))))
}
