// Package inject pushes a channel's frames to RTSP servers with ANNOUNCE, SETUP and RECORD, one
// gortsplib client per destination, each independent of the others.
package inject

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bluenviron/gortsplib/v4/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v4/pkg/format/rtpmpeg4audio"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
	"github.com/pion/rtp"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/ticks"
)

// Target is one destination of a channel.
type Target struct {
	// URL is rtsp://[user:password@]host[:port]/path (or rtsps), pushed with RTP;
	// rtmp://host[:port]/app[/stream] (or rtmps), pushed as FLV; or srt://host:port, MPEG-TS
	// over SRT in caller mode.
	URL string
	// StreamKey, for rtmp and rtmps, is the stream key (a platform's "stream name" or "key"):
	// the last element of the path the stream is published at, after URL's. It never shows in
	// logs, errors or Stats.
	StreamKey string
	// SRTLatency, for srt, is the receiver's latency buffer that SRT retransmits within; 0 is
	// libsrt's (120 ms).
	SRTLatency time.Duration
	// SRTPassphrase, for srt, encrypts the stream (AES); 10 to 79 characters; "" sends in the
	// clear. It never shows in logs, errors or Stats.
	SRTPassphrase string
	// SRTStreamID, for srt, is the stream ID the listener may ask for (e.g.
	// "#!::r=live/feed,m=publish").
	SRTStreamID string
	// Transport is "tcp" (default), "udp" or "auto".
	Transport string
	// User and Password, when User is set, take the place of credentials in URL.
	User, Password string
	// SessionName is the announced SDP session name; default the channel's name.
	SessionName string
	// Metadata is announced with the session.
	Metadata Metadata
	// TLSCA, for rtsps and rtmps, is PEM certificates of the authorities that sign the server's
	// certificate, in place of the system's.
	TLSCA string
	// TLSInsecure, for rtsps and rtmps, skips the check of the server's certificate.
	TLSInsecure bool
	// NoVerify turns the return check off: the stream is not played back from the server.
	NoVerify bool
	// VerifyURL is where the return check plays the stream, rtsp or rtsps; default URL. It
	// is played with the credentials of User and Password, or of URL, unless it has its own.
	VerifyURL string
	// VerifyEvery is 0 for a check that plays the stream all the time; else a short check
	// (until the stream is found, at most 15 s) is made that often, and its finding kept.
	VerifyEvery time.Duration
}

// settings are what every destination of a Fanout follows.
type settings struct {
	queueSize          int
	retryMin, retryMax time.Duration
	authRetry          time.Duration
	keepAlive          time.Duration
	// events hears of each destination's changes (see event.Sink); nil: nobody does.
	events event.Sink
	// heldRetry is the delay between tries while the server answers 412 (after two quick ones),
	// for at most heldFor; then the backoff takes over. Its jitter keeps it above a second (1.2
	// to 1.5 s): every refused SETUP leaves Darwin Streaming Server a session that times out
	// 20 s later, and the thread that ends the session of a broadcast that vanished (which frees
	// its name) puts its next look off to 1 s past the first deadline, then past every later one
	// that follows the one before within 1 s. With tries 0.8 to 1 s apart the stream came back
	// 25–38 s after a cut connection (21–41 s after a kill -9 and an immediate restart); with
	// 1.2 to 1.5 s, 22–23 s (21–23 s).
	heldRetry, heldFor time.Duration
	// readTimeout bounds each RTSP request's wait for its answer; 0 is gortsplib's 10 s.
	readTimeout time.Duration
	// healthyAfter is how long a session must record before a failure retries at the shortest
	// delay again. Time spent connecting does not count: a server that takes the connection and
	// never answers must see the delays grow.
	healthyAfter time.Duration
	// senderReports is the period of a session's RTCP sender reports.
	senderReports time.Duration
	// verify times the return checks.
	verify verifyTimings
	// ffmpeg is Fanout.FFmpeg.
	ffmpeg string
}

// unit is the RTP packets of one frame, shared read-only by every destination's goroutine.
type unit struct {
	// n numbers the units of a Fanout, one after the other: a destination sees a gap in what
	// it queued as a gap in n.
	n      uint64
	kind   demux.Kind
	key    bool
	params *demux.Params
	pkts   []*rtp.Packet
	ntp    time.Time // the capture time of the first packet
	// frame is the frame itself, for the destinations that send frames rather than RTP
	// (RTMP, SRT); nil while the Fanout has none (see Fanout.frames).
	frame *frameUnit
}

// Fanout packetizes a channel's frames once and offers the packets to every destination.
//
// The packetizers live as long as the Fanout, not a connection or an ffmpeg run: sequence numbers
// stay put, and RTP time keeps running across ffmpeg restarts (see Discontinuity), so the
// servers' players see a pause rather than a new stream. With a StateFile they go on across
// restarts of liveinject too (see channelClock and continuity). The SSRC is the destination's,
// set on the way out (see ssrc.go).
//
// WriteFrame and Discontinuity must be called from one goroutine, the channel's. Hold, LastLive,
// Stats and SetTargets may be called from any.
type Fanout struct {
	// Channel names the channel in logs, errors and the SDP session name.
	Channel string
	// Targets are the destinations to start with; SetTargets changes them.
	Targets []Target
	Logger  *slog.Logger
	// QueueSize bounds each destination's queue, in frames. Default 128 (about 2 s of
	// 25 fps video with its audio).
	QueueSize int
	// RetryMin and RetryMax bound the delay before a failed destination tries again: it
	// doubles from RetryMin up to RetryMax, with jitter inside RetryMax, and starts from
	// RetryMin again after a session that recorded 10 s. Defaults 250 ms and 30 s. A server
	// that refuses the connection is tried again at most refusedRetry (2 s) apart.
	RetryMin, RetryMax time.Duration
	// AuthRetry is the least delay after a server refused the credentials: the operator may be
	// fixing them, and a server must not see a client that keeps guessing. Default 30 s.
	AuthRetry time.Duration
	// KeepAlive is the longest time between two RTSP requests of a session over UDP, where
	// nothing else goes over the RTSP connection. Whole seconds; default 10 s, well inside the
	// 20 s after which Darwin Streaming Server drops a silent broadcaster.
	KeepAlive time.Duration
	// StateFile, when set, is where the channel's RTP sequence numbers and time are kept, so
	// that the next process goes on from them: without it a restart of liveinject starts new
	// sequence numbers, which players take for old packets and drop.
	StateFile string
	// OnEvent, if set, hears of the destinations' changes: recording, failed, verified,
	// unverified. It must not block.
	OnEvent event.Sink
	// Tap, if set, gets every frame of the source as it goes on air, at the channel time its
	// RTP goes out with (pts, dts), so that a recording is continuous across input switches
	// and ffmpeg restarts as the stream is: not the held pictures nor the silence the Fanout
	// makes itself. gap is set on the first frame after a hold (an outage). It is called from
	// WriteFrame's goroutine and must not block.
	Tap func(fr *demux.Frame, pts, dts int64, gap bool)
	// FFmpeg is the ffmpeg that SRT destinations send through (see srtPusher); default
	// "ffmpeg", from PATH.
	FFmpeg string

	cfg settings
	// heldRetry and heldFor, when set, replace the 412 retry delay (1.5 s) and how long it lasts
	// (1 min); readTimeout the client's 10 s wait for an answer; healthyAfter the 10 s of
	// recording after which a session counts as healthy; senderReports the 5 s between RTCP
	// sender reports; saveEvery the 1 s between saves of the StateFile. Tests shorten them.
	heldRetry, heldFor, readTimeout, healthyAfter, senderReports, saveEvery time.Duration
	// verifyTimings, where set, replace the return check's (see defaultVerifyTimings).
	verifyTimings verifyTimings

	ctx    context.Context // parent of every destination's context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// mu guards dests, which SetTargets replaces while WriteFrame offers to them.
	mu    sync.Mutex
	dests []*destination
	// frames is set while a destination sends frames rather than RTP (see pusher): the units
	// then carry a copy of their frame.
	frames atomic.Bool

	h264enc *rtph264.Encoder
	aacenc  *rtpmpeg4audio.Encoder
	// videoBase and audioBase are RTP time at channel time 0, derived from the channel's name:
	// the same in every process.
	videoBase uint32
	audioBase uint32
	// state keeps the sequence numbers and channel time for the next process.
	state *continuity

	params *demux.Params
	// clock places channel time on the wall clock; offset turns a run's timestamps into
	// channel time, which never goes back; last is the latest frame's channel time.
	clock   channelClock
	offset  int64
	last    int64
	started bool
	restart bool
	units   uint64 // the number of the last unit
	// next are the sequence numbers of the next packets, by demux.Kind, for the StateFile.
	next [2]uint16

	// wmu serializes WriteFrame and Hold, which come from the channel's ffmpeg loop and from
	// its owner; it guards the packetizers and the channel time above.
	wmu sync.Mutex
	// key is a copy of the latest keyframe, for Hold.
	key *demux.Frame
	// frameTicks is the time between the source's last two video frames of one run, in 90 kHz
	// ticks; lastVideo the source's last video frame's channel time.
	frameTicks, lastVideo int64
	// audioNext is where the next audio frame starts, in samples of channel time; valid once
	// audioSeen. Hold fills the time up to the held picture with silence from there.
	audioNext int64
	audioSeen bool
	// audioFloor is where the audio of the process before ended, in channel time (see
	// StateFile): audio from before it would take the track back.
	audioFloor int64
	// silence is one silent AAC frame in config silenceFor (see SetSilence), nil before it is
	// made; audioRejoin is set from a discontinuity or a hold to the next audio frame, whose
	// time the silence is filled up to, so that the audio track goes on without a hole.
	silence     []byte
	silenceFor  mpeg4audio.AudioSpecificConfig
	audioRejoin bool
	// lastLive is when WriteFrame last got a frame, as monotonic time since clock.start, plus
	// one; 0 before the first. A step of the wall clock must not look like a lost source.
	lastLive atomic.Int64
	// held is set by Hold, until a live frame rejoins; newRun by Discontinuity, until the next
	// run's first frame. While frames of a held run catch up, minLag is their least lag so
	// far, set at minLagAt (see rejoin).
	held, newRun, catchingUp bool
	// tapGap is set by Hold until the next live frame is tapped (see Tap).
	tapGap   bool
	minLag   time.Duration
	minLagAt time.Time
}

// Initialize creates the packetizers and starts one goroutine per destination.
func (f *Fanout) Initialize() error {
	if f.Logger == nil {
		f.Logger = slog.New(slog.DiscardHandler)
	}
	f.cfg = settings{
		queueSize:     cmp.Or(max(f.QueueSize, 0), 128),
		retryMin:      cmp.Or(max(f.RetryMin, 0), 250*time.Millisecond),
		retryMax:      cmp.Or(max(f.RetryMax, 0), 30*time.Second),
		authRetry:     cmp.Or(max(f.AuthRetry, 0), 30*time.Second),
		keepAlive:     cmp.Or(max(f.KeepAlive, 0), 10*time.Second),
		heldRetry:     cmp.Or(f.heldRetry, 1500*time.Millisecond),
		heldFor:       cmp.Or(f.heldFor, time.Minute),
		readTimeout:   f.readTimeout,
		healthyAfter:  cmp.Or(f.healthyAfter, 10*time.Second),
		senderReports: cmp.Or(f.senderReports, senderReportPeriod),
		events:        f.OnEvent,
		ffmpeg:        cmp.Or(f.FFmpeg, "ffmpeg"),
		verify: verifyTimings{
			noPackets: cmp.Or(f.verifyTimings.noPackets, defaultVerifyTimings.noPackets),
			notOurs:   cmp.Or(f.verifyTimings.notOurs, defaultVerifyTimings.notOurs),
			settle:    cmp.Or(f.verifyTimings.settle, defaultVerifyTimings.settle),
			timeout:   cmp.Or(f.verifyTimings.timeout, defaultVerifyTimings.timeout),
			retryMin:  cmp.Or(f.verifyTimings.retryMin, defaultVerifyTimings.retryMin),
			retryMax:  cmp.Or(f.verifyTimings.retryMax, defaultVerifyTimings.retryMax),
			poll:      cmp.Or(f.verifyTimings.poll, defaultVerifyTimings.poll),
		},
	}

	now := time.Now()
	f.clock = newChannelClock(now)
	f.videoBase, f.audioBase = rtpBase(f.Channel, demux.Video), rtpBase(f.Channel, demux.Audio)
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return err
	}
	vseq, aseq := binary.BigEndian.Uint16(r[0:]), binary.BigEndian.Uint16(r[2:])
	if f.StateFile != "" {
		f.state = &continuity{path: f.StateFile, every: cmp.Or(f.saveEvery, time.Second),
			log: f.Logger}
		if saved, ok := f.state.load(now); ok {
			vseq, aseq = saved.next[demux.Video], saved.next[demux.Audio]
			f.last, f.started = saved.time, saved.time != 0
			f.audioFloor, f.restart = saved.audioEnd, true
		}
	}
	f.next = [2]uint16{vseq, aseq}

	// The SSRCs the packetizers would put in are never seen: the client stamps its own into
	// every packet, and the destination its stable one over that (ssrc.go).
	f.h264enc = &rtph264.Encoder{
		PayloadType:           videoPayloadType,
		PacketizationMode:     1,
		InitialSequenceNumber: &vseq,
	}
	if err := f.h264enc.Init(); err != nil {
		return err
	}
	f.aacenc = &rtpmpeg4audio.Encoder{
		PayloadType:           audioPayloadType,
		SizeLength:            13,
		IndexLength:           3,
		IndexDeltaLength:      3,
		InitialSequenceNumber: &aseq,
	}
	if err := f.aacenc.Init(); err != nil {
		return err
	}

	for _, t := range f.Targets {
		d, err := newDestination(f.Channel, t, f.cfg, f.Logger)
		if err != nil {
			return fmt.Errorf("channel %q: %w", f.Channel, err)
		}
		f.dests = append(f.dests, d)
	}
	f.frames.Store(sendsFrames(f.dests))
	f.ctx, f.cancel = context.WithCancel(context.Background())
	for _, d := range f.dests {
		f.start(d)
	}
	if f.state != nil {
		f.wg.Go(func() { f.state.run(f.ctx, f.snapshot) })
	}
	return nil
}

// snapshot returns what the StateFile keeps, as of now.
func (f *Fanout) snapshot() savedState {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	s := savedState{next: f.next, time: f.last, audioEnd: f.audioFloor}
	if f.audioSeen && f.params != nil && f.params.Audio != nil {
		s.audioEnd = ticks.Scale(f.audioNext, ticks.Rate, int64(f.params.Audio.SampleRate))
	}
	return s
}

// start runs a destination in its own goroutine, and its return check in another, until it is
// stopped or the Fanout closes.
func (f *Fanout) start(d *destination) {
	ctx, cancel := context.WithCancel(f.ctx)
	d.ctx, d.stop = ctx, cancel
	d.done = make(chan struct{})
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		defer close(d.done)
		d.run(ctx)
	}()
	f.check(d, d.ver.Load())
}

// check starts v, the return check of the started destination d, in place of the one before,
// which stops.
func (f *Fanout) check(d *destination, v *verifier) {
	v.ctx, v.stop = context.WithCancel(d.ctx)
	if old := d.ver.Swap(v); old != v && old.stop != nil {
		old.stop()
	}
	if v.cfg.off {
		return
	}
	f.wg.Go(func() {
		defer v.stop()
		v.run(v.ctx)
	})
}

// SetTargets changes the destinations while the channel streams. A destination whose target is
// in both lists is left alone: same connection, no frame lost; one whose return check settings
// alone changed keeps its connection, and gets a new return check. New ones start at the next IDR;
// the ones no longer listed are torn down, all at once and without SetTargets waiting for them:
// a server that stopped reading holds its TEARDOWN up to teardownGrace, and the caller may be
// the one that keeps the channel's picture going meanwhile. Close waits for them. An invalid
// target changes nothing.
func (f *Fanout) SetTargets(targets []Target) error {
	f.mu.Lock()
	keep := make([]*destination, len(targets))
	left := slices.Clone(f.dests)
	for i, t := range targets {
		for j, d := range left {
			if d != nil && pushTarget(d.target) == pushTarget(t) {
				keep[i], left[j] = d, nil
				break
			}
		}
	}
	// new return checks, made before anything changes: an invalid verify URL changes nothing
	rechecks := map[*destination]*verifier{}
	for i, t := range targets {
		d := keep[i]
		if d == nil || d.ver.Load().cfg == verifyConfigOf(t) {
			continue
		}
		v, err := newVerifier(d, t, f.cfg.verify)
		if err != nil {
			f.mu.Unlock()
			return fmt.Errorf("channel %q: destination %s: %w", f.Channel, d.redacted, err)
		}
		rechecks[d] = v
	}
	var added []*destination
	for i, t := range targets {
		if keep[i] != nil {
			continue
		}
		d, err := newDestination(f.Channel, t, f.cfg, f.Logger)
		if err != nil {
			f.mu.Unlock()
			return fmt.Errorf("channel %q: %w", f.Channel, err)
		}
		keep[i] = d
		added = append(added, d)
	}
	for d, v := range rechecks {
		f.check(d, v)
		d.log.Info("return check changed", "verify", !v.cfg.off)
	}
	for _, d := range added {
		f.start(d)
		d.log.Info("destination added")
	}
	f.dests = keep
	f.frames.Store(sendsFrames(keep))
	f.Targets = slices.Clone(targets)
	f.mu.Unlock()

	for _, d := range left {
		if d == nil {
			continue
		}
		d.stop()
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			<-d.done
			d.log.Info("destination removed")
		}()
	}
	return nil
}

// sendsFrames tells whether one of dests sends frames rather than RTP.
func sendsFrames(dests []*destination) bool {
	return slices.ContainsFunc(dests, func(d *destination) bool { return d.push != nil })
}

// Close stops every destination, sending TEARDOWN to the ones that are connected, and waits;
// then it keeps the sequence numbers and channel time in the StateFile, for the next process.
func (f *Fanout) Close() {
	f.cancel()
	f.wg.Wait()
	if f.state != nil {
		f.state.close(f.snapshot())
	}
}

// Stats returns a snapshot of every destination's figures, in Targets order.
func (f *Fanout) Stats() []Stats {
	// The destinations' figures are read without the lock that WriteFrame takes.
	f.mu.Lock()
	dests := slices.Clone(f.dests)
	f.mu.Unlock()
	out := make([]Stats, len(dests))
	for i, d := range dests {
		out[i] = d.stats()
	}
	return out
}

// Discontinuity tells the Fanout that the next frame comes from a new ffmpeg run whose timestamps
// start afresh. Channel time then resumes at the time of that frame's arrival.
func (f *Fanout) Discontinuity() {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.restart, f.newRun, f.audioRejoin = true, true, true
}

// SetSilence gives the Fanout one silent AAC frame in config cfg: when the audio of a new run or
// of a live source after a hold starts later than where the track is, the hole is filled with
// it, whole frames, and players hear no break (a switch of inputs, a restart of ffmpeg).
func (f *Fanout) SetSilence(cfg *mpeg4audio.AudioSpecificConfig, frame []byte) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	f.silence, f.silenceFor = frame, *cfg
}

// WriteFrame packetizes a frame and offers it to every destination. It never blocks on a
// destination: one that cannot keep up drops frames until the next IDR.
func (f *Fanout) WriteFrame(fr *demux.Frame) error {
	now := time.Now()
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.held && !f.rejoin(fr, now) {
		return nil
	}
	f.newRun = false
	if fr.Kind == demux.Video && fr.Key {
		f.keepKey(fr)
	}
	f.lastLive.Store(int64(f.clock.since(now)) + 1)
	return f.write(fr, now)
}

// How frames of a run that was held rejoin: once their lag (arrival time less timestamp) has
// not fallen by more than backlogStep for backlogSettle.
const (
	backlogStep   = 100 * time.Millisecond
	backlogSettle = 500 * time.Millisecond
)

// rejoin tells whether a frame that comes while the channel holds ends the hold; wmu is held.
//
// Live video resumes at a keyframe only: the held keyframe has reset the players' decoders, and
// a frame that refers to frames before it would not decode. And a source that was stopped
// rather than restarted (SIGSTOP, a stalled read) may first deliver what it buffered meanwhile,
// in a burst: those frames would play fast-forward, so the hold goes on until frames come at
// their own pace again, which shows as their lag no longer falling. A new run (Discontinuity)
// starts at a keyframe with nothing buffered, and rejoins at once. Frames that do not rejoin
// are dropped, and do not count as live: the hold goes on.
func (f *Fanout) rejoin(fr *demux.Frame, now time.Time) bool {
	if !f.newRun {
		lag := f.clock.since(now) - ticks.Duration(fr.DTS)
		if !f.catchingUp || lag < f.minLag-backlogStep {
			f.catchingUp, f.minLag, f.minLagAt = true, lag, now
		}
		if now.Sub(f.minLagAt) < backlogSettle {
			return false
		}
	}
	if fr.Kind != demux.Video || !fr.Key {
		return false // only a channel with video holds
	}
	f.held, f.catchingUp = false, false
	return true
}

// ErrNothingToHold is Hold's answer while the channel has sent no keyframe yet.
var ErrNothingToHold = errors.New("no keyframe yet: nothing to hold")

// Hold sends the channel's last keyframe again, with SPS and PPS, at channel time now: while
// the source is gone (ffmpeg crashed, stalled, restarting) the sessions stay and their viewers
// see the last picture instead of losing the stream. Frames that come afterwards resume after
// the held ones, on the same sessions. silence, when not nil, is one AAC frame of silence in the
// channel's AudioSpecificConfig (see AudioConfig): the audio track gets it up to the held
// picture's time, so that players keep both tracks going; without it the audio pauses.
func (f *Fanout) Hold(now time.Time, silence []byte) error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.key == nil {
		return ErrNothingToHold
	}
	// channel time goes on with the wall clock, for this frame and for the next live one
	f.restart = true
	err := f.write(f.key, now)
	f.restart, f.held, f.audioRejoin, f.tapGap = true, true, true, true
	if err != nil || silence == nil || !f.audioSeen || f.params.Audio == nil {
		return err
	}
	return f.writeSilence(silence, ticks.Scale(f.last, int64(f.params.Audio.SampleRate), ticks.Rate))
}

// FillSilence sends the channel's silence (see SetSilence) on the audio track up to the time
// of the latest video frame: for an input without sound put on air in a channel with audio,
// whose frames carry the channel's audio config, so that the track goes on and no new ANNOUNCE
// drops it. It does nothing before the channel has had audio, or without silence in its config.
func (f *Fanout) FillSilence() error {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.silence == nil || !f.audioSeen || f.params == nil || f.params.Audio == nil || f.silenceFor != *f.params.Audio {
		return nil
	}
	return f.writeSilence(f.silence, ticks.Scale(f.last, int64(f.params.Audio.SampleRate), ticks.Rate))
}

// maxSilence bounds the silence one Hold sends, in frames: about 4 s at 48 kHz.
const maxSilence = 200

// writeSilence sends silent AAC frames from where the audio stopped up to target, in samples
// of channel time (the time of the held picture just written, or of the next live audio);
// wmu is held.
func (f *Fanout) writeSilence(silence []byte, target int64) error {
	rate := int64(f.params.Audio.SampleRate)
	n := (target - f.audioNext) / 1024
	if n <= 0 {
		return nil
	}
	if n > maxSilence {
		f.audioNext += (n - maxSilence) * 1024
		n = maxSilence
	}
	frames := make([][]byte, n)
	for i := range frames {
		frames[i] = silence
	}
	pkts, err := f.aacenc.Encode(frames)
	if err != nil {
		return fmt.Errorf("channel %q: packetizing silence: %w", f.Channel, err)
	}
	ts := uint32(int64(f.audioBase) + f.audioNext)
	for _, p := range pkts {
		p.Timestamp += ts
	}
	f.units++
	at := ticks.Scale(f.audioNext, ticks.Rate, rate)
	u := &unit{n: f.units, kind: demux.Audio, params: f.params, pkts: pkts, ntp: f.clock.ntp(at, time.Now())}
	if f.frames.Load() {
		u.frame = &frameUnit{data: frames, pts: at, dts: at} // silence is never written to
	}
	f.audioNext += n * 1024
	f.next[demux.Audio] = pkts[len(pkts)-1].SequenceNumber + 1
	f.offer(u)
	return nil
}

// AudioConfig returns the AudioSpecificConfig of the channel's audio, nil before its first
// audio frame or without audio.
func (f *Fanout) AudioConfig() *mpeg4audio.AudioSpecificConfig {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.params == nil {
		return nil
	}
	return f.params.Audio
}

// LastLive returns when the latest frame came through WriteFrame, with its monotonic reading;
// zero before the first.
func (f *Fanout) LastLive() time.Time {
	if n := f.lastLive.Load(); n != 0 {
		return f.clock.start.Add(time.Duration(n - 1))
	}
	return time.Time{}
}

// keepKey keeps a copy of a keyframe for Hold: the demuxer's buffers are its own.
func (f *Fanout) keepKey(fr *demux.Frame) {
	data := make([][]byte, len(fr.Data))
	for i, n := range fr.Data {
		data[i] = bytes.Clone(n)
	}
	f.key = &demux.Frame{Kind: demux.Video, Key: true, Data: data, Params: fr.Params}
}

// write packetizes a frame at time now and offers it to every destination; wmu is held.
func (f *Fanout) write(fr *demux.Frame, now time.Time) error {
	restarted := f.restart || !f.started
	if restarted {
		// The frame was captured now: channel time goes on at the clock's time, but at least a
		// frame after the last one (players and muxers count in frames, and two frames on one
		// tick would be one frame too many), for the time of a source that ran ahead of the
		// clock cannot be taken back.
		at := f.clock.at(now)
		if f.started {
			at = max(at, f.last+max(f.frameTicks, 1))
		}
		f.offset = at - fr.DTS
		f.clock.anchor(at, f.anchorTime(at, now))
		f.started = true
	}
	f.restart = false

	if !f.params.Equal(fr.Params) {
		if f.params == nil || fr.Params.Audio == nil || f.params.Audio == nil || *f.params.Audio != *fr.Params.Audio {
			f.audioSeen = false // audioNext counts samples of the old audio
		}
		f.params = fr.Params
	}

	pts := fr.PTS + f.offset
	if fr.Kind == demux.Audio && f.params.Audio != nil {
		// After a restart or a hold the new source's first audio frames can come before where
		// the audio track already is (its audio leads its video): they would take it back.
		rate := int64(f.params.Audio.SampleRate)
		samples := ticks.Scale(pts, rate, ticks.Rate)
		if (f.audioSeen && samples+512 < f.audioNext) || samples+512 < ticks.Scale(f.audioFloor, rate, ticks.Rate) {
			return nil
		}
		if f.audioRejoin && f.audioSeen && f.silence != nil && f.silenceFor == *f.params.Audio {
			if err := f.writeSilence(f.silence, samples); err != nil {
				return err
			}
		}
		f.audioRejoin = false
	}
	f.units++
	u := &unit{
		n:      f.units,
		kind:   fr.Kind,
		params: f.params,
		ntp:    f.clock.ntp(pts, now),
	}

	var err error
	switch fr.Kind {
	case demux.Video:
		u.key = fr.Key
		au := fr.Data
		if fr.Key {
			au = withParameterSets(au, f.params)
		}
		u.pkts, err = f.h264enc.Encode(au)
		if f.frames.Load() {
			u.frame = newFrameUnit(au, pts, fr.DTS+f.offset)
		}
		if dts := fr.DTS + f.offset; fr != f.key {
			// the frame time of the source, between two of its frames in one run
			if !restarted && f.lastVideo != 0 && dts > f.lastVideo {
				f.frameTicks = dts - f.lastVideo
			}
			f.lastVideo = dts
		}
		ts := uint32(int64(f.videoBase) + pts)
		for _, p := range u.pkts {
			p.Timestamp = ts
		}
		if len(u.pkts) > 0 {
			f.next[demux.Video] = u.pkts[len(u.pkts)-1].SequenceNumber + 1
		}
	case demux.Audio:
		// Without video every audio frame is a place to start.
		u.key = f.params.SPS == nil
		u.pkts, err = f.aacenc.Encode(fr.Data)
		if f.frames.Load() {
			u.frame = newFrameUnit(fr.Data, pts, pts)
		}
		rate := int64(f.params.Audio.SampleRate)
		samples := ticks.Scale(pts, rate, ticks.Rate)
		ts := uint32(int64(f.audioBase) + samples)
		for _, p := range u.pkts {
			p.Timestamp += ts
		}
		if len(u.pkts) > 0 {
			f.next[demux.Audio] = u.pkts[len(u.pkts)-1].SequenceNumber + 1
		}
		f.audioNext, f.audioSeen = samples+1024*int64(len(fr.Data)), true
	}
	if err != nil {
		return fmt.Errorf("channel %q: packetizing %s: %w", f.Channel, fr.Kind, err)
	}

	f.last = max(f.last, fr.DTS+f.offset)
	f.offer(u)
	if f.Tap != nil && fr != f.key {
		dts := pts
		if fr.Kind == demux.Video {
			dts = fr.DTS + f.offset
		}
		f.Tap(fr, pts, dts, f.tapGap)
		f.tapGap = false
	}
	return nil
}

// maxReportLead is how far ahead of the wall clock the sender reports' time may stay at a
// discontinuity rather than go back (see anchorTime).
const maxReportLead = time.Second

// anchorTime returns when channel time at, the first frame of a new run, counts as captured:
// now, unless the sender reports so far put it later, by less than maxReportLead. Players and
// recorders (ffmpeg) time the stream by the latest report, so a report whose time went back
// against the RTP time would take their timestamps back: at each switch of inputs the time
// moved by the difference of the inputs' delays (0.1 s between an IP camera and a file, on
// DSS), and recordings got audio going back at the next report. A larger lead (a backlog
// written at once) is dropped, as the reports would otherwise stay that far ahead.
func (f *Fanout) anchorTime(at int64, now time.Time) time.Time {
	if !f.started {
		return now
	}
	if lead := f.clock.ntp(at, now).Sub(now); lead > 0 && lead < maxReportLead {
		return now.Add(lead)
	}
	return now
}

// packetNTP returns the capture time of the unit's i-th packet, whose clock runs at rate: the
// unit's, moved on by the packet's RTP time after the first one (the packets of an audio unit
// that several AAC frames fill each start at their own frame).
func (u *unit) packetNTP(i, rate int) time.Time {
	d := int64(u.pkts[i].Timestamp - u.pkts[0].Timestamp)
	if d == 0 {
		return u.ntp
	}
	return u.ntp.Add(time.Duration(ticks.Scale(d, int64(time.Second), int64(rate))))
}

// offer hands a unit to every destination.
func (f *Fanout) offer(u *unit) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.dests {
		d.offer(u)
	}
}

// withParameterSets puts SPS and PPS in front of an IDR that lacks them, so that a destination
// starting there (after a connect or a drop) has them in band.
func withParameterSets(au [][]byte, p *demux.Params) [][]byte {
	if hasSPS, hasPPS := demux.ParameterSetsIn(au); hasSPS && hasPPS {
		return au
	}
	out := make([][]byte, 0, len(au)+2)
	out = append(out, p.SPS, p.PPS)
	for _, n := range au {
		if t := naluType(n); t != h264.NALUTypeSPS && t != h264.NALUTypePPS {
			out = append(out, n)
		}
	}
	return out
}

func naluType(n []byte) h264.NALUType {
	if len(n) == 0 {
		return 0
	}
	return h264.NALUType(n[0] & 0x1f)
}
