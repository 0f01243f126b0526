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
	"github.com/bluenviron/gortsplib/v4/pkg/rtcpsender"
)

// senderReportPeriod is how often players get RTCP sender reports, as gortsplib's own server
// sends them.
const senderReportPeriod = 10 * time.Second

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
type path struct {
	name      string
	log       *slog.Logger
	stream    *gortsplib.ServerStream
	publisher *gortsplib.ServerSession
	remote    string             // the publisher's address
	video     *description.Media // the H.264 media whose IDRs drive the GOP cache; nil if none
	h264      *format.H264
	senders   map[senderKey]*sender

	mu        sync.Mutex
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
	rs   *rtcpsender.RTCPSender
	ssrc uint32 // the stream's SSRC for the format, which players get
}

// reader is a player's session data.
type reader struct {
	path    *path
	remote  string
	medias  map[*description.Media]bool // the medias it has set up
	waiting bool                        // it has not started: it waits for the next IDR
	dropped uint64                      // packets its write queue refused
}

// newPath makes the stream of a publisher's announced description.
func newPath(srv *gortsplib.Server, name string, publisher *gortsplib.ServerSession, remote string,
	desc *description.Session, budget *gopBudget, log *slog.Logger,
) (*path, error) {
	p := &path{
		name:      name,
		remote:    remote,
		log:       log,
		stream:    &gortsplib.ServerStream{Server: srv, Desc: desc},
		publisher: publisher,
		senders:   make(map[senderKey]*sender),
		readers:   make(map[*gortsplib.ServerSession]*reader),
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
			rs := &rtcpsender.RTCPSender{
				ClockRate: f.ClockRate(),
				Period:    senderReportPeriod,
				WritePacketRTCP: func(pkt rtcp.Packet) {
					p.writeRTCP(m, pkt)
				},
			}
			rs.Initialize()
			p.senders[senderKey{m, f.PayloadType()}] = &sender{
				rs:   rs,
				ssrc: stats.Medias[m].Formats[f].LocalSSRC,
			}
		}
	}
	return p, nil
}

// close ends the path: its players are disconnected and its publisher too, if still there.
// It must not be called with p.mu held, since the RTCP senders take it.
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
	for _, s := range p.senders {
		s.rs.Close()
	}
}

func (p *path) setRecording() {
	p.mu.Lock()
	p.recording = true
	p.mu.Unlock()
}

// writePacket takes a packet from the publisher, caches it and sends it to the players.
// gortsplib calls it from the publisher's reading goroutine, one packet at a time.
func (p *path) writePacket(media *description.Media, forma format.Format, pkt *rtp.Packet, ntp time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.packets++

	if s, ok := p.senders[senderKey{media, pkt.PayloadType}]; ok {
		// what the players get; ServerSession.WritePacketRTP would set it anyway
		pkt.SSRC = s.ssrc
		s.rs.ProcessPacket(pkt, ntp, forma.PTSEqualsDTS(pkt))
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

// writeRTCP sends an RTCP sender report to the players that have started.
func (p *path) writeRTCP(media *description.Media, pkt rtcp.Packet) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for ss, r := range p.readers {
		if !r.waiting && r.medias[media] {
			ss.WritePacketRTCP(media, pkt) //nolint:errcheck // a full queue loses a report, no more
		}
	}
}

// addReader starts a player: it gets the cached GOP now, or waits for the next IDR when there is
// none. It is called from OnPlay, when the session's write queue exists but is not drained yet.
// It returns false when the path has closed meanwhile.
func (p *path) addReader(ss *gortsplib.ServerSession, r *reader, medias map[*description.Media]bool,
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
	r.medias = medias
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
	return PathInfo{
		Path:       p.name,
		Publishing: p.recording && !p.closed,
		Readers:    len(p.readers),
		Packets:    p.packets,
	}
}
