package relay

import (
	"errors"
	"slices"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/description"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"

	"github.com/liveinject/liveinject/internal/useragent"
)

// handler answers gortsplib's server callbacks. It is apart from Server so that the callbacks do
// not become part of Server's API. A publisher's session carries its *path as user data, a
// player's session its *reader.
type handler struct {
	s *Server
}

func remote(c *gortsplib.ServerConn) string {
	return c.NetConn().RemoteAddr().String()
}

// OnConnOpen implements gortsplib.ServerHandlerOnConnOpen.
func (h *handler) OnConnOpen(ctx *gortsplib.ServerHandlerOnConnOpenCtx) {
	h.s.log.Debug("connection opened", "remote", remote(ctx.Conn))
}

// OnConnClose implements gortsplib.ServerHandlerOnConnClose.
func (h *handler) OnConnClose(ctx *gortsplib.ServerHandlerOnConnCloseCtx) {
	h.s.log.Debug("connection closed", "remote", remote(ctx.Conn), "reason", ctx.Error)
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce. A new publisher on a path replaces the
// one there.
func (h *handler) OnAnnounce(ctx *gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	name := pathKey(ctx.Path)
	log := h.s.log.With("path", name)
	if h.s.PublishUser != "" && !ctx.Conn.VerifyCredentials(ctx.Request, h.s.PublishUser, h.s.PublishPassword) {
		// gortsplib answers a request without credentials with the challenge, and closes the
		// connection of one with wrong credentials
		log.Debug("announce without valid credentials", "remote", remote(ctx.Conn))
		return &base.Response{StatusCode: base.StatusUnauthorized}, liberrors.ErrServerAuth{}
	}
	p, err := newPath(h.s.srv, name, ctx.Session, remote(ctx.Conn), ctx.Description, h.s.gopBudget, h.s.senderReports, log)
	if err != nil {
		log.Warn("announce refused", "remote", remote(ctx.Conn), "error", err)
		return &base.Response{StatusCode: base.StatusBadRequest}, err
	}
	ctx.Session.SetUserData(p)
	if old := h.s.publish(p); old != nil {
		wasPublishing := old.info().Publishing
		old.close()
		log.Info("publisher replaced", "remote", remote(ctx.Conn))
		if wasPublishing {
			h.s.onUnpublish(name, false)
		}
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnDescribe implements gortsplib.ServerHandlerOnDescribe.
func (h *handler) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	p := h.s.lookup(pathKey(ctx.Path))
	if p == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup, for publishers and players.
func (h *handler) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if ctx.Session.State() == gortsplib.ServerSessionStatePreRecord {
		return &base.Response{StatusCode: base.StatusOK}, nil, nil
	}

	name := pathKey(ctx.Path)
	current := h.s.lookup(name)
	if r, ok := ctx.Session.UserData().(*reader); ok {
		// a further media of the same player: gortsplib wants the stream of its first SETUP
		if r.path != current {
			return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
		}
		return &base.Response{StatusCode: base.StatusOK}, current.stream, nil
	}
	if current == nil {
		return &base.Response{StatusCode: base.StatusNotFound}, nil, nil
	}
	ctx.Session.SetUserData(&reader{path: current, remote: remote(ctx.Conn)})
	return &base.Response{StatusCode: base.StatusOK}, current.stream, nil
}

// OnPlay implements gortsplib.ServerHandlerOnPlay: the player gets the cached GOP, then the live
// packets.
func (h *handler) OnPlay(ctx *gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	r, ok := ctx.Session.UserData().(*reader)
	if !ok {
		return &base.Response{StatusCode: base.StatusBadRequest}, nil
	}
	medias := make(map[*description.Media]bool)
	for _, m := range ctx.Session.SetuppedMedias() {
		medias[m] = true
	}
	check := slices.Contains(ctx.Request.Header["User-Agent"], useragent.ReturnCheck)
	replayed, ok := r.path.addReader(ctx.Session, r, medias, check)
	if !ok {
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	r.path.log.Info("play", "remote", r.remote, "transport", ctx.Session.SetuppedTransport().String(),
		"gop_packets", replayed)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord.
func (h *handler) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	p, ok := ctx.Session.UserData().(*path)
	if !ok {
		return &base.Response{StatusCode: base.StatusBadRequest}, nil
	}
	if h.s.lookup(p.name) != p {
		// replaced between its ANNOUNCE and its RECORD
		return &base.Response{StatusCode: base.StatusNotFound}, nil
	}
	ss := ctx.Session
	ss.OnPacketRTPAny(func(m *description.Media, f format.Format, pkt *rtp.Packet) {
		p.writePacket(m, f, pkt, time.Now())
	})
	ss.OnPacketRTCPAny(func(m *description.Media, pkt rtcp.Packet) {
		if sr, ok := pkt.(*rtcp.SenderReport); ok {
			p.senderReport(m, sr)
		}
	})
	p.setRecording()
	p.log.Info("publish", "remote", p.remote, "transport", ss.SetuppedTransport().String(),
		"medias", len(ss.AnnouncedDescription().Medias))
	h.s.onPublish(p.name)
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSessionClose implements gortsplib.ServerHandlerOnSessionClose. A publisher's leaving ends its
// path and disconnects the path's players.
func (h *handler) OnSessionClose(ctx *gortsplib.ServerHandlerOnSessionCloseCtx) {
	switch d := ctx.Session.UserData().(type) {
	case *path:
		wasPublishing := d.info().Publishing
		if !h.s.unpublish(d) {
			return // replaced: the new publisher's ANNOUNCE has dealt with it
		}
		d.close()
		teardown := errors.As(ctx.Error, new(liberrors.ErrServerSessionTornDown))
		// packets: all the publisher sent, final now that the path is closed; over TCP, with a
		// TEARDOWN, what its sender counts as written to the connection
		d.log.Info("unpublish", "remote", d.remote, "teardown", teardown, "reason", ctx.Error,
			"packets", d.info().Packets)
		if wasPublishing {
			h.s.onUnpublish(d.name, teardown)
		}

	case *reader:
		if r, played := d.path.removeReader(ctx.Session); played {
			d.path.log.Info("play stopped", "remote", d.remote, "reason", ctx.Error, "dropped", r.dropped)
		}
	}
}

// OnStreamWriteError implements gortsplib.ServerHandlerOnStreamWriteError, which gortsplib
// would otherwise print with the standard logger.
func (h *handler) OnStreamWriteError(ctx *gortsplib.ServerHandlerOnStreamWriteErrorCtx) {
	h.s.log.Debug("stream write error", "error", ctx.Error)
}

// OnDecodeError implements gortsplib.ServerHandlerOnDecodeError.
func (h *handler) OnDecodeError(ctx *gortsplib.ServerHandlerOnDecodeErrorCtx) {
	h.s.log.Debug("undecodable packet", "error", ctx.Error)
}

// OnPacketsLost implements gortsplib.ServerHandlerOnPacketsLost.
func (h *handler) OnPacketsLost(ctx *gortsplib.ServerHandlerOnPacketsLostCtx) {
	h.s.log.Debug("packets lost", "lost", ctx.Lost)
}
