package relay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mpegts"

	"github.com/liveinject/liveinject/internal/fftest"
)

// waitTimeout bounds every wait on a condition in these tests.
const waitTimeout = 15 * time.Second

// startServer starts a relay on 127.0.0.1:0, with UDP for players when udp is set, and closes it
// when the test ends.
func startServer(t *testing.T, udp bool, hooks func(*Server)) *Server {
	t.Helper()
	s := &Server{
		Address: "127.0.0.1:0",
		Logger:  slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if hooks != nil {
		hooks(s)
	}
	if udp {
		s.UDPRTPAddress, s.UDPRTCPAddress = fftest.FreeUDPPair(t)
	}
	if err := s.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// testWriter sends log lines to the test's log, so they show with the failing test only.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(b[:len(b)-1]))
	return len(b), nil
}

// waitFor polls cond until it holds, failing the test after waitTimeout.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	fftest.WaitFor(t, waitTimeout, what, cond)
}

// recv waits for a value from ch.
func recv[T any](t *testing.T, what string, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitTimeout):
		t.Fatalf("timed out waiting for %s", what)
		var zero T
		return zero
	}
}

// source is a real ffmpeg-made stream, H.264 and AAC from an MPEG-TS file, packetized with
// gortsplib's encoders, in file order.
type source struct {
	sps, pps []byte
	audio    *format.MPEG4Audio
	pkts     []srcPacket
	frames   []int // index in pkts of each video frame's first packet
	idr      []int // numbers of the video frames that carry an IDR
	duration time.Duration
	count    [2]uint16 // packets per media in one pass
}

type srcPacket struct {
	media int           // 0 video, 1 audio
	at    time.Duration // media time since the first video frame
	pkt   *rtp.Packet
}

// loadSource makes a TS of the given length and GOP (in frames at 25 fps) and packetizes it.
// With outOfBand, SPS and PPS are left in the first access unit only, as a publisher that
// announces them in the SDP may do.
func loadSource(t *testing.T, seconds string, gop int, outOfBand bool) *source {
	t.Helper()
	ts := fftest.TS(t, seconds, "-c:v", "libx264", "-tune", "zerolatency", "-g", fmt.Sprint(gop),
		"-keyint_min", fmt.Sprint(gop), "-sc_threshold", "0", "-c:a", "aac", "-ac", "2")
	f, err := os.Open(ts)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	r := &mpegts.Reader{R: f}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	src := &source{}
	h264Enc, err := (&format.H264{PayloadTyp: 96, PacketizationMode: 1}).CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	var audioEnc interface {
		Encode([][]byte) ([]*rtp.Packet, error)
	}
	base := int64(-1)
	var videoEnd int64

	for _, tr := range r.Tracks() {
		switch c := tr.Codec.(type) {
		case *mpegts.CodecH264:
			r.OnDataH264(tr, func(pts, dts int64, au [][]byte) error {
				if base < 0 {
					base = dts
				}
				idr := h264.IsRandomAccess(au)
				var keep [][]byte
				for _, n := range au {
					switch h264.NALUType(n[0] & 0x1f) {
					case h264.NALUTypeSPS:
						src.sps = n
					case h264.NALUTypePPS:
						src.pps = n
					}
					typ := h264.NALUType(n[0] & 0x1f)
					if outOfBand && len(src.frames) > 0 && (typ == h264.NALUTypeSPS || typ == h264.NALUTypePPS) {
						continue
					}
					keep = append(keep, n)
				}
				pkts, err := h264Enc.Encode(keep)
				if err != nil {
					return err
				}
				if idr {
					src.idr = append(src.idr, len(src.frames))
				}
				src.frames = append(src.frames, len(src.pkts))
				videoEnd = pts - base + 3600
				for _, p := range pkts {
					p.Timestamp = uint32(pts - base)
					src.pkts = append(src.pkts, srcPacket{media: 0, at: ticks(pts-base, 90000), pkt: p})
					src.count[0]++
				}
				return nil
			})
		case *mpegts.CodecMPEG4Audio:
			cfg := c.Config
			src.audio = &format.MPEG4Audio{
				PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			}
			enc, err := src.audio.CreateEncoder()
			if err != nil {
				t.Fatal(err)
			}
			audioEnc = enc
			r.OnDataMPEG4Audio(tr, func(pts int64, aus [][]byte) error {
				// audio from the first video frame on, as a channel's demuxer emits it
				if base < 0 || pts < base {
					return nil
				}
				pkts, err := audioEnc.Encode(aus)
				if err != nil {
					return err
				}
				rel := (pts - base) * int64(cfg.SampleRate) / 90000
				for _, p := range pkts {
					p.Timestamp += uint32(rel)
					src.pkts = append(src.pkts, srcPacket{media: 1, at: ticks(pts-base, 90000), pkt: p})
					src.count[1]++
				}
				return nil
			})
		}
	}
	for {
		if err := r.Read(); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
	}
	if src.sps == nil || src.audio == nil || len(src.idr) == 0 {
		t.Fatalf("test TS lacks H.264 parameter sets, IDRs or AAC")
	}
	// A looping publisher needs both medias to last as long: audio past the video is dropped.
	src.duration = ticks(videoEnd, 90000)
	kept := src.pkts[:0]
	src.count[1] = 0
	for _, p := range src.pkts {
		if p.media == 1 {
			if p.at >= src.duration-ticks(int64(1024*90000/src.audio.ClockRate()), 90000) {
				continue
			}
			src.count[1]++
		}
		kept = append(kept, p)
	}
	src.pkts = kept
	src.frames = src.frames[:0]
	frameEnded := true
	for i, p := range src.pkts {
		if p.media == 0 {
			if frameEnded {
				src.frames = append(src.frames, i)
			}
			frameEnded = p.pkt.Marker
		}
	}
	return src
}

func ticks(v int64, rate int64) time.Duration {
	return time.Duration(v * int64(time.Second) / rate)
}

// description returns a new description of the source, as each client needs its own.
func (s *source) description() *description.Session {
	cfg := *s.audio.Config
	return &description.Session{Medias: []*description.Media{
		{
			Type: description.MediaTypeVideo,
			Formats: []format.Format{&format.H264{
				PayloadTyp: 96, SPS: s.sps, PPS: s.pps, PacketizationMode: 1,
			}},
		},
		{
			Type: description.MediaTypeAudio,
			Formats: []format.Format{&format.MPEG4Audio{
				PayloadTyp: 97, Config: &cfg, SizeLength: 13, IndexLength: 3, IndexDeltaLength: 3,
			}},
		},
	}}
}

// publisher pushes a source into the relay with a gortsplib Client over TCP.
type publisher struct {
	c    *gortsplib.Client
	desc *description.Session
	src  *source
}

// publish starts recording to url. dial, when not nil, replaces the client's dialer.
func publish(t *testing.T, url string, src *source,
	dial func(context.Context, string, string) (net.Conn, error),
) *publisher {
	t.Helper()
	tcp := gortsplib.TransportTCP
	p := &publisher{
		// sender reports come from the test, as liveinject's come from itself
		c: &gortsplib.Client{Transport: &tcp, WriteQueueSize: 4096, DialContext: dial,
			DisableRTCPSenderReports: true},
		desc: src.description(),
		src:  src,
	}
	if err := p.c.StartRecording(url, p.desc); err != nil {
		t.Fatalf("publishing to %s: %v", url, err)
	}
	t.Cleanup(p.c.Close)
	return p
}

// write sends the source's packets from..to-1 as they are.
func (p *publisher) write(t *testing.T, from, to int) {
	t.Helper()
	for _, sp := range p.src.pkts[from:to] {
		pkt := *sp.pkt
		if err := p.c.WritePacketRTP(p.desc.Medias[sp.media], &pkt); err != nil {
			t.Fatal(err)
		}
	}
}

// loop sends the source over and over at its own pace until ctx ends, with sequence numbers and
// timestamps going on across passes, as a live publisher's do.
func (p *publisher) loop(ctx context.Context) error {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	clock := [2]int64{90000, int64(p.src.audio.ClockRate())}
	for pass := 0; ; pass++ {
		offset := time.Duration(pass) * p.src.duration
		for _, sp := range p.src.pkts {
			timer.Reset(time.Until(start.Add(offset + sp.at)))
			select {
			case <-ctx.Done():
				return nil
			case <-timer.C:
			}
			pkt := *sp.pkt
			pkt.SequenceNumber += uint16(pass) * p.src.count[sp.media]
			pkt.Timestamp += uint32(int64(offset) * clock[sp.media] / int64(time.Second))
			if err := p.c.WritePacketRTP(p.desc.Medias[sp.media], &pkt); err != nil {
				return err
			}
		}
	}
}

// player reads a path with a gortsplib Client over TCP and keeps what it receives.
type player struct {
	c     *gortsplib.Client
	desc  *description.Session
	mu    sync.Mutex
	video []*rtp.Packet
	audio []*rtp.Packet
	// reports are the sender reports received, by media type
	reports map[description.MediaType][]rtcp.SenderReport
}

func play(t *testing.T, url string) *player {
	t.Helper()
	return playAs(t, url, "")
}

// playAs plays url with a client that says userAgent (gortsplib's own when empty).
func playAs(t *testing.T, url, userAgent string) *player {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	tcp := gortsplib.TransportTCP
	pl := &player{c: &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, Transport: &tcp, UserAgent: userAgent},
		reports: map[description.MediaType][]rtcp.SenderReport{}}
	if err := pl.c.Start2(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pl.c.Close)
	pl.desc, _, err = pl.c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE %s: %v", url, err)
	}
	if err := pl.c.SetupAll(pl.desc.BaseURL, pl.desc.Medias); err != nil {
		t.Fatal(err)
	}
	pl.c.OnPacketRTPAny(func(m *description.Media, _ format.Format, pkt *rtp.Packet) {
		pl.mu.Lock()
		defer pl.mu.Unlock()
		if m.Type == description.MediaTypeVideo {
			pl.video = append(pl.video, pkt)
		} else {
			pl.audio = append(pl.audio, pkt)
		}
	})
	pl.c.OnPacketRTCPAny(func(m *description.Media, pkt rtcp.Packet) {
		if sr, ok := pkt.(*rtcp.SenderReport); ok {
			pl.mu.Lock()
			defer pl.mu.Unlock()
			pl.reports[m.Type] = append(pl.reports[m.Type], *sr)
		}
	})
	if _, err := pl.c.Play(nil); err != nil {
		t.Fatal(err)
	}
	return pl
}

// received returns copies of the packet lists received so far.
func (pl *player) received() (video, audio []*rtp.Packet) {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return append([]*rtp.Packet(nil), pl.video...), append([]*rtp.Packet(nil), pl.audio...)
}

// senderReports returns the sender reports of a media type received so far.
func (pl *player) senderReports(typ description.MediaType) []rtcp.SenderReport {
	pl.mu.Lock()
	defer pl.mu.Unlock()
	return append([]rtcp.SenderReport(nil), pl.reports[typ]...)
}

// h264 returns the H.264 format the player was described.
func (pl *player) h264(t *testing.T) *format.H264 {
	t.Helper()
	for _, m := range pl.desc.Medias {
		for _, f := range m.Formats {
			if h, ok := f.(*format.H264); ok {
				return h
			}
		}
	}
	t.Fatal("no H.264 in the description")
	return nil
}

// waitDone waits for a client to end, as it does when the server disconnects it.
func waitDone(t *testing.T, what string, c *gortsplib.Client) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	return recv(t, what, done)
}
