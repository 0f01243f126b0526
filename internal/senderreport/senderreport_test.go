package senderreport

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/rtcpsender"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestNTP checks the NTP format against values worked out by hand: half a second is 2^31 in the
// fraction, not 500,000,000.
func TestNTP(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want uint64
	}{
		{time.Unix(0, 0), epochOffset << 32},
		{time.Unix(0, 5e8), epochOffset<<32 | 1<<31},
		{time.Unix(1, 25e7), (epochOffset+1)<<32 | 1<<30},
		{time.Unix(1_800_000_000, 999_999_999), (1_800_000_000+epochOffset)<<32 | 0xfffffffb},
	} {
		if got := NTP(c.t); got != c.want {
			t.Errorf("NTP(%v) = %#x, want %#x", c.t, got, c.want)
		}
		if back := Time(c.want); back.Sub(c.t).Abs() > time.Nanosecond {
			t.Errorf("Time(%#x) = %v, want %v", c.want, back, c.t)
		}
	}
}

// TestSender checks that a report maps RTP time to NTP time as the last packet did, moved on by
// the time since, and counts the packets and their payload bytes.
func TestSender(t *testing.T) {
	s := Sender{ClockRate: 90000}
	now := time.Unix(1_800_000_000, 0)
	if s.Report(now) != nil {
		t.Error("a report before any packet")
	}
	captured := now.Add(-300 * time.Millisecond)
	s.Wrote(&rtp.Packet{Header: rtp.Header{SSRC: 7, Timestamp: 0xffffff00}, Payload: make([]byte, 100)}, captured, now)
	s.Wrote(&rtp.Packet{Header: rtp.Header{SSRC: 7, Timestamp: 0xffffff00}, Payload: make([]byte, 50)}, captured, now)
	sr := s.Report(now.Add(1500 * time.Millisecond))
	want := rtcp.SenderReport{SSRC: 7, NTPTime: NTP(captured.Add(1500 * time.Millisecond)),
		RTPTime: 135000 - 0x100, PacketCount: 2, OctetCount: 150}
	if sr.SSRC != want.SSRC || sr.NTPTime != want.NTPTime || sr.RTPTime != want.RTPTime ||
		sr.PacketCount != want.PacketCount || sr.OctetCount != want.OctetCount {
		t.Errorf("report %+v, want %+v", *sr, want)
	}
}

// TestReceiver checks the NTP time of incoming packets: from their first arrival before any
// report, then from the last report, either side of it and across the RTP time's wrap.
func TestReceiver(t *testing.T) {
	r := Receiver{ClockRate: 48000}
	now := time.Unix(1_800_000_000, 0)
	if got := r.PacketNTP(100, now); !got.Equal(now) {
		t.Errorf("first packet at %v, want its arrival %v", got, now)
	}
	if got, want := r.PacketNTP(100+48000, now), now.Add(time.Second); !got.Equal(want) {
		t.Errorf("a second later in RTP time: %v, want %v", got, want)
	}
	captured := time.Unix(1_799_999_999, 5e8)
	r.Report(&rtcp.SenderReport{RTPTime: 0xffffff00, NTPTime: NTP(captured)})
	for _, c := range []struct {
		ts   uint32
		want time.Time
	}{
		{0xffffff00, captured},
		{24000 - 0x100, captured.Add(500 * time.Millisecond)}, // past the wrap
		{0xffffff00 - 4800, captured.Add(-100 * time.Millisecond)},
	} {
		if got := r.PacketNTP(c.ts, now); got.Sub(c.want).Abs() > time.Microsecond {
			t.Errorf("RTP time %#x: %v, want %v", c.ts, got, c.want)
		}
	}
}

// TestGortsplibNTPFraction documents why this package exists: gortsplib's own sender reports
// write nanoseconds where the NTP fraction goes. When an upgrade fixes that (its issue 869), this
// fails, and liveinject can use the library's reports again.
func TestGortsplibNTPFraction(t *testing.T) {
	at := time.Unix(1_800_000_000, 5e8)
	reports := make(chan rtcp.Packet, 1)
	rs := &rtcpsender.RTCPSender{ClockRate: 90000, Period: time.Millisecond, TimeNow: func() time.Time { return at },
		WritePacketRTCP: func(p rtcp.Packet) {
			select {
			case reports <- p:
			default:
			}
		}}
	rs.Initialize()
	defer rs.Close()
	rs.ProcessPacket(&rtp.Packet{Header: rtp.Header{Timestamp: 1}}, at, true)
	sr := (<-reports).(*rtcp.SenderReport)
	if frac := sr.NTPTime & 0xffffffff; frac != 500_000_000 {
		t.Errorf("gortsplib's report of x.5 s has the fraction %d (%v): it no longer writes nanoseconds; "+
			"see package senderreport", frac, Time(sr.NTPTime))
	}
}
