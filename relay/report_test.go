package relay

import (
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/pion/rtcp"

	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/senderreport"
)

// TestSenderReports checks the players' RTCP sender reports: each has the SSRC of the packets
// the player gets, and maps their RTP time to the NTP time the publisher's own reports give,
// within a millisecond. (gortsplib's server reads and writes the NTP fraction as nanoseconds:
// a player of its reports saw the time of the stream jump at each report.)
func TestSenderReports(t *testing.T) {
	fftest.Require(t)
	s := startServer(t, false, func(s *Server) { s.senderReports = 100 * time.Millisecond })
	src := loadSource(t, "2", 25, false)
	url := "rtsp://" + s.Addr() + "/sr.sdp"
	pub := publish(t, url, src, nil)
	pl := play(t, url)

	// The publisher's clock: the first packet of each media was captured at this time, far from
	// the time the packets arrive, with half a second in the fraction.
	captured := time.Unix(1_700_000_000, 5e8)
	first := map[description.MediaType]uint32{}
	rate := map[description.MediaType]int64{}
	for _, sp := range src.pkts {
		m := pub.desc.Medias[sp.media]
		if _, ok := first[m.Type]; !ok {
			first[m.Type], rate[m.Type] = sp.pkt.Timestamp, int64(m.Formats[0].ClockRate())
			if err := pub.c.WritePacketRTCP(m, &rtcp.SenderReport{SSRC: 1, RTPTime: sp.pkt.Timestamp,
				NTPTime: senderreport.NTP(captured)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pub.write(t, 0, len(src.pkts))
	waitFor(t, "3 reports of each media at the player", func() bool {
		return len(pl.senderReports(description.MediaTypeVideo)) >= 3 &&
			len(pl.senderReports(description.MediaTypeAudio)) >= 3
	})

	video, audio := pl.received()
	ssrc := map[description.MediaType]uint32{description.MediaTypeVideo: video[0].SSRC,
		description.MediaTypeAudio: audio[0].SSRC}
	for typ, from := range first {
		for i, sr := range pl.senderReports(typ) {
			if sr.SSRC != ssrc[typ] {
				t.Errorf("%s report %d: SSRC %x, want the packets' %x", typ, i, sr.SSRC, ssrc[typ])
			}
			elapsed := int64(int32(sr.RTPTime - from))
			want := captured.Add(time.Duration(elapsed * int64(time.Second) / rate[typ]))
			if d := senderreport.Time(sr.NTPTime).Sub(want); d.Abs() > time.Millisecond {
				t.Errorf("%s report %d: RTP time %d after the first packet at NTP %v, want %v: off by %v",
					typ, i, elapsed, senderreport.Time(sr.NTPTime), want, d)
			}
		}
	}
}
