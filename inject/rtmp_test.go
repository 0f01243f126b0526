package inject

import (
	"cmp"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/fftest"
	"github.com/liveinject/liveinject/internal/testpeers"
)

// startRTMP starts a Fanout pushing to target, its logs in the Buffer returned; it is closed when
// the test ends.
func startRTMP(t *testing.T, target Target, configure func(*Fanout)) (*Fanout, *fftest.Buffer) {
	t.Helper()
	logs := &fftest.Buffer{}
	f := &Fanout{Channel: "test", Targets: []Target{target}, QueueSize: 1024,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if configure != nil {
		configure(f)
	}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return f, logs
}

// TestRTMPToNginx pushes a channel to nginx, which a player then reads back as H.264 and AAC,
// with time that starts at the session's start (channel time counts from 1970, which FLV's
// 32-bit milliseconds do not hold) and goes at the pace of the source: 25 frames a second.
func TestRTMPToNginx(t *testing.T) {
	n := testpeers.StartNginx(t, "")
	f, _ := startRTMP(t, Target{URL: n.URL("live/readback")}, nil)
	feedLive(t, f, demuxtest.Frames(t, "2"))
	waitState(t, f, 0, StateRecording)

	codecs, err := testpeers.ProbeRTMP(t, n.URL("live/readback"), 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(codecs)
	if !slices.Equal(codecs, []string{"aac", "h264"}) {
		t.Errorf("nginx plays %v, want aac and h264", codecs)
	}
	// nginx gives a new player the audio at once and the video from the next keyframe, up to
	// a GOP (2 s) later; ffprobe's interval counts from the first packet's time: 5 s hold at
	// least 2.8 s of video.
	pkts, err := testpeers.Packets(t, n.URL("live/readback"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	video := pkts["video"]
	if len(video) < 50 || len(pkts["audio"]) < 200 {
		t.Fatalf("%d video and %d audio packets in 5 s, want at least 50 and 200", len(video), len(pkts["audio"]))
	}
	if first := video[0]; first < 0 || first > 60 {
		t.Errorf("the stream's time is at %.3f s after the session began, want its time since then", first)
	}
	if rate := float64(len(video)-1) / (video[len(video)-1] - video[0]); rate < 23 || rate > 27 {
		t.Errorf("%.1f video frames a second of stream time, want 25", rate)
	}
	t.Logf("read back: %d video packets from %.3f s to %.3f s, %d audio", len(video), video[0], video[len(video)-1],
		len(pkts["audio"]))
	st := f.Stats()[0]
	if st.State != StateRecording || st.Transport != "rtmp" || st.PacketsSent == 0 || st.BytesSent == 0 ||
		st.URL != n.URL("live/readback") {
		t.Errorf("stats %+v", st)
	}
}

// TestRTMPStreamKey publishes with a stream key and a token in the URL's query: the stream is
// at the application's path and the key, where a player finds it, and neither the key nor the
// token shows anywhere: not in Stats, the logs, the events, nor the errors of a session that
// failed (a second publisher on the same name).
func TestRTMPStreamKey(t *testing.T) {
	const key, token = "k3y-5ecret-0123", "t0ken-5ecret"
	n := testpeers.StartNginx(t, "")
	events := pushEvents()
	target := Target{URL: n.URL("live") + "?pass=" + token, StreamKey: key}
	f, logs := startRTMP(t, target, func(f *Fanout) { f.OnEvent = events.sink })
	feedLive(t, f, demuxtest.Frames(t, "2"))
	waitState(t, f, 0, StateRecording)
	codecs, err := testpeers.ProbeRTMP(t, n.URL("live/"+key), 20*time.Second)
	if err != nil || len(codecs) != 2 {
		t.Fatalf("playing the stream at live/<key>: %v, %v", codecs, err)
	}
	if !strings.Contains(n.Log(), "publish: name='"+key+"' args='pass="+token+"'") {
		t.Errorf("nginx has no publish of the key:\n%s", n.Log())
	}

	// a second destination to the same name fails, and says so without the key
	if err := f.SetTargets([]Target{target, {URL: n.URL("live/") + "/?pass=" + token, StreamKey: key}}); err != nil {
		t.Fatal(err)
	}
	fftest.WaitFor(t, 15*time.Second, "the second publisher refused", func() bool {
		return f.Stats()[1].FailedAttempts > 0
	})
	for i, st := range f.Stats() {
		if want := n.URL("live/" + secretMark(key) + "?" + secretMark("pass="+token)); st.URL != want {
			t.Errorf("destination %d shows as %s, want %s", i, st.URL, want)
		}
		if s := fmt.Sprintf("%+v", st); strings.Contains(s, key) || strings.Contains(s, token) {
			t.Errorf("destination %d's stats hold the key: %+v", i, st)
		}
	}
	t.Logf("the second publisher: %s", f.Stats()[1].LastError)
	if st := f.Stats()[1]; !strings.Contains(st.LastError, "NetStream.Publish.BadName") {
		t.Errorf("the second publisher's error: %q", st.LastError)
	}
	f.Close()
	if strings.Contains(logs.String(), key) || strings.Contains(logs.String(), token) {
		t.Errorf("the logs hold the key or the token:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "BadName") || !strings.Contains(logs.String(), "xxxxx") {
		t.Errorf("the logs lack the failure or the redacted URL:\n%s", logs)
	}
	for _, e := range events.all() {
		if s := fmt.Sprintf("%+v", e); strings.Contains(s, key) || strings.Contains(s, token) {
			t.Errorf("an event holds the key or the token: %+v", e)
		}
	}
}

// TestRTMPCauses has servers refuse a push in the ways they do, each with its cause in Stats:
// what to do about it.
func TestRTMPCauses(t *testing.T) {
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusForbidden)
	}))
	defer refuse.Close()
	n := testpeers.StartNginx(t, "application checked { live on; on_publish "+refuse.URL+"/publish; }")
	notRTMP := httptest.NewServer(http.NotFoundHandler())
	defer notRTMP.Close()
	fr := demuxtest.Frames(t, "1")
	for _, tc := range []struct {
		name, url, state, want string
	}{
		{"no application", n.URL("nope/x"), StateBackoff, `connect: the server has no application "nope"`},
		{"nothing listens", fmt.Sprintf("rtmp://127.0.0.1:%d/live/x", fftest.FreePort(t)), StateBackoff,
			"connection refused: nothing listens at 127.0.0.1:"},
		{"on_publish refuses", n.URL("checked/x"), StateAuthFailed,
			"publish: authentication failed: the server closed the connection when asked to publish"},
		{"not an RTMP server", "rtmp://" + strings.TrimPrefix(notRTMP.URL, "http://") + "/live/x", StateBackoff,
			"handshake: the server does not answer as an RTMP server does"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := startRTMP(t, Target{URL: tc.url}, func(f *Fanout) { f.RetryMin = time.Minute })
			if err := f.WriteFrame(fr[0]); err != nil {
				t.Fatal(err)
			}
			waitState(t, f, 0, tc.state)
			st := f.Stats()[0]
			t.Logf("%s", st.LastError)
			if !strings.Contains(st.LastError, tc.want) {
				t.Errorf("last error %q, want %q", st.LastError, tc.want)
			}
		})
	}
}

// TestRTMPServerRestart restarts nginx under a recording destination: it records again within
// 5 s of nginx listening again, with the default delays between tries.
func TestRTMPServerRestart(t *testing.T) {
	n := testpeers.StartNginx(t, "")
	f, _ := startRTMP(t, Target{URL: n.URL("live/restart")}, nil)
	feedLive(t, f, demuxtest.Frames(t, "2"))
	waitState(t, f, 0, StateRecording)
	n.Stop()
	fftest.WaitFor(t, 10*time.Second, "the session lost", func() bool {
		return f.Stats()[0].State != StateRecording
	})
	lost := f.Stats()[0]
	n.Start()
	listening := time.Now()
	fftest.WaitFor(t, 30*time.Second, "recording again", func() bool {
		return f.Stats()[0].State == StateRecording
	})
	again := time.Since(listening)
	t.Logf("lost: %s; recording again %v after nginx listened again", lost.LastError, again.Round(time.Millisecond))
	if again > 5*time.Second {
		t.Errorf("recording again %v after nginx listened again, want within 5 s", again)
	}
	if st := f.Stats()[0]; st.Reconnects != 1 || !strings.Contains(lost.LastError, "connection lost: the server closed the connection") {
		t.Errorf("%+v after the restart (lost: %q), want one reconnect", st, lost.LastError)
	}
	codecs, err := testpeers.ProbeRTMP(t, n.URL("live/restart"), 20*time.Second)
	if err != nil || len(codecs) != 2 {
		t.Errorf("playing the stream after the restart: %v, %v", codecs, err)
	}
}

// TestRTMPS pushes to nginx through a TLS front with a certificate of a test authority: checked
// against the system's authorities it fails, and says what to do; with the authority given, or
// the check turned off, it records, and a player reads the stream from nginx.
func TestRTMPS(t *testing.T) {
	cert, ca := selfSigned(t)
	n := testpeers.StartNginx(t, "")
	fr := demuxtest.Frames(t, "2")
	tlsFront := startFront(t, n.Addr(), &tls.Config{Certificates: []tls.Certificate{cert}})
	_, port, _ := net.SplitHostPort(tlsFront.addr())
	for _, tc := range []struct {
		name   string
		target Target
		want   string // what LastError says when the push fails; "" when it records
	}{
		{"system authorities", Target{URL: "rtmps://" + tlsFront.addr() + "/live/system"}, "TLS: the server's certificate is not signed by a trusted authority"},
		{"CA", Target{URL: "rtmps://" + tlsFront.addr() + "/live", StreamKey: "ca", TLSCA: ca}, ""},
		{"CA, other host name", Target{URL: "rtmps://localhost:" + port + "/live/name", TLSCA: ca}, "TLS: the server's certificate is not for this host name"},
		{"insecure", Target{URL: "rtmps://" + tlsFront.addr() + "/live/insecure", TLSInsecure: true}, ""},
		{"no TLS", Target{URL: "rtmps://" + n.Addr() + "/live/plain", TLSInsecure: true}, "TLS: the server does not answer in TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, _ := startRTMP(t, tc.target, func(f *Fanout) { f.RetryMin, f.readTimeout = time.Minute, 2*time.Second })
			if tc.want != "" {
				if err := f.WriteFrame(fr[0]); err != nil {
					t.Fatal(err)
				}
				waitState(t, f, 0, StateBackoff)
				t.Logf("%s", f.Stats()[0].LastError)
				if st := f.Stats()[0]; !strings.Contains(st.LastError, tc.want) {
					t.Errorf("last error %q lacks %q", st.LastError, tc.want)
				}
				return
			}
			feedLive(t, f, fr)
			waitState(t, f, 0, StateRecording)
			name := path.Join("live", cmp.Or(tc.target.StreamKey, path.Base(tc.target.URL)))
			codecs, err := testpeers.ProbeRTMP(t, n.URL(name), 20*time.Second)
			if err != nil || len(codecs) != 2 {
				t.Errorf("playing %s from nginx: %v, %v", name, codecs, err)
			}
			if st := f.Stats()[0]; st.Transport != "rtmps" || st.Reconnects != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

// TestRTMPStalledServer has the server stop reading: within seconds the destination shows as
// stalled, with the bytes waiting; a server that reads nothing for the write timeout ends the
// session, which says why; once it reads again, the destination records again.
func TestRTMPStalledServer(t *testing.T) {
	n := testpeers.StartNginx(t, "")
	fr := demuxtest.Frames(t, "2", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-b:v", "8M", "-minrate", "8M",
		"-maxrate", "8M", "-bufsize", "2M", "-x264-params", "nal-hrd=cbr", "-c:a", "aac", "-ac", "2")
	hang := startFront(t, n.Addr(), nil)
	f, _ := startRTMP(t, Target{URL: "rtmp://" + hang.addr() + "/live/stall"}, func(f *Fanout) {
		f.readTimeout = 5 * time.Second
	})
	feedFast(t, f, fr)
	waitState(t, f, 0, StateRecording)
	hang.pause()
	paused := time.Now()
	waitState(t, f, 0, StateStalled)
	st := f.Stats()[0]
	t.Logf("stalled %v after the pause: %d bytes waiting", time.Since(paused).Round(time.Millisecond), st.BytesWaiting)
	if st.BytesWaiting == 0 || st.StalledSince.IsZero() || !strings.Contains(st.LastError, "the server is not reading what is sent") {
		t.Errorf("stalled: %+v", st)
	}
	fftest.WaitFor(t, 30*time.Second, "the session ended", func() bool {
		return f.Stats()[0].State == StateBackoff
	})
	st = f.Stats()[0]
	t.Logf("ended %v after the pause: %s", time.Since(paused).Round(time.Millisecond), st.LastError)
	if !strings.Contains(st.LastError, "the server took nothing for 5s: it stopped reading") {
		t.Errorf("the session ended with %q", st.LastError)
	}
	hang.resume()
	fftest.WaitFor(t, 60*time.Second, "recording again", func() bool {
		st := f.Stats()[0]
		return st.State == StateRecording && st.Reconnects == 1
	})
}

// TestRTMPHold holds a channel for 60 s, as its owner does while the source is gone (the last
// keyframe every 500 ms, silence up to it): nginx, which drops a publisher that sends nothing
// for 10 s, keeps the session throughout, and a player that starts to read during the hold gets
// the held picture, twice a second, and the silence. When nothing more comes, nginx drops the
// publisher, as the test's configuration has it: the hold is what kept it.
func TestRTMPHold(t *testing.T) {
	silence := aacSilence(t)
	fr := demuxtest.Frames(t, "2")
	n := testpeers.StartNginx(t, "")
	f, _ := startRTMP(t, Target{URL: n.URL("live/hold")}, nil)
	pushLive(t, f, fr)

	const holdFor, playAt, playFor = 60 * time.Second, 20 * time.Second, 10 * time.Second
	type read struct {
		pkts map[string][]float64
		err  error
	}
	played := make(chan read, 1)
	play, end := time.NewTimer(playAt), time.NewTimer(holdFor)
	defer play.Stop()
	defer end.Stop()
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	holds := 0
hold:
	for {
		select {
		case now := <-tick.C:
			if err := f.Hold(now, silence); err != nil {
				t.Fatal(err)
			}
			holds++
			if st := f.Stats()[0]; st.State != StateRecording || st.Reconnects != 0 {
				t.Fatalf("%v into the hold: %+v", now.Sub(start).Round(time.Millisecond), st)
			}
		case <-play.C:
			go func() {
				pkts, err := testpeers.Packets(t, n.URL("live/hold"), playFor)
				played <- read{pkts, err}
			}()
		case <-end.C:
			break hold
		}
	}
	r := <-played
	if r.err != nil {
		t.Fatal(r.err)
	}
	video, audio := r.pkts["video"], r.pkts["audio"]
	t.Logf("%d holds in %v; the player got %d video frames and %d audio frames in %v of the hold",
		holds, holdFor, len(video), len(audio), playFor)
	// the held picture twice a second; AAC frames of 1024 samples at 48 kHz
	if len(video) < 15 || len(audio) < 300 {
		t.Errorf("the player got %d video and %d audio frames in %v, want about 20 and 470", len(video), len(audio), playFor)
	}
	for i := 1; i < len(video); i++ {
		if d := video[i] - video[i-1]; d < 0.3 || d > 0.7 {
			t.Errorf("held frame %d comes %.3f s after the one before, want 0.5 s", i, d)
		}
	}
	if st := f.Stats()[0]; st.State != StateRecording || st.Reconnects != 0 || st.FailedAttempts != 0 {
		t.Errorf("after the hold: %+v, want the one session", st)
	}

	// nothing more: nginx drops the publisher
	fftest.WaitFor(t, 20*time.Second, "nginx dropping the idle publisher", func() bool {
		return f.Stats()[0].State != StateRecording
	})
	if !strings.Contains(n.Log(), "drop idle publisher") {
		t.Errorf("nginx's log has no drop of the idle publisher:\n%s", n.Log())
	}
}

// TestRTMPTargets checks how an RTMP URL is split into the application and the stream name
// (with the stream key after the URL's path, and its query after that), and how it shows:
// without the password, the key or the query. Targets that cannot work are refused at once.
func TestRTMPTargets(t *testing.T) {
	for _, tc := range []struct {
		target                 Target
		app, stream, shown, to string
	}{
		{Target{URL: "rtmp://a.rtmp.youtube.com/live2", StreamKey: "abcd-efgh"},
			"live2", "abcd-efgh", "rtmp://a.rtmp.youtube.com/live2/xxxxx-5fbd", "a.rtmp.youtube.com:1935"},
		// another key on the same ingest shows apart (metrics' labels, /status), SHA-256's first
		// 4 hex digits as Python's hashlib gives them
		{Target{URL: "rtmp://a.rtmp.youtube.com/live2", StreamKey: "abcd-wxyz"},
			"live2", "abcd-wxyz", "rtmp://a.rtmp.youtube.com/live2/xxxxx-1777", "a.rtmp.youtube.com:1935"},
		{Target{URL: "rtmps://live-api-s.facebook.com:443/rtmp/", StreamKey: "FB-1-2"},
			"rtmp", "FB-1-2", "rtmps://live-api-s.facebook.com:443/rtmp/xxxxx-0ade", "live-api-s.facebook.com:443"},
		{Target{URL: "RTMP://127.0.0.1:1936/live/cam/1"}, "live", "cam/1", "rtmp://127.0.0.1:1936/live/cam/1", "127.0.0.1:1936"},
		{Target{URL: "rtmp://host/live/x?user=u&pass=t0ken"}, "live", "x?user=u&pass=t0ken", "rtmp://host/live/x?xxxxx-04b6", "host:1935"},
		{Target{URL: "rtmps://host/app", StreamKey: "k?bandwidthtest=true"},
			"app", "k?bandwidthtest=true", "rtmps://host/app/xxxxx-303b", "host:443"},
	} {
		d, err := newDestination("test", tc.target, settings{queueSize: 1}, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Errorf("%+v: %v", tc.target, err)
			continue
		}
		p := d.push.(*rtmpPusher)
		if p.url.Path != "/"+tc.app || p.url.Fragment != tc.stream || d.redacted != tc.shown || p.address != tc.to {
			t.Errorf("%+v: app %q, stream %q, shown as %s, at %s; want %q, %q, %s, %s", tc.target,
				strings.TrimPrefix(p.url.Path, "/"), p.url.Fragment, d.redacted, p.address, tc.app, tc.stream, tc.shown, tc.to)
		}
	}
	for _, tc := range []struct {
		target Target
		want   string
	}{
		{Target{URL: "rtmp://host/live", Password: "s3cret"}, "no stream name"},
		{Target{URL: "rtmp://host/", StreamKey: "s3cret"}, "no application in the URL's path"},
		{Target{URL: "rtmp://host/live/x", Transport: "udp"}, `transport "udp" does not apply to rtmp`},
		{Target{URL: "rtmp://host/live", StreamKey: "s3cret", TLSInsecure: true}, "TLS settings need an rtmps:// URL"},
		{Target{URL: "rtmps://host/live", StreamKey: "s3cret", TLSCA: "not a certificate"}, "no PEM certificate"},
		{Target{URL: "rtmp://host/live/x#s3cret"}, "a # in the URL"},
		{Target{URL: "rtmp://host/live", StreamKey: "s3cret\n"}, "the stream key holds a control character"},
		{Target{URL: "rtmp:///live/x"}, "no host"},
		{Target{URL: "rtmp://u:s3cret@host/live/x"}, "user and password do not apply to rtmp"},
		{Target{URL: "rtmps://host/live", StreamKey: "k", User: "u", Password: "s3cret"}, "user and password do not apply to rtmps"},
	} {
		_, err := newDestination("test", tc.target, settings{queueSize: 1}, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%+v: error %v, want %q and no secret", tc.target, err, tc.want)
		}
	}
}

// TestRTMPPing has nginx ping its publisher when it sends nothing for a second: a destination
// whose channel sends nothing for 6 s answers each ping (the answers are all it writes), and
// keeps its session.
func TestRTMPPing(t *testing.T) {
	n := testpeers.StartNginx(t, "ping 1s; ping_timeout 1s;")
	f, _ := startRTMP(t, Target{URL: n.URL("live/ping")}, nil)
	pushLive(t, f, demuxtest.Frames(t, "1"))
	waitSettled(t, f, 0)
	before := f.Stats()[0]
	quiet := time.After(6 * time.Second)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			if st := f.Stats()[0]; st.State != StateRecording {
				t.Fatalf("the session ended: %+v\n%s", st, n.Log())
			}
			continue
		case <-quiet:
		}
		break
	}
	// a ping answer is a user control message of 6 bytes, with a chunk header of 1 to 12 bytes;
	// nginx pings once a second of silence, its answer included
	after := f.Stats()[0]
	answered := after.BytesSent - before.BytesSent
	t.Logf("%d bytes written in 6 s without frames", answered)
	if answered < 2*10 || answered > 7*18 || after.PacketsSent != before.PacketsSent {
		t.Errorf("%d bytes and %d frames written in 6 s without frames, want the answers to a few pings",
			answered, after.PacketsSent-before.PacketsSent)
	}
}

// TestRTMPNewParameters has the source's codec parameters change (another H.264 profile): the
// session ends and a new one publishes them, starting at the frame that brought them; no frame
// is lost on the way.
func TestRTMPNewParameters(t *testing.T) {
	high := demuxtest.Frames(t, "1")
	baseline := demuxtest.Frames(t, "1", "-c:v", "libx264", "-profile:v", "baseline", "-tune", "zerolatency", "-g", "50",
		"-c:a", "aac", "-ac", "2")
	n := testpeers.StartNginx(t, "")
	f, logs := startRTMP(t, Target{URL: n.URL("live/params")}, nil)
	pushLive(t, f, high)
	f.Discontinuity()
	pushLive(t, f, baseline)
	waitSettled(t, f, 0)
	st := f.Stats()[0]
	t.Logf("%+v", st)
	if st.Reconnects != 1 || st.PacketsDropped != 0 || st.State != StateRecording {
		t.Errorf("%+v, want a second session and every frame sent", st)
	}
	logs.WaitFor(t, "codec parameters changed")
}

// TestRTMPErrorsRedacted has an error of a session hold the stream key and the URL's query, as
// a server's answer may (a name of the stream it has already): both show as xxxxx, and the run
// loop still finds what it wraps.
func TestRTMPErrorsRedacted(t *testing.T) {
	p, _, err := newRTMPPusher("test", Target{URL: "rtmp://host/live?pass=t0ken", StreamKey: "k3y"},
		&url.URL{Scheme: "rtmp", Host: "host", Path: "/live", RawQuery: "pass=t0ken"})
	if err != nil {
		t.Fatal(err)
	}
	e := redactedError{err: fmt.Errorf("publish: %w (stream live/k3y?pass=t0ken is busy)", errHeld), p: p.(*rtmpPusher)}
	if got, want := e.Error(), "publish: the stream name is still held (stream live/xxxxx?xxxxx is busy)"; got != want || !errors.Is(e, errHeld) {
		t.Errorf("%q (errors.Is errHeld: %v), want %q", got, errors.Is(e, errHeld), want)
	}
}
