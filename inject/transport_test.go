package inject

import (
	"strings"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/relay"
)

// TestTransports pushes with each transport setting to a server that takes RTP over UDP and to
// one that takes TCP only: "auto" tries UDP and falls back to TCP on 461 Unsupported Transport.
func TestTransports(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		name      string
		transport string
		udp       bool   // the server takes UDP
		want      string // the transport used; "" for a refusal
	}{
		{"tcp", "tcp", true, "tcp"},
		{"udp", "udp", true, "udp"},
		{"auto with UDP", "auto", true, "udp"},
		{"auto to TCP only", "auto", false, "tcp"},
		{"udp to TCP only", "udp", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newFakeServer(t, func(s *fakeServer) { s.udp = tc.udp })
			f := &Fanout{
				Channel: "test", QueueSize: 1024, RetryMin: time.Minute,
				Targets: []Target{{URL: s.url("/test.sdp"), Transport: tc.transport}},
			}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if tc.want == "" {
				if err := f.WriteFrame(fr[0]); err != nil {
					t.Fatal(err)
				}
				waitState(t, f, 0, StateBackoff)
				if st := f.Stats()[0]; !strings.Contains(st.LastError, "SETUP") || !strings.Contains(st.LastError, "461") {
					t.Errorf("last error %q, want the SETUP refusal", st.LastError)
				}
				return
			}
			pushFor(t, f, fr, tc.want)
			waitSettled(t, f, 0)
			st := f.Stats()[0]
			if st.Transport != tc.want || st.PacketsDropped != 0 || st.BytesSent == 0 || st.ConnectedSince.IsZero() {
				t.Errorf("stats %+v, want transport %s, every packet sent, bytes and connected since", st, tc.want)
			}
			// Loopback loses no UDP packet at this rate.
			fftest.WaitFor(t, 10*time.Second, "every packet at the server", func() bool {
				return uint64(len(s.received(0))) == st.PacketsSent
			})
			setups := s.requestsOf(base.Setup)
			if tc.transport == "auto" && !tc.udp {
				if len(setups) != 3 || strings.Contains(setups[0].Header["Transport"][0], "TCP") {
					t.Errorf("SETUPs %v, want one for UDP (refused), then one for TCP per track", setups)
				}
			}
			f.Close()
			if st := f.Stats()[0]; st.Transport != "" || !st.ConnectedSince.IsZero() || st.BytesSent == 0 {
				t.Errorf("stopped: %+v, want no transport nor connection time, bytes kept", st)
			}
		})
	}
}

// pushFor pushes frames for a session over transport: at their own pace over UDP, where a
// burst could overflow the receiver's socket buffer, else at once.
func pushFor(t *testing.T, f *Fanout, fr []*demux.Frame, transport string) {
	t.Helper()
	if transport == "udp" {
		pushLive(t, f, fr)
	} else {
		push(t, f, fr)
	}
}

// TestUDPToRelay pushes over UDP into the built-in relay, a gortsplib server, and with "auto"
// into one without UDP.
func TestUDPToRelay(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		name      string
		transport string
		udp       bool
		want      string
	}{
		{"udp", "udp", true, "udp"},
		{"auto to TCP only", "auto", false, "tcp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &relay.Server{Address: "127.0.0.1:0"}
			if tc.udp {
				r.UDPRTPAddress, r.UDPRTCPAddress = fftest.FreeUDPPair(t)
			}
			if err := r.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			f := &Fanout{Channel: "test", QueueSize: 1024, Targets: []Target{
				{URL: "rtsp://" + r.Addr() + "/test.sdp", Transport: tc.transport},
			}}
			if err := f.Initialize(); err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			pushFor(t, f, fr, tc.want)
			waitSettled(t, f, 0)
			st := f.Stats()[0]
			if st.Transport != tc.want || st.PacketsDropped != 0 {
				t.Errorf("stats %+v, want transport %s and every packet sent", st, tc.want)
			}
			fftest.WaitFor(t, 10*time.Second, "every packet at the relay", func() bool {
				p := r.Paths()
				return len(p) == 1 && p[0].Publishing && p[0].Packets == st.PacketsSent
			})
		})
	}
}

// TestKeepAliveOverUDP records over UDP to a server whose Session header has no timeout, as
// Darwin Streaming Server's: keepalive requests go out at most KeepAlive apart (gortsplib alone
// would wait 30 s, past the 20 s after which DSS drops a silent broadcaster).
func TestKeepAliveOverUDP(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	s := newFakeServer(t, func(s *fakeServer) { s.udp = true })
	const every = time.Second
	f := &Fanout{
		Channel: "test", QueueSize: 1024, KeepAlive: every,
		Targets: []Target{{URL: s.url("/test.sdp"), Transport: "udp"}},
	}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push(t, f, fr)
	// No more frames: the source pauses, and only the keepalives hold the session.
	fftest.WaitFor(t, 10*time.Second, "three keepalives", func() bool {
		return len(s.requestsWith(base.Options)) >= 4 // the first comes before ANNOUNCE
	})
	record := s.requestsWith(base.Record)[0].at
	last := record
	for _, r := range s.requestsWith(base.Options)[1:] {
		if gap := r.at.Sub(last); gap > every+every/4 {
			t.Errorf("keepalive %v after the request before, want at most %v", gap.Round(time.Millisecond), every)
		}
		if r.conn != 0 || r.req.Header["Session"] == nil {
			t.Errorf("keepalive on connection %d with session %v, want the recording session's", r.conn, r.req.Header["Session"])
		}
		last = r.at
	}
	if st := f.Stats()[0]; st.State != StateRecording || st.Reconnects != 0 {
		t.Errorf("stats %+v, want the same session recording", st)
	}
}

func TestKeepAliveWithin(t *testing.T) {
	for _, tc := range []struct {
		session string
		every   time.Duration
		want    string
	}{
		{"", 10 * time.Second, ""},
		{"12345678", 10 * time.Second, "12345678;timeout=12"}, // every 9.6 s
		{"12345678;timeout=60", 10 * time.Second, "12345678;timeout=12"},
		{"12345678;timeout=5", 10 * time.Second, "12345678;timeout=5"},
		{"12345678", time.Second, "12345678;timeout=1"},
	} {
		res := &base.Response{StatusCode: base.StatusOK, Header: base.Header{}}
		if tc.session != "" {
			res.Header["Session"] = base.HeaderValue{tc.session}
		}
		keepAliveWithin(res, tc.every)
		if got := strings.Join(res.Header["Session"], ","); got != tc.want {
			t.Errorf("Session %q, every %v: got %q, want %q", tc.session, tc.every, got, tc.want)
		}
	}
}
