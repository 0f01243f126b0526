package inject

import (
	"bytes"
	"net"
	"path"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/pion/rtp"
)

// fakeDSS is what Darwin Streaming Server 6.0.3 does with a push, as seen on a real one built
// from its source (../shared/dss): a fakeServer with dss set answers and reflects by these rules.
type fakeDSS struct {
	// own are the server's addresses: the c= address of an announced session must be one of
	// them (or multicast), else SETUP answers 404. Default: the address the server listens on.
	own []net.IP
	// dirs are the directories under the movies folder, such as "/live"; the top one always
	// exists. An ANNOUNCE into another answers 403.
	dirs []string
	// hold is how long a broadcast whose connection ended without TEARDOWN keeps its name:
	// SETUP answers 412 meanwhile, ANNOUNCE still 200. DSS: about 20 s.
	hold time.Duration
	// release is how long a name stays held after its broadcast's TEARDOWN. DSS: under 100 ms.
	release time.Duration
	// ssrcTimeout is timeout_stream_SSRC_secs: packets of an SSRC other than the one a track is
	// locked onto are dropped until the locked one has been silent this long. DSS: 30 s.
	ssrcTimeout time.Duration
	// sweep, when set, frees the name of a broadcast that vanished as DSS's timeout thread does
	// (CommonUtilitiesLib/TimeoutTask.cpp), instead of at the end of hold: the first SETUP of
	// every connection opens a client session that times out hold after it was last refreshed
	// (the broadcast's own by its packets; that of a SETUP answered 412 by nothing), and the
	// thread does not wake at each deadline. It goes through the sessions in the order they
	// were opened, ends those past their deadline, and sleeps until sweep past the first
	// deadline still to come, or past a later one that comes less than sweep after it, and so
	// on: sessions opened less than sweep apart put its next look, and so the end of a hold,
	// off. DSS: 1 s. (Its first look is a minute after it starts; here at the first SETUP.)
	sweep time.Duration

	mu        sync.Mutex
	announced map[int]dssAnnounce // by connection
	streams   map[string]*dssStream
	// sessions are the client sessions not yet timed out, in the order they were opened, and
	// nextSweep when the timeout thread looks at them next; only with sweep.
	sessions  []*dssSession
	nextSweep time.Time
}

// dssSession is a client session that a SETUP opened.
type dssSession struct {
	conn int
	// stream is the broadcast it records; nil for a SETUP answered 412.
	stream *dssStream
	// ended is when it was last refreshed for good: its connection's end, or its refused
	// SETUP; zero while it records.
	ended time.Time
}

// dssAnnounce is what a connection announced.
type dssAnnounce struct {
	path        string
	reflectable bool
}

// dssStream is a broadcast name and what its viewers get.
type dssStream struct {
	owner     int // the connection that broadcasts it; -1 none
	heldUntil time.Time
	// vanished is when the connection of its broadcast last ended without TEARDOWN, and freed
	// when the timeout thread then let go of the name (with sweep).
	vanished, freed time.Time
	locks           [2]struct {
		ssrc uint32
		last time.Time
	}
	reflected []reflectedPacket
	dropped   int
}

// reflectedPacket is an RTP packet that the server passed on to the stream's viewers.
type reflectedPacket struct {
	at    time.Time
	track int
	pkt   rtp.Packet
}

func (d *fakeDSS) stream(p string) *dssStream {
	if d.streams == nil {
		d.streams = map[string]*dssStream{}
	}
	st := d.streams[p]
	if st == nil {
		st = &dssStream{owner: -1}
		d.streams[p] = st
	}
	return st
}

// answer answers as DSS where it refuses, and nil where it takes the request.
func (d *fakeDSS) answer(n int, req *base.Request) *base.Response {
	d.mu.Lock()
	defer d.mu.Unlock()
	switch req.Method {
	case base.Announce:
		p := req.URL.Path
		if dir := path.Dir(p); dir != "/" && !slices.Contains(d.dirs, dir) {
			return &base.Response{StatusCode: base.StatusForbidden}
		}
		if d.announced == nil {
			d.announced = map[int]dssAnnounce{}
		}
		// ANNOUNCE answers 200 even for a path without .sdp, and for any c=.
		d.announced[n] = dssAnnounce{path: p, reflectable: d.reflectable(req.Body)}
	case base.Setup:
		p, _, _ := strings.Cut(req.URL.Path, "/trackID=")
		if !strings.HasSuffix(p, ".sdp") {
			return &base.Response{StatusCode: base.StatusUnsupportedMediaType}
		}
		a, ok := d.announced[n]
		if !ok || a.path != p || !a.reflectable {
			return &base.Response{StatusCode: base.StatusNotFound,
				Header: base.Header{"Connection": base.HeaderValue{"Close"}}}
		}
		st, now := d.stream(p), time.Now()
		d.timeOut(now)
		if (st.owner >= 0 && st.owner != n) || now.Before(st.heldUntil) {
			// the session is opened before the name is checked, and stays when refused
			d.open(&dssSession{conn: n, ended: now}, now)
			return &base.Response{StatusCode: base.StatusPreconditionFailed}
		}
		st.owner = n
		d.open(&dssSession{conn: n, stream: st}, now)
	case base.Teardown:
		for _, st := range d.streams {
			if st.owner == n {
				st.owner, st.heldUntil = -1, time.Now().Add(d.release)
			}
		}
		// The session of a refused SETUP stays: DSS does not even read the TEARDOWN after one.
		d.sessions = slices.DeleteFunc(d.sessions, func(s *dssSession) bool { return s.conn == n && s.stream != nil })
	}
	return nil
}

// open adds the first session of a connection to the timeout thread's list, with sweep.
func (d *fakeDSS) open(s *dssSession, now time.Time) {
	if d.sweep == 0 || slices.ContainsFunc(d.sessions, func(o *dssSession) bool { return o.conn == s.conn }) {
		return
	}
	d.sessions = append(d.sessions, s)
	if d.nextSweep.IsZero() {
		d.nextSweep = now
		d.timeOut(now)
	}
}

// timeOut runs the timeout thread's looks due by now, as DSS's TimeoutTaskThread::Run does.
func (d *fakeDSS) timeOut(now time.Time) {
	for !d.nextSweep.IsZero() && !d.nextSweep.After(now) {
		at := d.nextSweep
		next := at.Add(time.Minute) // its longest sleep
		d.sessions = slices.DeleteFunc(d.sessions, func(s *dssSession) bool {
			refreshed := at
			if !s.ended.IsZero() && s.ended.Before(at) {
				refreshed = s.ended
			}
			deadline := refreshed.Add(d.hold)
			if !deadline.After(at) {
				if s.stream != nil && s.stream.owner == s.conn {
					s.stream.owner, s.stream.freed = -1, at
				}
				return true
			}
			// DSS: if (intervalMilli > taskInterval) intervalMilli = taskInterval + 1000
			if next.After(deadline) {
				next = deadline.Add(d.sweep)
			}
			return false
		})
		d.nextSweep = next
	}
}

// reflectable says whether an announced SDP's c= address is the server's own or multicast.
func (d *fakeDSS) reflectable(sdp []byte) bool {
	for _, l := range bytes.Split(sdp, []byte("\r\n")) {
		if a, ok := bytes.CutPrefix(l, []byte("c=IN ")); ok {
			f := strings.Fields(string(a))
			if len(f) != 2 {
				return false
			}
			ip := net.ParseIP(strings.Split(f[1], "/")[0])
			return ip != nil && (ip.IsMulticast() || slices.ContainsFunc(d.own, ip.Equal))
		}
	}
	return false
}

// closed ends the n-th connection: a broadcast it had not torn down holds its name, until
// hold has passed or, with sweep, until the timeout thread ends its session.
func (d *fakeDSS) closed(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for _, st := range d.streams {
		if st.owner == n {
			st.vanished = now
			if d.sweep == 0 {
				st.owner, st.heldUntil = -1, now.Add(d.hold)
			}
		}
	}
	for _, s := range d.sessions {
		if s.conn == n && s.ended.IsZero() {
			s.ended = now
		}
	}
}

// held returns when the broadcast at path last vanished and when its name was freed then.
func (d *fakeDSS) held(p string) (vanished, freed time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stream(p)
	return st.vanished, st.freed
}

// reflect passes an RTP packet of the n-th connection on to its stream's viewers, unless the
// track is locked onto another SSRC that has not been silent long enough.
func (d *fakeDSS) reflect(n, channel int, p rtp.Packet) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, st := range d.streams {
		if st.owner != n {
			continue
		}
		track, now := channel/2, time.Now()
		if track >= len(st.locks) {
			return
		}
		l := &st.locks[track]
		if l.ssrc != 0 && l.ssrc != p.SSRC && now.Sub(l.last) < d.ssrcTimeout {
			st.dropped++
			return
		}
		l.ssrc, l.last = p.SSRC, now
		st.reflected = append(st.reflected, reflectedPacket{at: now, track: track, pkt: p})
		return
	}
}

// viewer returns what a viewer of the stream at path got, and how many packets the SSRC lock
// dropped.
func (d *fakeDSS) viewer(p string) ([]reflectedPacket, int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.stream(p)
	return slices.Clone(st.reflected), st.dropped
}
