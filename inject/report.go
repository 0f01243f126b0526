package inject

import (
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/senderreport"
)

// senderReportPeriod is how often a recording session sends each medium's RTCP sender report:
// RFC 3550's recommended least interval. Players place the stream in wall-clock time, and sync
// audio with video, from the first one.
const senderReportPeriod = 5 * time.Second

// reporter makes the RTCP sender reports of one session, in place of gortsplib's, whose NTP
// timestamps are wrong (see package senderreport): the client's own are turned off
// (Client.DisableRTCPSenderReports) and the session writes these with Client.WritePacketRTCP,
// over TCP and UDP alike. They map RTP time to the capture's wall-clock time as the session's
// packets do. It is used by the session's goroutine only.
type reporter struct {
	media [2]senderreport.Sender // by demux.Kind
}

// send writes the reports of the session's media at time now.
func (r *reporter) send(w packetWriter, s *session, now time.Time) error {
	for _, kind := range []demux.Kind{demux.Video, demux.Audio} {
		if sr := r.media[kind].Report(now); sr != nil {
			if err := w.writeRTCP(kind, s.media(kind), sr); err != nil {
				return err
			}
		}
	}
	return nil
}
