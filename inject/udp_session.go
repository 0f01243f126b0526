package inject

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/headers"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
)

// packetWriter puts a recording session's RTP and RTCP packets on the wire.
type packetWriter interface {
	// writeRTP writes p, whose header is the caller's to change, captured at ntp.
	writeRTP(k demux.Kind, m *description.Media, p *rtp.Packet, ntp time.Time) error
	writeRTCP(k demux.Kind, m *description.Media, p rtcp.Packet) error
}

// clientWriter writes through the gortsplib client: over TCP its connection (a wireConn) puts
// the stable SSRCs in.
type clientWriter struct{ c *gortsplib.Client }

func (w clientWriter) writeRTP(_ demux.Kind, m *description.Media, p *rtp.Packet, ntp time.Time) error {
	return w.c.WritePacketRTPWithNTP(m, p, ntp)
}

func (w clientWriter) writeRTCP(_ demux.Kind, m *description.Media, p rtcp.Packet) error {
	return w.c.WritePacketRTCP(m, p)
}

// udpWriteTimeout bounds a write to a UDP socket whose send buffer is full. The sockets'
// deadline is moved on at most twice a timeout, not at every packet: each move is a timer's.
const udpWriteTimeout = time.Second

// udpSession writes a session's packets over UDP itself, with the destination's stable SSRCs.
//
// Over UDP the client's connection carries only RTSP, and gortsplib v4.16.2 stamps its own
// random SSRC into every packet it writes, with no option for another: a re-ANNOUNCE or a
// restart left Darwin Streaming Server's UDP viewers dark for its timeout_stream_SSRC_secs (57 s
// measured). So gortsplib does the signalling, and the packets leave from the very sockets its
// ListenPacket hook made (the ports announced in SETUP's client_port), to the ports the server
// answered (server_port), written here. The client requires *net.UDPConn from the hook
// (client_udp_listener.go); TestUDPSessionHooks fails if the library stops calling it or
// stops announcing its ports so.
type udpSession struct {
	ssrc *ssrcRewriter
	// sent and bytes count what was written, for the destination's figures.
	sent, bytes *atomic.Uint64

	mu sync.Mutex
	// conns are the sockets the client listens on, by local port.
	conns map[int]*net.UDPConn
	// clientPorts are the RTP/RTCP ports of each SETUP request, serverPorts and source those of
	// each answer, in order: SetupAll sets the media up one after the other.
	clientPorts, serverPorts [][2]int
	sources                  []net.IP

	// media are the sockets and server addresses by demux.Kind, set by start.
	media [2]*udpMedium
	buf   []byte
}

type udpMedium struct {
	rtp, rtcp         *net.UDPConn
	rtpAddr, rtcpAddr *net.UDPAddr
	// renew is when the sockets' write deadline is to be moved on next.
	renew time.Time
}

func newUDPSession(ssrc *ssrcRewriter, sent, bytes *atomic.Uint64) *udpSession {
	return &udpSession{ssrc: ssrc, sent: sent, bytes: bytes, conns: map[int]*net.UDPConn{}}
}

// listenPacket is the client's ListenPacket: it keeps the sockets it makes.
func (u *udpSession) listenPacket(network, address string) (net.PacketConn, error) {
	pc, err := net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	if c, ok := pc.(*net.UDPConn); ok {
		u.mu.Lock()
		u.conns[c.LocalAddr().(*net.UDPAddr).Port] = c
		u.mu.Unlock()
	}
	return pc, nil
}

// onRequest takes the client ports of a SETUP request.
func (u *udpSession) onRequest(req *base.Request) {
	if req.Method != base.Setup {
		return
	}
	var th headers.Transport
	if th.Unmarshal(req.Header["Transport"]) != nil || th.ClientPorts == nil {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clientPorts = append(u.clientPorts, *th.ClientPorts)
}

// onResponse takes the server ports and source of a SETUP answer over UDP.
func (u *udpSession) onResponse(res *base.Response) {
	if res.StatusCode != base.StatusOK || res.Header["Transport"] == nil {
		return
	}
	var th headers.Transport
	if th.Unmarshal(res.Header["Transport"]) != nil || th.Protocol != headers.TransportProtocolUDP || th.ServerPorts == nil {
		return
	}
	var src net.IP
	if th.Source != nil {
		src = *th.Source
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	u.serverPorts = append(u.serverPorts, *th.ServerPorts)
	u.sources = append(u.sources, src)
}

// start readies the writes of a session that records over UDP to server (the RTSP connection's
// peer), whose media were set up in the order of kinds.
func (u *udpSession) start(server net.IP, kinds []demux.Kind) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.clientPorts) != len(kinds) || len(u.serverPorts) != len(kinds) {
		return fmt.Errorf("UDP: %d media set up, %d with client ports, %d answered with server ports",
			len(kinds), len(u.clientPorts), len(u.serverPorts))
	}
	for i, k := range kinds {
		ip := server
		if u.sources[i] != nil && !u.sources[i].IsUnspecified() {
			ip = u.sources[i]
		}
		m := &udpMedium{
			rtp: u.conns[u.clientPorts[i][0]], rtcp: u.conns[u.clientPorts[i][1]],
			rtpAddr:  &net.UDPAddr{IP: ip, Port: u.serverPorts[i][0]},
			rtcpAddr: &net.UDPAddr{IP: ip, Port: u.serverPorts[i][1]},
		}
		if m.rtp == nil || m.rtcp == nil {
			return errors.New("UDP: the client's sockets are not the ones its SETUP announced")
		}
		u.media[k] = m
	}
	return nil
}

func (u *udpSession) writeRTP(k demux.Kind, _ *description.Media, p *rtp.Packet, _ time.Time) error {
	m := u.media[k]
	if k == demux.Video {
		p.SSRC = u.ssrc.video
	} else {
		p.SSRC = u.ssrc.audio
	}
	n := p.MarshalSize()
	if cap(u.buf) < n {
		u.buf = make([]byte, n)
	}
	b := u.buf[:n]
	if _, err := p.MarshalTo(b); err != nil {
		return err
	}
	return u.write(m, m.rtp, m.rtpAddr, b, true)
}

func (u *udpSession) writeRTCP(k demux.Kind, _ *description.Media, p rtcp.Packet) error {
	m := u.media[k]
	if sr, ok := p.(*rtcp.SenderReport); ok {
		if k == demux.Video {
			sr.SSRC = u.ssrc.video
		} else {
			sr.SSRC = u.ssrc.audio
		}
	}
	b, err := p.Marshal()
	if err != nil {
		return err
	}
	return u.write(m, m.rtcp, m.rtcpAddr, b, false)
}

func (u *udpSession) write(m *udpMedium, c *net.UDPConn, to *net.UDPAddr, b []byte, isRTP bool) error {
	if now := time.Now(); !now.Before(m.renew) {
		// a closed socket fails the write
		m.rtp.SetWriteDeadline(now.Add(udpWriteTimeout))  //nolint:errcheck
		m.rtcp.SetWriteDeadline(now.Add(udpWriteTimeout)) //nolint:errcheck
		m.renew = now.Add(udpWriteTimeout / 2)
	}
	if _, err := c.WriteToUDP(b, to); err != nil {
		return err
	}
	if isRTP {
		u.sent.Add(1)
	}
	u.bytes.Add(uint64(len(b)))
	return nil
}
