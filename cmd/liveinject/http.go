package main

import (
	"cmp"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/supervisor"
)

// The HTTP server's timeouts. A phone's dashboard polls every 2 s on one connection; a client
// that keeps a connection open and says nothing loses it after httpIdleTimeout, so idle clients
// cannot pile up open files.
const (
	httpReadTimeout  = 30 * time.Second
	httpWriteTimeout = 30 * time.Second
	httpIdleTimeout  = 60 * time.Second
)

// httpServer serves a running instance's dashboard (/), /status (JSON), /metrics (Prometheus),
// /healthz, channel thumbnails and the control requests. Its responses are computed from the
// supervisor's and the relay's snapshots at request time, but for two caches of its own: each
// channel's last thumbnail and the rates of the last minutes (history). Destination URLs come
// redacted from inject.
type httpServer struct {
	Address string // TCP listen address; port 0 picks a free port
	// User and Password, when User is set, are the basic auth credentials every request needs.
	User, Password string
	Instance       *instance
	Logger         *slog.Logger
	// ReadTimeout, WriteTimeout and IdleTimeout are the http.Server's; zero means the defaults
	// above.
	ReadTimeout, WriteTimeout, IdleTimeout time.Duration

	version, revision string
	srv               *http.Server
	addr              string
	done              chan struct{} // closed when Serve has returned
	thumbs            *thumbnailer
	hist              *history
	stopBackground    context.CancelFunc
	background        sync.WaitGroup
}

// Initialize binds the listener and starts serving.
func (s *httpServer) Initialize() error {
	l, err := net.Listen("tcp", s.Address)
	if err != nil {
		return fmt.Errorf("http: listening on %s: %w", s.Address, err)
	}
	s.addr = l.Addr().String()
	s.version, s.revision = buildVersion()
	sup := s.Instance.sup
	s.thumbs = newThumbnailer(sup.FFmpeg, sup.Keyframe)
	s.hist = &history{Status: sup.Status, Interval: historyInterval, Span: historySpan}

	// A private registry: nothing but what this instance registers is scraped.
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newCollector(s.Instance, s.version, s.revision, s.hist, s.thumbs),
	)
	errLog := slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", s.serveStatus)
	// ContinueOnError: one bad metric (two destinations whose redacted URLs are the same) must
	// not cost the whole scrape.
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      errLog,
		ErrorHandling: promhttp.ContinueOnError,
	}))
	mux.HandleFunc("GET /healthz", s.serveHealth)
	mux.HandleFunc("POST /channels/{name}/restart", s.serveRestart)
	mux.HandleFunc("GET /channels/{name}/thumbnail.jpg", s.serveThumbnail)
	mux.HandleFunc("GET /history", s.serveHistory)
	mux.HandleFunc("GET /{$}", s.serveDashboard)
	mux.Handle("GET /assets/", s.serveAssets())

	s.srv = &http.Server{
		Handler:           s.authorize(mux),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cmp.Or(s.ReadTimeout, httpReadTimeout),
		WriteTimeout:      cmp.Or(s.WriteTimeout, httpWriteTimeout),
		IdleTimeout:       cmp.Or(s.IdleTimeout, httpIdleTimeout),
		ErrorLog:          errLog,
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stopBackground = cancel
	s.background.Go(func() { s.hist.Run(ctx) })
	s.background.Go(func() { s.pruneThumbnails(ctx) })
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		s.srv.Serve(l) //nolint:errcheck // always http.ErrServerClosed, after Close
	}()
	s.Logger.Info("http listening", "address", s.addr, "basic_auth", s.User != "")
	return nil
}

// Addr returns the bound address, such as "127.0.0.1:7580". It is valid after Initialize.
func (s *httpServer) Addr() string {
	return s.addr
}

// Close lets the requests in progress finish for a moment, then cuts them off; every goroutine of
// the server has ended when it returns.
func (s *httpServer) Close() {
	// Thumbnails being decoded fail at once rather than hold their requests past the grace.
	s.thumbs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		s.srv.Close() //nolint:errcheck // closing is all that is left to do
	}
	<-s.done
	s.stopBackground()
	s.background.Wait()
	s.Logger.Info("http closed", "address", s.addr)
}

// authorize asks for the basic auth credentials when the endpoint has them.
func (s *httpServer) authorize(next http.Handler) http.Handler {
	if s.User == "" {
		return next
	}
	// Comparing hashes takes as long whatever the length of what is guessed.
	wantUser, wantPassword := sha256.Sum256([]byte(s.User)), sha256.Sum256([]byte(s.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, password, ok := r.BasicAuth()
		gotUser, gotPassword := sha256.Sum256([]byte(user)), sha256.Sum256([]byte(password))
		userOK := subtle.ConstantTimeCompare(gotUser[:], wantUser[:])
		passwordOK := subtle.ConstantTimeCompare(gotPassword[:], wantPassword[:])
		if !ok || userOK&passwordOK != 1 {
			s.Logger.Debug("unauthorized request", "remote", r.RemoteAddr, "path", r.URL.Path)
			w.Header().Set("WWW-Authenticate", `Basic realm="liveinject", charset="UTF-8"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// statusReport is the JSON of GET /status, which the status command reads back. Its field names
// are a documented interface (README, Operations): add fields, do not rename them.
type statusReport struct {
	Version       string          `json:"version"`
	Revision      string          `json:"revision"` // "" when the build did not record it
	Started       time.Time       `json:"started"`
	UptimeSeconds float64         `json:"uptime_seconds"`
	Channels      []channelReport `json:"channels"`
	Relay         *relayReport    `json:"relay"` // null without the built-in relay
	// ProfileErrors are the mistakes of the files left out or kept at their last good version.
	ProfileErrors []string `json:"profile_errors"`
	// ConfigWatch is "fsnotify" while edits are seen as they happen, else "polling: WHY".
	ConfigWatch string `json:"config_watch"`
}

type channelReport struct {
	Name         string         `json:"name"`
	File         string         `json:"file"`
	State        string         `json:"state"`
	Since        *time.Time     `json:"since"` // null until the channel reports a state
	StateSeconds float64        `json:"state_seconds"`
	FFmpegPID    int            `json:"ffmpeg_pid"`
	FFmpegStarts uint64         `json:"ffmpeg_starts"`
	Stalls       uint64         `json:"stalls"`
	Frames       uint64         `json:"frames"`       // video frames, over the channel's life
	AudioFrames  uint64         `json:"audio_frames"` // audio frames, over the channel's life
	DemuxErrors  uint64         `json:"demux_errors"`
	Progress     progressReport `json:"progress"`
	Cause        string         `json:"cause"` // why ffmpeg last ended, in a few words
	LastCause    string         `json:"last_cause"`
	LastCauseAt  *time.Time     `json:"last_cause_at"` // when the cause was set; null before the first
	LastStderr   []string       `json:"last_stderr"`
	RetryAt      *time.Time     `json:"retry_at"` // set in state backoff
	// HoldingSince is when the last frame came while the destinations get its last keyframe
	// again; null when frames come. HeldSeconds is all the time held, this hold included.
	HoldingSince *time.Time          `json:"holding_since"`
	HeldSeconds  float64             `json:"held_seconds"`
	Destinations []destinationReport `json:"destinations"`
}

// progressReport is what the running ffmpeg last reported of its encoding; zero when none runs.
type progressReport struct {
	Frame       uint64  `json:"frame"`
	FPS         float64 `json:"fps"`
	BitrateKbps float64 `json:"bitrate_kbps"`
	Speed       float64 `json:"speed"`
	DropFrames  uint64  `json:"drop_frames"`
	DupFrames   uint64  `json:"dup_frames"`
}

type destinationReport struct {
	URL            string     `json:"url"` // password replaced by "xxxxx"
	State          string     `json:"state"`
	Transport      string     `json:"transport"`       // "tcp" or "udp" while recording
	ConnectedSince *time.Time `json:"connected_since"` // set while recording
	RetryAt        *time.Time `json:"retry_at"`        // set in states backoff and auth_failed
	Reconnects     uint64     `json:"reconnects"`      // sessions re-established
	FailedAttempts uint64     `json:"failed_attempts"` // tries that never recorded
	LastError      string     `json:"last_error"`
	PacketsSent    uint64     `json:"packets_sent"`
	PacketsDropped uint64     `json:"packets_dropped"`
	BytesSent      uint64     `json:"bytes_sent"`
	QueueDepth     int        `json:"queue_depth"`
}

type relayReport struct {
	Address string       `json:"address"`
	Paths   []pathReport `json:"paths"`
}

type pathReport struct {
	Path            string `json:"path"`
	Publishing      bool   `json:"publishing"`
	Readers         int    `json:"readers"`
	PacketsReceived uint64 `json:"packets_received"`
}

// report takes the snapshot that GET /status shows. Lists are empty rather than null, so that
// readers can rely on every field.
func (s *httpServer) report() statusReport {
	inst := s.Instance
	now := time.Now()
	r := statusReport{
		Version:       s.version,
		Revision:      s.revision,
		Started:       inst.started,
		UptimeSeconds: now.Sub(inst.started).Seconds(),
		Channels:      []channelReport{},
		ProfileErrors: []string{},
	}
	if errs := inst.profileErrors.Load(); errs != nil {
		r.ProfileErrors = append(r.ProfileErrors, *errs...)
	}
	r.ConfigWatch = "fsnotify"
	if why := inst.watcher.Polling(); why != "" {
		r.ConfigWatch = "polling: " + why
	}
	for _, c := range inst.sup.Status() {
		cr := channelReport{
			Name:         c.Name,
			File:         c.File,
			State:        c.State,
			FFmpegPID:    c.PID,
			FFmpegStarts: c.Starts,
			Stalls:       c.Stalls,
			Frames:       c.Frames,
			AudioFrames:  c.AudioFrames,
			DemuxErrors:  c.DemuxErrors,
			Progress: progressReport{
				Frame:       c.Progress.Frame,
				FPS:         c.Progress.FPS,
				BitrateKbps: c.Progress.BitrateKbps,
				Speed:       c.Progress.Speed,
				DropFrames:  c.Progress.DropFrames,
				DupFrames:   c.Progress.DupFrames,
			},
			Cause:        c.Cause,
			LastCause:    c.LastCause,
			LastStderr:   append([]string{}, c.LastStderr...),
			Destinations: make([]destinationReport, len(c.Destinations)),
		}
		if !c.Since.IsZero() {
			cr.Since, cr.StateSeconds = &c.Since, now.Sub(c.Since).Seconds()
		}
		if !c.LastCauseAt.IsZero() {
			cr.LastCauseAt = &c.LastCauseAt
		}
		if c.State == supervisor.StateBackoff && !c.RetryAt.IsZero() {
			cr.RetryAt = &c.RetryAt
		}
		cr.HeldSeconds = heldFor(c, now).Seconds()
		if !c.HoldingSince.IsZero() {
			cr.HoldingSince = &c.HoldingSince
		}
		for i, d := range c.Destinations {
			cr.Destinations[i] = destinationReport{
				URL:            d.URL,
				State:          d.State,
				Transport:      d.Transport,
				Reconnects:     d.Reconnects,
				FailedAttempts: d.FailedAttempts,
				LastError:      d.LastError,
				PacketsSent:    d.PacketsSent,
				PacketsDropped: d.PacketsDropped,
				BytesSent:      d.BytesSent,
				QueueDepth:     d.QueueDepth,
			}
			if !d.ConnectedSince.IsZero() {
				cr.Destinations[i].ConnectedSince = &d.ConnectedSince
			}
			if !d.RetryAt.IsZero() {
				cr.Destinations[i].RetryAt = &d.RetryAt
			}
		}
		r.Channels = append(r.Channels, cr)
	}
	if inst.relay != nil {
		r.Relay = &relayReport{Address: inst.relayAddr, Paths: []pathReport{}}
		for _, p := range inst.relay.Paths() {
			r.Relay.Paths = append(r.Relay.Paths, pathReport{
				Path:            p.Path,
				Publishing:      p.Publishing,
				Readers:         p.Readers,
				PacketsReceived: p.Packets,
			})
		}
	}
	return r
}

func (s *httpServer) serveStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, s.report(), "  ")
}

// writeJSON answers with v as JSON, its lines indented by indent ("" for one line).
func writeJSON(w http.ResponseWriter, v any, indent string) {
	b, err := json.MarshalIndent(v, "", indent)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(append(b, '\n')) //nolint:errcheck // the client went away
}

// serveHealth answers 200 "ok" while every channel runs and every destination records, and 503
// with one line for each that does not.
func (s *httpServer) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	// Before the supervisor has started them, the channels are not in its status yet: a box that
	// has just come up is not healthy for having none.
	problems := []string{"channels: starting"}
	if s.Instance.sup.Started() {
		problems = unhealthy(s.Instance.sup.Status())
	}
	if errs := s.Instance.profileErrors.Load(); errs != nil {
		for _, e := range *errs {
			problems = append(problems, "profile error: "+e)
		}
	}
	if why := s.Instance.watcher.Polling(); why != "" {
		problems = append(problems, "config files: fsnotify cannot watch them ("+why+"): read on a timer instead")
	}
	if len(problems) == 0 {
		fmt.Fprintln(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintln(w, strings.Join(problems, "\n"))
}

// controlHeader must be on every control request. A browser sends no custom header across
// origins without asking the server first (a CORS preflight, which gets nothing here), so a page
// of another site cannot make the operator's browser restart a channel.
const controlHeader = "X-Liveinject-Control"

// serveRestart restarts a channel's ffmpeg at once: POST /channels/NAME/restart.
func (s *httpServer) serveRestart(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(controlHeader) == "" {
		http.Error(w, "control requests need the "+controlHeader+" header", http.StatusForbidden)
		return
	}
	name := r.PathValue("name")
	if err := s.Instance.sup.Restart(name); err != nil {
		code := http.StatusNotFound
		if _, ok := errors.AsType[*supervisor.NotRunnableError](err); ok {
			code = http.StatusConflict
		}
		http.Error(w, err.Error(), code)
		return
	}
	s.Logger.Info("channel restart requested", "channel", name, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusAccepted)
	fmt.Fprintf(w, "restarting %s\n", name)
}

// unhealthy says what of channels is not running or recording: "channel NAME: STATE: cause" and
// "channel NAME destination URL: STATE: error".
func unhealthy(channels []supervisor.Status) []string {
	var out []string
	problem := func(what, state, cause string) {
		if cause != "" {
			state += ": " + cause
		}
		out = append(out, what+": "+state)
	}
	for _, c := range channels {
		if c.State != supervisor.StateRunning {
			problem("channel "+c.Name, c.State, c.LastCause)
		}
		if !c.HoldingSince.IsZero() {
			problem("channel "+c.Name, "holding", "no frame since "+c.HoldingSince.UTC().Format(time.RFC3339))
		}
		for _, d := range c.Destinations {
			if d.State != inject.StateRecording {
				problem("channel "+c.Name+" destination "+d.URL, d.State, d.LastError)
			}
		}
	}
	return out
}

// heldFor returns how long a channel has held its last picture, the hold going on included.
func heldFor(c supervisor.Status, now time.Time) time.Duration {
	if c.HoldingSince.IsZero() {
		return c.Held
	}
	return c.Held + now.Sub(c.HoldingSince)
}

// collector turns the supervisor's and the relay's snapshots into metrics at scrape time.
type collector struct {
	inst              *instance
	version, revision string
	hist              *history
	thumbs            *thumbnailer

	buildInfo, profileErrors, thumbnailDecodes                              *prometheus.Desc
	channelUp, channelState, ffmpegStarts, stalls, frames, audioFrames      *prometheus.Desc
	demuxErrors, fps, speed, bitrate, lastFrame, holding, held              *prometheus.Desc
	destinationUp, destinationState, packetsSent, packetsDropped, sentBytes *prometheus.Desc
	reconnects, failedAttempts, queued                                      *prometheus.Desc
	relayReaders, relayPackets                                              *prometheus.Desc
}

// The states of channel_state and destination_state: every one is exported, 1 for the current.
var (
	channelStates = []string{supervisor.StateStarting, supervisor.StateRunning, supervisor.StateBackoff,
		supervisor.StateStopped, supervisor.StateError}
	destinationStates = []string{inject.StateWaiting, inject.StateConnecting, inject.StateRecording,
		inject.StateBackoff, inject.StateAuthFailed, inject.StateStopped}
)

func newCollector(inst *instance, version, revision string, hist *history, thumbs *thumbnailer) *collector {
	desc := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("liveinject_"+name, help, labels, nil)
	}
	ch, dest := []string{"channel"}, []string{"channel", "destination"}
	return &collector{
		inst:     inst,
		version:  version,
		revision: revision,
		hist:     hist,
		thumbs:   thumbs,

		buildInfo:        desc("build_info", "Always 1; the labels say which liveinject runs: its version and VCS revision (\"\" when the build did not record it).", "version", "revision"),
		profileErrors:    desc("profile_errors", "Mistakes in config and profile files kept at their last good version."),
		thumbnailDecodes: desc("thumbnail_decodes_total", "ffmpeg runs that decoded a channel's keyframe for a thumbnail."),

		channelUp:    desc("channel_up", "1 while the channel's ffmpeg delivers frames.", ch...),
		channelState: desc("channel_state", "1 for the channel's state (starting, running, backoff, stopped, error), 0 for the others.", "channel", "state"),
		ffmpegStarts: desc("channel_ffmpeg_starts_total", "ffmpeg starts of the channel; each after the first is a restart.", ch...),
		stalls:       desc("channel_stalls_total", "ffmpeg restarts because frames stopped coming.", ch...),
		frames:       desc("channel_frames_total", "Video frames handed to the channel's destinations.", ch...),
		audioFrames:  desc("channel_audio_frames_total", "Audio frames handed to the channel's destinations.", ch...),
		demuxErrors:  desc("channel_demux_errors_total", "Damage in the channel's MPEG-TS that the demuxer recovered from.", ch...),
		fps:          desc("channel_fps", "Frames per second ffmpeg last reported encoding; 0 when none runs.", ch...),
		speed:        desc("channel_speed", "ffmpeg's encoding speed as a ratio to real time; below 1 the box cannot keep up.", ch...),
		bitrate:      desc("channel_bitrate_bits_per_second", "Bits per second the channel's busiest destination sent over the last sampling interval (2 s).", ch...),
		lastFrame:    desc("channel_last_frame_timestamp_seconds", "Unix time of the last frame the channel's ffmpeg delivered; absent before the first.", ch...),
		holding:      desc("channel_holding", "1 while the channel's frames have stopped and its destinations get its last picture again.", ch...),
		held:         desc("channel_held_seconds_total", "Time the channel's destinations got its last picture again, its frames having stopped.", ch...),

		destinationUp:    desc("destination_up", "1 while the destination is recording.", dest...),
		destinationState: desc("destination_state", "1 for the destination's state (waiting, connecting, recording, backoff, auth_failed, stopped), 0 for the others.", "channel", "destination", "state"),
		packetsSent:      desc("destination_packets_sent_total", "RTP packets written to the destination's server.", dest...),
		packetsDropped:   desc("destination_packets_dropped_total", "RTP packets the destination threw away.", dest...),
		sentBytes:        desc("destination_sent_bytes_total", "RTP and RTCP bytes written to the destination's server.", dest...),
		reconnects:       desc("destination_reconnects_total", "Sessions of the destination re-established after one ended.", dest...),
		failedAttempts:   desc("destination_failed_attempts_total", "Tries of the destination that never began to record.", dest...),
		queued:           desc("destination_queued_frames", "Frames waiting in the destination's queue.", dest...),

		relayReaders: desc("relay_readers", "Players reading the built-in relay's path.", "path"),
		relayPackets: desc("relay_packets_received_total", "RTP packets the built-in relay's path received from its publisher.", "path"),
	}
}

func (c *collector) descs() []*prometheus.Desc {
	return []*prometheus.Desc{
		c.buildInfo, c.profileErrors, c.thumbnailDecodes,
		c.channelUp, c.channelState, c.ffmpegStarts, c.stalls, c.frames, c.audioFrames,
		c.demuxErrors, c.fps, c.speed, c.bitrate, c.lastFrame, c.holding, c.held,
		c.destinationUp, c.destinationState, c.packetsSent, c.packetsDropped, c.sentBytes,
		c.reconnects, c.failedAttempts, c.queued,
		c.relayReaders, c.relayPackets,
	}
}

// Describe implements prometheus.Collector.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs() {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	gauge(c.buildInfo, 1, c.version, c.revision)
	var profileErrors int
	if errs := c.inst.profileErrors.Load(); errs != nil {
		profileErrors = len(*errs)
	}
	gauge(c.profileErrors, float64(profileErrors))
	counter(c.thumbnailDecodes, c.thumbs.Decodes())
	now := time.Now()
	for _, s := range c.inst.sup.Status() {
		gauge(c.channelUp, one(s.State == supervisor.StateRunning), s.Name)
		for _, state := range channelStates {
			gauge(c.channelState, one(s.State == state), s.Name, state)
		}
		counter(c.ffmpegStarts, s.Starts, s.Name)
		counter(c.stalls, s.Stalls, s.Name)
		counter(c.frames, s.Frames, s.Name)
		counter(c.audioFrames, s.AudioFrames, s.Name)
		counter(c.demuxErrors, s.DemuxErrors, s.Name)
		gauge(c.holding, one(!s.HoldingSince.IsZero()), s.Name)
		ch <- prometheus.MustNewConstMetric(c.held, prometheus.CounterValue, heldFor(s, now).Seconds(), s.Name)
		gauge(c.fps, s.Progress.FPS, s.Name)
		gauge(c.speed, s.Progress.Speed, s.Name)
		if p, ok := c.hist.Latest(s.Name); ok {
			gauge(c.bitrate, p.Kbps*1000, s.Name)
		}
		if t := c.inst.sup.LastFrame(s.Name); !t.IsZero() {
			gauge(c.lastFrame, float64(t.UnixNano())/1e9, s.Name)
		}
		for _, d := range s.Destinations {
			gauge(c.destinationUp, one(d.State == inject.StateRecording), s.Name, d.URL)
			for _, state := range destinationStates {
				gauge(c.destinationState, one(d.State == state), s.Name, d.URL, state)
			}
			counter(c.packetsSent, d.PacketsSent, s.Name, d.URL)
			counter(c.packetsDropped, d.PacketsDropped, s.Name, d.URL)
			counter(c.sentBytes, d.BytesSent, s.Name, d.URL)
			counter(c.reconnects, d.Reconnects, s.Name, d.URL)
			counter(c.failedAttempts, d.FailedAttempts, s.Name, d.URL)
			gauge(c.queued, float64(d.QueueDepth), s.Name, d.URL)
		}
	}
	if c.inst.relay != nil {
		for _, p := range c.inst.relay.Paths() {
			gauge(c.relayReaders, float64(p.Readers), p.Path)
			counter(c.relayPackets, p.Packets, p.Path)
		}
	}
}

// one is 1 for true and 0 for false.
func one(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
