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
	"github.com/liveinject/liveinject/internal/webhook"
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
// /healthz, channel thumbnails and recordings, and the control requests. Its responses are computed from the
// supervisor's and the relay's snapshots at request time, but for two caches of its own: each
// channel's last thumbnail and the rates of the last minutes (history). Destination URLs come
// redacted from inject.
type httpServer struct {
	Address string // TCP listen address; port 0 picks a free port
	// User and Password, when User is set, are the basic auth credentials every request needs.
	User, Password string
	// Hosts are the names, beside the listen address's, localhost and the machine's, that
	// requests may give in their Host header ([http] hosts).
	Hosts    []string
	Instance *instance
	Logger   *slog.Logger
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
	mux.HandleFunc("POST /channels/{name}/switch", s.serveSwitch)
	mux.HandleFunc("GET /channels/{name}/thumbnail.jpg", s.serveThumbnail)
	(&recordings{Status: sup.Status, Logger: s.Logger}).Route(mux)
	mux.HandleFunc("GET /history", s.serveHistory)
	mux.HandleFunc("GET /{$}", s.serveDashboard)
	mux.Handle("GET /assets/", s.serveAssets())

	// Host first: a page that rebinds its name to this box learns nothing, not even whether the
	// endpoint wants credentials.
	guard := newHostGuard(s.Address, s.addr, s.Hosts, s.Logger)
	s.srv = &http.Server{
		Handler:           guard.Handler(s.sameOrigin(s.authorize(mux))),
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
	s.Logger.Info("http listening", "address", s.addr, "basic_auth", s.User != "", "hosts", strings.Join(guard.names, ","))
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

// sameOrigin refuses the requests that change something (POST) sent by a browser for a page of
// another origin: a page elsewhere on the web, or on another port of the box, must not restart
// or switch channels with the operator's browser. Browsers say where a request comes from (Sec-Fetch-Site,
// or Origin); the CLI and other programs say nothing and are served.
func (s *httpServer) sameOrigin(next http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			s.Logger.Debug("cross-origin request refused", "remote", r.RemoteAddr, "path", r.URL.Path,
				"origin", r.Header.Get("Origin"), "error", err)
			http.Error(w, "refused: "+err.Error()+": control requests come from the dashboard of this endpoint "+
				"or from programs such as liveinject restart and switch, not from a page of another site", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
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
	// Webhooks are the [[webhook]] receivers' figures, in the config's order.
	Webhooks []webhook.Stats `json:"webhooks"`
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
	HoldingSince *time.Time `json:"holding_since"`
	HeldSeconds  float64    `json:"held_seconds"`
	// OnAir is the input whose frames the destinations get ("source", "backup N", "slate"),
	// "hold" while none does, "none" before the first; OnAirSince is null before the first.
	OnAir      string     `json:"on_air"`
	OnAirSince *time.Time `json:"on_air_since"`
	// Mode is "auto", or "manual" while an operator has forced the input Forced ("" in auto).
	Mode         string              `json:"mode"`
	Forced       string              `json:"forced"`
	Switches     switchesReport      `json:"switches"`
	Inputs       []inputReport       `json:"inputs"`
	Destinations []destinationReport `json:"destinations"`
	// Alarms are the content alarms of the input on air: "black", "frozen", "silent"; empty
	// when none is up, and while the slate or the hold is on air.
	Alarms []string `json:"alarms"`
	// Record is the channel's recording on the box's disk; null when its profile has no
	// [record].
	Record *recordReport `json:"record"`
}

// switchesReport counts the changes of a channel's input on air, by reason.
type switchesReport struct {
	Failed   uint64 `json:"failed"`   // the input on air gave no frame for failover_after, or was removed
	Returned uint64 `json:"returned"` // an earlier input worked again for return_after
	Manual   uint64 `json:"manual"`   // an operator's switch
}

// inputReport is one input of a channel (its source, a backup, its slate) and its ffmpeg.
type inputReport struct {
	Name         string     `json:"name"` // "source", "backup N", "slate"
	Kind         string     `json:"kind"` // the source kind, or "slate"
	State        string     `json:"state"`
	Since        *time.Time `json:"since"`
	FFmpegPID    int        `json:"ffmpeg_pid"`
	FFmpegStarts uint64     `json:"ffmpeg_starts"`
	Frames       uint64     `json:"frames"` // video frames it delivered, on air or not
	Cause        string     `json:"cause"`
	LastCause    string     `json:"last_cause"`
	LastCauseAt  *time.Time `json:"last_cause_at"`
	RetryAt      *time.Time `json:"retry_at"` // set in state backoff
	Alarms       []string   `json:"alarms"`   // its content alarms, on air or not
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
	URL string `json:"url"` // password replaced by "xxxxx"; no stream key or passphrase
	// Kind is rtsp, rtmp or srt (see DestinationKind): rtsps is rtsp, rtmps rtmp.
	Kind           string     `json:"kind"`
	State          string     `json:"state"`
	Transport      string     `json:"transport"`       // "tcp" or "udp" while recording; "rtmp", "rtmps" or "srt" for those kinds
	ConnectedSince *time.Time `json:"connected_since"` // set while recording
	RetryAt        *time.Time `json:"retry_at"`        // set in states backoff and auth_failed
	Reconnects     uint64     `json:"reconnects"`      // sessions re-established
	FailedAttempts uint64     `json:"failed_attempts"` // tries that never recorded
	LastError      string     `json:"last_error"`
	LastErrorAt    *time.Time `json:"last_error_at"` // when last_error came; null with none
	PacketsSent    uint64     `json:"packets_sent"`  // RTP packets; frames for rtmp and srt
	PacketsDropped uint64     `json:"packets_dropped"`
	BytesSent      uint64     `json:"bytes_sent"`
	QueueDepth     int        `json:"queue_depth"`
	BytesWaiting   int        `json:"bytes_waiting"` // in the connection, not taken by the server
	StalledSince   *time.Time `json:"stalled_since"` // set in state stalled: when bytes last left

	// Verify is the return check's finding.
	Verify verifyReport `json:"verify"`
}

// verifyReport is a destination's return check: the stream played back from its server at the
// URL players use.
type verifyReport struct {
	// State is off, checking, verified or unverified: never "", so that readers can rely on
	// one of the four (a destination nothing checks is off).
	State string `json:"state"`
	// Cause says why unverified ("DESCRIBE 404", "not our stream", ...), or why off for a
	// destination of a kind the check does not play back ("not played back: rtmp").
	Cause string `json:"cause"`
	// ServerDelaySeconds is, while verified, the time from our send to the server's return;
	// null otherwise: a delay of a stream that is not ours, or none, means nothing.
	ServerDelaySeconds *float64   `json:"server_delay_seconds"`
	Since              *time.Time `json:"since"` // when the state began; null when not known
}

type relayReport struct {
	Address string       `json:"address"`
	Paths   []pathReport `json:"paths"`
}

type pathReport struct {
	Path            string `json:"path"`
	Publishing      bool   `json:"publishing"`
	Readers         int    `json:"readers"` // players; the return checks are Checks
	Checks          int    `json:"checks"`
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
		Webhooks:      []webhook.Stats{},
	}
	if inst.webhooks != nil {
		r.Webhooks = inst.webhooks.Stats()
	}
	if errs := inst.profileErrors.Load(); errs != nil {
		r.ProfileErrors = append(r.ProfileErrors, *errs...)
	}
	r.ConfigWatch = "fsnotify"
	if why := inst.watcher.Polling(); why != "" {
		r.ConfigWatch = "polling: " + why
	}
	for _, c := range inst.sup.Status() {
		r.Channels = append(r.Channels, channelReportOf(c, now))
	}
	if inst.relay != nil {
		r.Relay = &relayReport{Address: inst.relayAddr, Paths: []pathReport{}}
		for _, p := range inst.relay.Paths() {
			r.Relay.Paths = append(r.Relay.Paths, pathReport{
				Path:            p.Path,
				Publishing:      p.Publishing,
				Readers:         p.Readers,
				Checks:          p.Checks,
				PacketsReceived: p.Packets,
			})
		}
	}
	return r
}

// channelReportOf is how /status shows channel c at now.
func channelReportOf(c supervisor.Status, now time.Time) channelReport {
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
	cr.OnAir, cr.OnAirSince, cr.Mode, cr.Forced = c.OnAir, timeOrNull(c.OnAirSince), c.Mode, c.Forced
	cr.Switches = switchesReport{Failed: c.Switches[supervisor.SwitchFailed],
		Returned: c.Switches[supervisor.SwitchReturned], Manual: c.Switches[supervisor.SwitchManual]}
	cr.Alarms = append([]string{}, c.Alarms...)
	cr.Inputs = make([]inputReport, len(c.Inputs))
	for i, in := range c.Inputs {
		cr.Inputs[i] = inputReport{Name: in.Name, Kind: in.Kind, State: in.State, Since: timeOrNull(in.Since),
			FFmpegPID: in.PID, FFmpegStarts: in.Starts, Frames: in.Frames, Cause: in.Cause,
			LastCause: in.LastCause, LastCauseAt: timeOrNull(in.LastCauseAt), Alarms: append([]string{}, in.Alarms...)}
		if in.State == supervisor.StateBackoff {
			cr.Inputs[i].RetryAt = timeOrNull(in.RetryAt)
		}
	}
	for i, d := range c.Destinations {
		cr.Destinations[i] = destinationReportOf(d)
	}
	cr.Record = recordReportOf(c.Record)
	return cr
}

// destinationReportOf is how /status shows a destination's figures.
func destinationReportOf(d inject.Stats) destinationReport {
	kind := DestinationKind(d.URL)
	return destinationReport{
		URL:            d.URL,
		Kind:           kind,
		State:          d.State,
		Transport:      d.Transport,
		ConnectedSince: timeOrNull(d.ConnectedSince),
		RetryAt:        timeOrNull(d.RetryAt),
		Reconnects:     d.Reconnects,
		FailedAttempts: d.FailedAttempts,
		LastError:      d.LastError,
		LastErrorAt:    timeOrNull(d.LastErrorAt),
		PacketsSent:    d.PacketsSent,
		PacketsDropped: d.PacketsDropped,
		BytesSent:      d.BytesSent,
		QueueDepth:     d.QueueDepth,
		BytesWaiting:   d.BytesWaiting,
		StalledSince:   timeOrNull(d.StalledSince),
		Verify:         verifyReportOf(kind, d.Verify),
	}
}

// verifyReportOf is how /status shows the return check of a destination of kind.
func verifyReportOf(kind string, v inject.Verify) verifyReport {
	r := verifyReport{State: verifyState(v), Cause: verifyCause(kind, v), Since: timeOrNull(v.Since)}
	if r.State == inject.VerifyVerified {
		delay := v.ServerDelay.Seconds()
		r.ServerDelaySeconds = &delay
	}
	return r
}

// verifyState is v's state, off for a destination whose figures say nothing of a return check.
func verifyState(v inject.Verify) string {
	return cmp.Or(v.State, inject.VerifyOff)
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

// serveRestart restarts a channel's ffmpeg at once: POST /channels/NAME/restart.
func (s *httpServer) serveRestart(w http.ResponseWriter, r *http.Request) {
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

// serveSwitch puts a channel's input on air and keeps it there, or gives the choice back to the
// channel's rules: POST /channels/NAME/switch?to=TARGET, TARGET one of source, "backup N",
// slate, auto (or to=TARGET in a form body).
func (s *httpServer) serveSwitch(w http.ResponseWriter, r *http.Request) {
	name, target := r.PathValue("name"), r.FormValue("to")
	if target == "" {
		http.Error(w, "say which input: ?to=source, ?to=backup+1 (backup N), ?to=slate, or ?to=auto", http.StatusBadRequest)
		return
	}
	if err := s.Instance.sup.Switch(name, target); err != nil {
		code := http.StatusNotFound
		if _, ok := errors.AsType[*supervisor.BadSwitchError](err); ok {
			code = http.StatusBadRequest
		}
		http.Error(w, err.Error(), code)
		return
	}
	s.Logger.Info("channel switch requested", "channel", name, "to", target, "remote", r.RemoteAddr)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, switchedText(name, target))
}

// switchedText says what a switch of channel to target does.
func switchedText(channel, target string) string {
	if target == "auto" {
		return fmt.Sprintf("channel %s: inputs back on auto", channel)
	}
	return fmt.Sprintf("channel %s: %s goes on air at its next keyframe (once it runs) and stays until auto", channel, target)
}

// timeOrNull returns &t, or nil for the zero time (JSON null).
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// heldFor returns how long a channel has held its last picture, the hold going on included.
func heldFor(c supervisor.Status, now time.Time) time.Duration {
	if c.HoldingSince.IsZero() {
		return c.Held
	}
	return c.Held + now.Sub(c.HoldingSince)
}
