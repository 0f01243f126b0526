package inject

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"
	"github.com/bluenviron/gortsplib/v4/pkg/format"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/liberrors"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/backoff"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/ratelog"
	"github.com/liveinject/liveinject/internal/useragent"
)

// The return check plays each destination's stream back from the server, at the URL players
// use, and tells whether what comes back is the channel's: "recording" says only that the server
// took the push, and a server can take it and serve nothing (Darwin Streaming Server's SETUP 404
// of an unreflectable session), a stale or another publisher's stream, or one track.
//
// It is the channel's when its packets carry the destination's SSRC or, since servers such as
// Darwin Streaming Server and the built-in relay put their own SSRC into what they serve, RTP
// timestamps the destination sent in the last minute or so (sentTimes), going on; when a
// keyframe comes whose SPS is the channel's; and when both tracks come if the channel has
// audio. The time from a frame's send to its return is the server's delay. After the first
// keyframe the reader decodes nothing: it looks at each packet's header only.

// verifyTimings are the return check's delays; tests shorten them.
type verifyTimings struct {
	// noPackets: no packet of the stream for this long and it is unverified ("no packets for
	// 10 s"); also how long the audio track, and a keyframe, may keep players waiting.
	noPackets time.Duration
	// notOurs: packets for this long, none of them the channel's, and it is "not our stream".
	notOurs time.Duration
	// settle is how long the channel's packets must have come before the stream counts as
	// verified, so that the delay is measured on live packets and not only on a server's
	// cached ones, which come at once.
	settle time.Duration
	// timeout ends a short check (verify_every) that has found nothing better.
	timeout time.Duration
	// retryMin and retryMax bound the delay between two checks while unverified.
	retryMin, retryMax time.Duration
	// poll is how often the check looks at its findings and at the destination's state.
	poll time.Duration
}

// defaultVerifyTimings are the production ones: see verifyTimings.
var defaultVerifyTimings = verifyTimings{
	noPackets: 10 * time.Second,
	notOurs:   5 * time.Second,
	settle:    time.Second,
	timeout:   15 * time.Second,
	retryMin:  2 * time.Second,
	retryMax:  30 * time.Second,
	poll:      250 * time.Millisecond,
}

// delayWindow is the time over which the server's delay is taken, as the least of the frames'
// delays: a server that first sends a cached GOP (the relay; players of Darwin Streaming Server
// that join) sends old frames at once, which would pass for a long delay.
const delayWindow = 5 * time.Second

// checkUserAgent names the return check's requests to the server, which the built-in relay
// counts apart from its players.
const checkUserAgent = useragent.ReturnCheck

// The return check's causes that are not a failed request.
const (
	causeNotOurs       = "not our stream"
	causeVideoOnly     = "video only"
	causeNoVideo       = "no video track"
	causeOtherKeyframe = "keyframe of another stream: its SPS differs"
	causeNotRecording  = "the destination is not recording"
	causeStandsStill   = "the stream stands still: one frame over and over"
)

// verifyConfig is what a Target says of its return check.
type verifyConfig struct {
	off   bool
	url   string // verify_url as given; "" for the destination's
	every time.Duration
}

func verifyConfigOf(t Target) verifyConfig {
	// RTMP and SRT servers are not played back: their stream is rarely served over RTSP, and
	// with timestamps of the server's that the check cannot match with what was sent.
	return verifyConfig{off: t.NoVerify || !isRTSP(t.URL), url: t.VerifyURL, every: t.VerifyEvery}
}

// pushTarget returns t without its return check's settings: what its push session depends on.
func pushTarget(t Target) Target {
	t.NoVerify, t.VerifyURL, t.VerifyEvery = false, "", 0
	return t
}

// verifier is one destination's return check: a goroutine of its own beside the destination's,
// whose findings Stats shows. A change of the target's verify settings replaces it.
type verifier struct {
	d   *destination
	cfg verifyConfig
	tm  verifyTimings
	// url is what is played, with credentials; redacted without the password.
	url, redacted string
	tls           *tls.Config
	// ssrc is the destination's video SSRC (see ssrc.go); 0 when its packets do not carry it
	// (rtsps keeps the library's).
	ssrc uint32
	log  *slog.Logger

	ctx  context.Context
	stop context.CancelFunc

	mu sync.Mutex
	st Verify
	// causes rate-limits the lines of a destination that turns unverified again and again, or
	// whose cause keeps changing; lastCause is the latest cause, and quiet is set while a
	// repeated one is held back (its return to verified is then held back too). Used by the
	// check's goroutine only.
	causes    ratelog.Limiter
	lastCause string
	quiet     bool
}

// newVerifier returns the return check of d as t sets it, not started.
func newVerifier(d *destination, t Target, tm verifyTimings) (*verifier, error) {
	v := &verifier{d: d, cfg: verifyConfigOf(t), tm: tm, log: d.log}
	v.causes.Every = libraryLogEvery
	v.st = Verify{State: VerifyChecking, Since: time.Now()}
	if v.cfg.off {
		v.st.State = VerifyOff
		return v, nil
	}
	u, err := parseRTSPURL("verify URL", cmp.Or(t.VerifyURL, t.URL))
	if err != nil {
		return nil, err
	}
	if u.User == nil {
		// the destination's credentials, as its push uses them
		if t.User != "" {
			u.User = url.UserPassword(t.User, t.Password)
		} else if du, err := url.Parse(t.URL); err == nil {
			u.User = du.User
		}
	}
	if err := checkCredentials(u.User); err != nil {
		return nil, fmt.Errorf("verify URL %s: %w", u.Redacted(), err)
	}
	v.url, v.redacted = u.String(), u.Redacted()
	if u.Scheme == "rtsps" {
		v.tls = &tls.Config{
			MinVersion:         tls.VersionTLS12,
			RootCAs:            d.roots,
			InsecureSkipVerify: t.TLSInsecure, //nolint:gosec // asked for explicitly
		}
	}
	if !d.secure {
		v.ssrc = stableSSRC(d.channel, d.stream, demux.Video)
	}
	if v.redacted != d.redacted {
		v.log = v.log.With("verify_url", v.redacted)
	}
	return v, nil
}

// status returns the check's finding.
func (v *verifier) status() Verify {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.st
}

// show sets the finding, and tells of a change between verified and unverified: a log line and
// an event. A replaced or stopped check shows nothing more.
func (v *verifier) show(state, cause string, delay time.Duration) {
	if v.ctx.Err() != nil {
		return
	}
	now := time.Now()
	v.mu.Lock()
	prev := v.st
	if state != prev.State {
		v.st.Since = now
	}
	v.st.State, v.st.Cause, v.st.ServerDelay = state, cause, delay
	v.mu.Unlock()
	changed := state != prev.State
	ev := event.Event{Channel: v.d.channel, Destination: v.d.redacted}
	switch {
	case state == VerifyVerified && changed:
		if !v.quiet {
			v.log.Info("verified: the server plays the stream back", "server_delay", delay.Round(100*time.Microsecond))
		}
		ev.Kind, ev.ServerDelay = event.DestinationVerified, delay.Seconds()
		v.d.cfg.events.Emit(ev)
	case state == VerifyUnverified && changed:
		// A stream that comes and goes for the same cause is logged once a libraryLogEvery,
		// its return with it; the events tell every change.
		heldBack, ok := v.causes.Allow(now)
		v.quiet = cause == v.lastCause && !ok
		v.lastCause = cause
		if !v.quiet {
			v.logLimited(v.log.Warn, "unverified: the server does not play the stream back", cause, heldBack)
		}
		ev.Kind, ev.Cause = event.DestinationUnverified, cause
		v.d.cfg.events.Emit(ev)
	case state == VerifyUnverified && cause != prev.Cause:
		v.lastCause = cause
		if heldBack, ok := v.causes.Allow(now); ok {
			v.logLimited(v.log.Warn, "still unverified", cause, heldBack)
		}
	}
}

// logLimited logs a line of the check's with its cause, and how many like it were held back.
func (v *verifier) logLimited(log func(string, ...any), msg, cause string, heldBack uint64) {
	args := []any{"cause", cause}
	if heldBack > 0 {
		args = append(args, "left_out", heldBack)
	}
	log(msg, args...)
}

// fail shows the stream unverified for cause.
func (v *verifier) fail(cause string) { v.show(VerifyUnverified, cause, 0) }

// run checks until ctx ends: continuously, or every cfg.every. It checks only while the
// destination records: a server is not asked for a stream it was not given.
func (v *verifier) run(ctx context.Context) {
	b := backoff.Backoff{Min: v.tm.retryMin, Max: v.tm.retryMax}
	for {
		if !v.waitRecording(ctx) {
			return
		}
		if cur := v.status(); cur.State == VerifyChecking && cur.Cause != "" {
			v.show(VerifyChecking, "", 0) // it records now
		}
		verified := v.check(ctx)
		if ctx.Err() != nil {
			return
		}
		var delay time.Duration
		switch {
		case v.cfg.every > 0:
			delay = v.cfg.every
		case verified:
			// it was found, and lost: look again soon
			b.Reset()
			delay = b.Next()
		default:
			delay = b.Next()
		}
		if !v.d.wait(ctx, delay) {
			return
		}
	}
}

// waitRecording returns once the destination records, false when ctx ended first. While it
// does not, a stream found before is unverified after noPackets (a reconnect is no news), and
// one never found stays being checked, both with the cause.
func (v *verifier) waitRecording(ctx context.Context) bool {
	t := time.NewTicker(v.tm.poll)
	defer t.Stop()
	var since time.Time
	for {
		st := v.d.currentState()
		if st == StateRecording || st == StateStalled {
			return true
		}
		now := time.Now()
		if since.IsZero() {
			since = now
		}
		switch cur := v.status(); {
		case cur.State == VerifyChecking && cur.Cause != causeNotRecording:
			v.show(VerifyChecking, causeNotRecording, 0)
		case cur.State == VerifyVerified && now.Sub(since) >= v.tm.noPackets,
			cur.State == VerifyUnverified && cur.Cause != causeNotRecording:
			v.fail(causeNotRecording)
		}
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
		}
	}
}

// check plays the stream once: continuously until it is lost, or, with cfg.every, until it is
// verified or timeout. It shows what it finds and reports whether it was verified.
func (v *verifier) check(ctx context.Context) (verified bool) {
	params := v.d.params.Load()
	if params == nil {
		return false
	}
	u, err := base.ParseURL(v.url)
	if err != nil {
		v.fail("invalid URL")
		return false
	}
	var conn atomic.Pointer[net.Conn]
	tcp := gortsplib.TransportTCP
	c := &gortsplib.Client{
		Scheme:    u.Scheme,
		Host:      u.Host,
		Transport: &tcp,
		TLSConfig: v.tls,
		// the check's own limit on silence is shorter, and names it
		ReadTimeout: v.tm.noPackets + 5*time.Second,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			nc, err := (&net.Dialer{}).DialContext(ctx, network, address)
			if err == nil {
				conn.Store(&nc)
			}
			return nc, err
		},
		// Packets of an SSRC other than the first one's are refused by the client with an error
		// each; they count as none, which the check reports.
		OnDecodeError:     func(error) {},
		OnPacketsLost:     func(uint64) {},
		UserAgent:         checkUserAgent,
		OnTransportSwitch: func(error) {},
	}
	if err := c.Start2(); err != nil {
		v.fail("start: " + err.Error())
		return false
	}
	closeClient := func() {
		cut := time.AfterFunc(teardownGrace, func() {
			if nc := conn.Load(); nc != nil {
				(*nc).Close()
			}
		})
		defer cut.Stop()
		c.Close()
	}
	defer closeClient()
	stop := context.AfterFunc(ctx, closeClient)
	defer stop()

	desc, _, err := c.Describe(u)
	if err != nil {
		v.fail(requestCause("DESCRIBE", err))
		return false
	}
	var h264f *format.H264
	videoMedia := desc.FindFormat(&h264f)
	var aacf *format.MPEG4Audio
	audioMedia := desc.FindFormat(&aacf)
	switch {
	case params.SPS != nil && videoMedia == nil:
		v.fail(causeNoVideo)
		return false
	case params.Audio != nil && audioMedia == nil:
		v.fail(causeVideoOnly)
		return false
	}
	w := &playWatch{sent: &v.d.sentAt, ssrc: v.ssrc, want: params, audio: params.Audio != nil,
		video: params.SPS != nil, start: time.Now(), settle: v.tm.settle}
	if w.video {
		if _, err := c.Setup(desc.BaseURL, videoMedia, 0, 0); err != nil {
			v.fail(requestCause("SETUP", err))
			return false
		}
		if w.dec, err = h264f.CreateDecoder(); err != nil {
			v.fail("video: " + err.Error())
			return false
		}
		w.sdpSPS = h264f.SPS
		c.OnPacketRTP(videoMedia, h264f, w.onVideo)
	}
	if w.audio {
		if _, err := c.Setup(desc.BaseURL, audioMedia, 0, 0); err != nil {
			v.fail(requestCause("SETUP", err))
			return false
		}
		if w.video {
			c.OnPacketRTP(audioMedia, aacf, w.onAudio)
		} else {
			c.OnPacketRTP(audioMedia, aacf, w.onLead)
		}
	}
	if _, err := c.Play(nil); err != nil {
		v.fail(requestCause("PLAY", err))
		return false
	}
	w.mu.Lock()
	w.start = time.Now()
	w.mu.Unlock()

	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	tick := time.NewTicker(v.tm.poll)
	defer tick.Stop()
	var deadline time.Time
	if v.cfg.every > 0 {
		deadline = time.Now().Add(v.tm.timeout)
	}
	for {
		select {
		case <-ctx.Done():
			return verified
		case err := <-done:
			v.fail("connection lost: " + shortError(err))
			return verified
		case now := <-tick.C:
			final := !deadline.IsZero() && !now.Before(deadline)
			cause, ok, delay := w.judge(now, v.tm, final)
			switch {
			case ok:
				verified = true
				v.show(VerifyVerified, "", delay)
				if v.cfg.every > 0 {
					return true
				}
			case cause != "":
				v.fail(cause)
				return verified
			}
		}
	}
}

// requestCause says which request failed and how, in few words: "DESCRIBE 404", "connection
// refused".
func requestCause(req string, err error) string {
	var bad liberrors.ErrClientBadStatusCode
	var ne net.Error
	switch {
	case errors.As(err, &bad):
		return req + " " + strconv.Itoa(int(bad.Code))
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return req + ": no answer"
	}
	return req + ": " + shortError(err)
}

// shortError is an error's text, without what the operating system's wording repeats.
func shortError(err error) string {
	if err == nil {
		return "closed"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// playWatch is what one play session of the check has seen. The client's reader calls its on*
// methods; the check's goroutine judges.
type playWatch struct {
	sent  *sentTimes
	ssrc  uint32
	want  *demux.Params
	video bool // the channel has video: it leads, and a keyframe is looked for
	audio bool // the channel has audio: it must come too

	mu sync.Mutex
	// dec decodes video until the first keyframe, then is dropped; sdpSPS is the DESCRIBE's.
	dec    *rtph264.Decoder
	sdpSPS []byte
	// key: 0 none yet, 1 the channel's, 2 another SPS
	key int
	// start is when PLAY was answered; first and last when a packet of the leading track (video,
	// else audio) came; firstOurs and lastOurs one of the channel's.
	start, first, last, firstOurs, lastOurs, lastAudio time.Time
	// lastTS is the timestamp of the latest frame, which began at lastNew.
	lastTS  uint32
	lastNew time.Time
	// delays are the server's delays of the channel's frames, at the time they came back; delay
	// the latest figure made of them. Frames that come in the first settle after the channel's
	// first are left out: a server that a player joins sends old frames at once (the relay's
	// cached GOP) or a few ahead of its buffer (Darwin Streaming Server's first frames came back
	// after 0.5 ms, the rest after its 1 s buffer), and the least of them is no figure of it.
	delays []timedDelay
	delay  time.Duration
	settle time.Duration
}

type timedDelay struct {
	at    time.Time
	delay time.Duration
}

func (w *playWatch) onVideo(pkt *rtp.Packet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lead(pkt)
	if w.dec == nil {
		return
	}
	au, err := w.dec.Decode(pkt)
	if err != nil || !h264.IsRandomAccess(au) {
		return
	}
	sps := w.sdpSPS
	for _, n := range au {
		if len(n) > 0 && h264.NALUType(n[0]&0x1f) == h264.NALUTypeSPS {
			sps = n
			break
		}
	}
	w.key = 2
	if bytes.Equal(sps, w.want.SPS) {
		w.key = 1
	}
	w.dec = nil // a light reader from here on: headers only
}

func (w *playWatch) onLead(pkt *rtp.Packet) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lead(pkt)
}

func (w *playWatch) onAudio(*rtp.Packet) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.lastAudio = now
}

// lead looks at a packet of the leading track: a frame of the channel's when it carries the
// destination's SSRC, or a timestamp the destination sent; each frame is looked at once, at its
// first packet. mu is held.
func (w *playWatch) lead(pkt *rtp.Packet) {
	now := time.Now()
	w.last = now
	if !w.first.IsZero() && pkt.Timestamp == w.lastTS {
		return
	}
	if w.first.IsZero() {
		w.first = now
	}
	w.lastTS, w.lastNew = pkt.Timestamp, now
	sentAt, ok := w.sent.lookup(pkt.Timestamp)
	if !ok && (w.ssrc == 0 || pkt.SSRC != w.ssrc) {
		return
	}
	if w.firstOurs.IsZero() {
		w.firstOurs = now
	}
	w.lastOurs = now
	if ok && now.Sub(w.firstOurs) >= w.settle {
		w.delays = append(w.delays, timedDelay{now, now.Sub(sentAt)})
	}
}

// judge says what the session has found by now: a cause when the stream is not the channel's
// or stopped, ok with the server's delay when it is, neither while it cannot tell yet. final,
// at the end of a short check, tells now what it would wait longer for.
func (w *playWatch) judge(now time.Time, tm verifyTimings, final bool) (cause string, ok bool, delay time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	i := 0
	for i < len(w.delays) && now.Sub(w.delays[i].at) > delayWindow {
		i++
	}
	w.delays = w.delays[i:]
	since := func(t time.Time, d time.Duration) bool { return final || now.Sub(t) >= d }
	switch {
	case w.first.IsZero():
		if since(w.start, tm.noPackets) {
			return "no packets for " + seconds(now.Sub(w.start)), false, 0
		}
		return "", false, 0
	case now.Sub(w.last) >= tm.noPackets:
		return "no packets for " + seconds(now.Sub(w.last)), false, 0
	case w.last.Sub(w.lastNew) >= tm.notOurs:
		return causeStandsStill, false, 0
	case w.firstOurs.IsZero():
		if since(w.first, tm.notOurs) {
			return causeNotOurs, false, 0
		}
		return "", false, 0
	case w.last.Sub(w.lastOurs) >= tm.notOurs:
		return causeNotOurs, false, 0
	case w.key == 2:
		return causeOtherKeyframe, false, 0
	case w.video && w.key == 0:
		if since(w.firstOurs, tm.noPackets) {
			return "no keyframe for " + seconds(now.Sub(w.firstOurs)), false, 0
		}
		return "", false, 0
	case w.audio && w.video && w.lastAudio.IsZero():
		if since(w.first, tm.noPackets) {
			return causeVideoOnly, false, 0
		}
		return "", false, 0
	case w.audio && w.video && now.Sub(w.lastAudio) >= tm.noPackets:
		return causeVideoOnly, false, 0
	case now.Sub(w.firstOurs) < tm.settle && !final:
		return "", false, 0
	case len(w.delays) == 0 && w.delay == 0 && now.Sub(w.firstOurs) < 2*tm.settle && !final:
		// the first figure, from frames after the first settle; a server that keeps our SSRC and
		// puts in timestamps of its own gives none, and is verified without one
		return "", false, 0
	}
	if len(w.delays) == 0 {
		// a pause of the frames (a hold that has not begun, a stalled push): the last figure
		return "", true, w.delay
	}
	for j, d := range w.delays {
		if j == 0 || d.delay < delay {
			delay = d.delay
		}
	}
	w.delay = delay
	return "", true, delay
}

// seconds writes a duration as the check's causes do: "10 s", "1.5 s"; whole seconds from 2 s
// on, so that a cause does not change with the poll's timing.
func seconds(d time.Duration) string {
	if d >= 2*time.Second {
		d = d.Truncate(time.Second)
	}
	return strconv.FormatFloat(d.Round(100*time.Millisecond).Seconds(), 'f', -1, 64) + " s"
}

// sentRingSize is how many frames' send times a destination keeps for the return check: over a
// minute at 25 fps, half a minute at 60, beyond any server's buffer (Darwin Streaming Server's
// reflector_buffer_size_sec is 10 s by default).
const sentRingSize = 2048

// sentTimes keeps the RTP timestamps of the frames a destination sent last, of its leading
// track, with when: the return check finds them in what the server plays back.
type sentTimes struct {
	mu   sync.Mutex
	base time.Time // of at, monotonic
	ts   [sentRingSize]uint32
	at   [sentRingSize]int64 // since base
	n    uint64              // frames added
}

// add notes a frame's timestamp, sent now.
func (s *sentTimes) add(ts uint32, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.base.IsZero() {
		s.base = now
	}
	if s.n > 0 && s.ts[(s.n-1)%sentRingSize] == ts {
		return // one more unit of the frame (an audio unit shares none)
	}
	i := s.n % sentRingSize
	s.ts[i], s.at[i] = ts, int64(now.Sub(s.base))
	s.n++
}

// lookup returns when the latest frame of timestamp ts was sent, if it is kept.
func (s *sentTimes) lookup(ts uint32) (time.Time, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	// newest first: what comes back is mostly what left last
	for k := uint64(0); k < min(s.n, sentRingSize); k++ {
		i := (s.n - 1 - k) % sentRingSize
		if s.ts[i] == ts {
			return s.base.Add(time.Duration(s.at[i])), true
		}
	}
	return time.Time{}, false
}
