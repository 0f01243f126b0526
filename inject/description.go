package inject

import (
	"fmt"
	"net"

	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"

	"github.com/liveinject/liveinject/demux"
)

// Payload types as DarwinInjector announced them.
const (
	videoPayloadType = 96
	audioPayloadType = 97
)

// maxSDPSize is Darwin Streaming Server's limit for an ANNOUNCE body.
const maxSDPSize = 4096

// session is one destination's view of the announced description. gortsplib's Client takes the
// description's medias as keys and edits them while announcing, so every connection gets its own.
type session struct {
	desc  *description.Session
	video *description.Media
	audio *description.Media
}

// newSession describes the channel's tracks for an ANNOUNCE: H.264 with sprop-parameter-sets and
// MPEG4-GENERIC AAC-hbr, video first. The body must stay under DSS's limit once announceBody
// has added title, metadata and the server's address.
func newSession(title string, meta Metadata, p *demux.Params) (*session, error) {
	s := &session{desc: &description.Session{Title: title}}
	if p.SPS != nil {
		s.video = &description.Media{
			Type: description.MediaTypeVideo,
			Formats: []format.Format{&format.H264{
				PayloadTyp:        videoPayloadType,
				SPS:               p.SPS,
				PPS:               p.PPS,
				PacketizationMode: 1,
			}},
		}
		s.desc.Medias = append(s.desc.Medias, s.video)
	}
	if p.Audio != nil {
		cfg := *p.Audio
		s.audio = &description.Media{
			Type: description.MediaTypeAudio,
			Formats: []format.Format{&format.MPEG4Audio{
				PayloadTyp:       audioPayloadType,
				Config:           &cfg,
				SizeLength:       13,
				IndexLength:      3,
				IndexDeltaLength: 3,
			}},
		}
		s.desc.Medias = append(s.desc.Medias, s.audio)
	}
	if len(s.desc.Medias) == 0 {
		return nil, fmt.Errorf("nothing to announce: no video and no audio")
	}
	sdp, err := s.desc.Marshal(false)
	if err != nil {
		return nil, fmt.Errorf("building SDP: %w", err)
	}
	// as long an address as any that can go into c=
	longest := net.ParseIP("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")
	if sdp = announceBody(sdp, longest, title, meta); len(sdp) > maxSDPSize {
		return nil, fmt.Errorf("SDP is %d bytes, over the %d bytes Darwin Streaming Server accepts", len(sdp), maxSDPSize)
	}
	return s, nil
}

// media returns the announced media that carries frames of kind k.
func (s *session) media(k demux.Kind) *description.Media {
	if k == demux.Video {
		return s.video
	}
	return s.audio
}
