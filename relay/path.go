package relay

import (
	"log/slog"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/liveinject/liveinject/internal/senderreport"
)

// senderReportPeriod is how often players get RTCP sender reports: RFC 3550's recommended least
// interval.
const senderReportPeriod = 5 * time.Second

// path is one published stream: its publisher, its players and its GOP cache.
//
// The relay delivers packets to each player's session itself instead of through
// ServerStream.WritePacketRTP: gortsplib adds a player to the stream's receivers only after
// OnPlay has returned, so packets written between the GOP replay in OnPlay and that moment would
// be lost, and packets written after it could not be told apart from the replayed ones. Here the
// replay and the live packets go through one mutex, so every player gets the GOP and then the
// live packets, each exactly once and in order. ServerSession.WritePacketRTP is usable from OnPlay
// on: gortsplib creates the session's write queue before calling OnPlay and starts draining it
// once the PLAY response is on its way. The stream is still what DESCRIBE and SETUP are answered
// with, and it disconnects the players when it closes.
//
// The players' RTCP sender reports are made here too, and the publisher's read here, with
// package senderreport: gortsplib's get the NTP time wrong both ways. They carry the publisher's
// mapping of RTP time to wall-clock time on, so that players sync audio and video as the
// publisher's reports say.
type path struct {
	name        string
	log         *slog.Logger
	stream      *gortsplib.ServerStream
	publisher   *gortsplib.ServerSession
	remote      string             // the publisher's address
	video       *description.Media // the H.264 media whose IDRs drive the GOP cache; nil if none
	h264        *format.H264
	created     time.Time
	stopReports chan struct{} // closed by close: the sender reports stop
	reportsDone chan struct{} // closed when they have

	mu      sync.Mutex
	senders map[senderKey]*sender
	// clocks map the publisher's RTP time of a media to NTP time, from its sender reports
	clocks    map[*description.Media]*senderreport.Receiver
	closed    bool
	recording bool
	packets   uint64
	readers   map[*gortsplib.ServerSession]*reader
	gop       *gopCache
}

type senderKey struct {
	media *description.Media
	pt    uint8
}

// sender makes the RTCP sender reports of one format of the stream.
type sender struct {
	media  *description.Media
	report senderreport.Sender
	ssrc   uint32 // the stream's SSRC for the format, which players get
}

// reader is a player's session data.
type reader struct {
	path    *path
	remote  string
	medias  map[*description.Media]bool // the medias it has set up
	waiting bool                        // it has not started: it waits for the next IDR
	dropped uint64                      // packets its write queue refused
	// check: it is liveinject's return check (see useragent.ReturnCheck), not a viewer.
	check bool
}

// newPath makes the stream of a publisher's announced description.
func newPath(srv *gortsplib.Server, name string, publisher *gortsplib.ServerSession, remote string,
	desc *description.Session, budget *gopBudget, reportPeriod time.Duration, log *slog.Logger,
) (*path, error) {
	p := &path{
		name:        name,
		remote:      remote,
		log:         log,
		stream:      &gortsplib.ServerStream{Server: srv, Desc: desc},
		publisher:   publisher,
		senders:     make(map[senderKey]*sender),
		clocks:      make(map[*description.Media]*senderreport.Receiver),
		readers:     make(map[*gortsplib.ServerSession]*reader),
		created:     time.Now(),
		stopReports: make(chan struct{}),
		reportsDone: make(chan struct{}),
	}
	if err := p.stream.Initialize(); err != nil {
		return nil, err
	}
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			if h, ok := f.(*format.H264); ok && p.video == nil {
				p.video, p.h264 = m, h
			}
		}
	}
	var sps, pps []byte
	if p.h264 != nil {
		sps, pps = p.h264.SafeParams()
	}
	p.gop = newGOPCache(sps, pps, budget)

	stats := p.stream.Stats()
	for _, m := range desc.Medias {
		for _, f := range m.Formats {
			p.senders[senderKey{m, f.PayloadType()}] = &sender{
				media:  m,
				report: senderreport.Sender{ClockRate: f.ClockRate()},
				ssrc:   stats.Medias[m].Formats[f].LocalSSRC,
			}
		}
		p.clocks[m] = &senderreport.Receiver{ClockRate: m.Formats[0].ClockRate()}
	}
	go p.sendReports(reportPeriod)
	return p, nil
}

// sendReports sends the players' sender reports every period until close.
func (p *path) sendReports(period time.Duration) {
	defer close(p.reportsDone)
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-p.stopReports:
			return
		case now := <-t.C:
			p.mu.Lock()
			for _, s := range p.senders {
				// Times from arrival would jump when the publisher's first report comes: the
				// players' reports wait for it, unless the publisher sends none.
				if !p.clocks[s.media].Reported() && now.Sub(p.created) < 3*period {
					continue
				}
				if sr := s.report.Report(now); sr != nil {
					p.writeRTCP(s.media, sr)
				}
			}
			p.mu.Unlock()
		}
	}
}

// senderReport takes a sender report of the publisher.
func (p *path) senderReport(media *description.Media, sr *rtcp.SenderReport) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clocks[media]; ok {
		c.Report(sr)
	}
}

// close ends the path: its players are disconnected and its publisher too, if still there.
// It must not be called with p.mu held, since the sender reports take it.
func (p *path) close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.readers = nil
	p.gop.clear() // its bytes go back to the shared budget
	p.gop = newGOPCache(nil, nil, nil)
	p.mu.Unlock()

	p.stream.Close()
	p.publisher.Close()
	close(p.stopReports)
	<-p.reportsDone
}

func (p *path) setRecording() {
	p.mu.Lock()
	p.recording = true
	p.mu.Unlock()
}

// writePacket takes a packet from the publisher, arrived at time now, caches it and sends it
// to the players. gortsplib calls it from the publisher's reading goroutine, one packet at a time.
func (p *path) writePacket(media *description.Media, forma format.Format, pkt *rtp.Packet, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.packets++

	if s, ok := p.senders[senderKey{media, pkt.PayloadType}]; ok {
		ntp := p.clocks[media].PacketNTP(pkt.Timestamp, now)
		// what the players get; ServerSession.WritePacketRTP would set it anyway
		pkt.SSRC = s.ssrc
		s.report.Wrote(pkt, ntp, now)
	}

	started := false
	if media == p.video && forma == format.Format(p.h264) {
		var paramsChanged bool
		started, paramsChanged = p.gop.pushVideo(media, pkt)
		if paramsChanged {
			// later DESCRIBEs announce the parameter sets in use
			p.h264.SafeSetParams(p.gop.sps, p.gop.pps)
		}
	} else {
		p.gop.pushOther(media, pkt)
	}

	for ss, r := range p.readers {
		if r.waiting {
			if started {
				r.waiting = false
				p.replay(ss, r)
			}
			continue
		}
		p.write(ss, r, media, pkt)
	}
}

// writeRTCP sends an RTCP sender report to the players that have started; p.mu is held.
func (p *path) writeRTCP(media *description.Media, pkt rtcp.Packet) {
	for ss, r := range p.readers {
		if !r.waiting && r.medias[media] {
			ss.WritePacketRTCP(media, pkt) //nolint:errcheck // a full queue loses a report, no more
		}
	}
}

// addReader starts a player: it gets the cached GOP now, or waits for the next IDR when there is
// none. It is called from OnPlay, when the session's write queue exists but is not drained yet.
// It returns false when the path has closed meanwhile. check says the player is liveinject's
// return check.
func (p *path) addReader(ss *gortsplib.ServerSession, r *reader, medias map[*description.Media]bool,
	check bool,
) (replayed int, ok bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return 0, false
	}
	if _, playing := p.readers[ss]; playing {
		// a second PLAY while playing changes nothing
		return 0, true
	}
	r.medias, r.check = medias, check
	p.readers[ss] = r
	replayed = p.replay(ss, r)
	r.waiting = replayed == 0 && p.video != nil
	return replayed, true
}

func (p *path) removeReader(ss *gortsplib.ServerSession) (r *reader, played bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r, played = p.readers[ss]
	delete(p.readers, ss)
	return r, played
}

func (p *path) replay(ss *gortsplib.ServerSession, r *reader) int {
	return p.gop.replay(func(media *description.Media, pkt *rtp.Packet) {
		p.write(ss, r, media, pkt)
	})
}

// write queues a packet for one player. ServerSession.WritePacketRTP sets the packet's SSRC to
// the stream's, the same for every player, and copies it before returning; p.mu serializes that.
func (p *path) write(ss *gortsplib.ServerSession, r *reader, media *description.Media, pkt *rtp.Packet) {
	if !r.medias[media] {
		return
	}
	if err := ss.WritePacketRTP(media, pkt); err != nil {
		if r.dropped == 0 {
			p.log.Warn("player too slow: dropping packets", "remote", r.remote, "error", err)
		}
		r.dropped++
	}
}

// info is the path's line in Server.Paths.
func (p *path) info() PathInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	info := PathInfo{Path: p.name, Publishing: p.recording && !p.closed, Packets: p.packets}
	for _, r := range p.readers {
		if r.check {
			info.Checks++
		} else {
			info.Readers++
		}
	}
	return info
}
