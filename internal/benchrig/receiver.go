package benchrig

import (
	"fmt"
	"net"
	"strings"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
)

// Receiver is an RTSP server on 127.0.0.1 that takes every push (ANNOUNCE, SETUP, RECORD) over
// TCP and hands each recording session to OnSession. Push to URL(name, i).
type Receiver struct {
	// OnSession, when set, is called with every session that starts recording and the name of
	// its push, the first segment of its path; it sets the session's packet callbacks.
	OnSession func(name string, s *gortsplib.ServerSession)

	srv  *gortsplib.Server
	addr string
}

// Initialize starts the server on a free port.
func (r *Receiver) Initialize() error {
	r.srv = &gortsplib.Server{
		Handler:     r,
		RTSPAddress: "127.0.0.1:0",
		Listen: func(network, address string) (net.Listener, error) {
			l, err := net.Listen(network, address)
			if err == nil {
				r.addr = l.Addr().String()
			}
			return l, err
		},
	}
	return r.srv.Start()
}

// Close stops the server.
func (r *Receiver) Close() { r.srv.Close() }

// URL returns the URL of destination i of the push called name.
func (r *Receiver) URL(name string, i int) string {
	return fmt.Sprintf("rtsp://%s/%s/%d.sdp", r.addr, name, i)
}

// OnAnnounce implements gortsplib.ServerHandlerOnAnnounce.
func (r *Receiver) OnAnnounce(*gortsplib.ServerHandlerOnAnnounceCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// OnSetup implements gortsplib.ServerHandlerOnSetup.
func (r *Receiver) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil, nil
}

// OnRecord implements gortsplib.ServerHandlerOnRecord.
func (r *Receiver) OnRecord(ctx *gortsplib.ServerHandlerOnRecordCtx) (*base.Response, error) {
	if r.OnSession != nil {
		r.OnSession(strings.SplitN(strings.TrimPrefix(ctx.Path, "/"), "/", 2)[0], ctx.Session)
	}
	return &base.Response{StatusCode: base.StatusOK}, nil
}
