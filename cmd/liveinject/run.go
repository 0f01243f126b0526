package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"

	"github.com/liveinject/liveinject/internal/event"
	"github.com/liveinject/liveinject/internal/gcfloor"
	"github.com/liveinject/liveinject/internal/procs"
	"github.com/liveinject/liveinject/internal/webhook"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
	"github.com/liveinject/liveinject/supervisor"
)

// instance is a running `liveinject run`, as tests and the HTTP endpoint see it.
type instance struct {
	started   time.Time
	relayAddr string
	// relayUser and relayPassword are what the relay's publishers must give: the config's, or
	// made up at start. Channels pushing to the relay use them.
	relayUser, relayPassword string
	relay                    *relay.Server // nil without the built-in relay
	httpAddr                 string        // the HTTP endpoint's bound address, "" when it is off
	sup                      *supervisor.Supervisor
	watcher                  *profiles.Watcher
	// profileErrors holds the mistakes of the files the watcher keeps at their last good
	// version, as file:line: message; written by the watcher's callback, read by HTTP handlers.
	profileErrors atomic.Pointer[[]string]
	// warnings are the config warnings logged last; the watcher's callback owns them.
	warnings profiles.Errors
	// webhooks deliver the events, nil without [[webhook]]; events is their Sink.
	webhooks *webhook.Hub
	events   event.Sink
	// configPath is the main config's; toldErrors the mistakes told as events, which the
	// watcher's callback owns.
	configPath string
	toldErrors map[string]bool
}

func (m *Main) run(ctx context.Context, args []string) int {
	level := &enumFlag{allowed: []string{"debug", "info", "warn", "error"}}
	format := &enumFlag{allowed: []string{"text", "json"}}
	var cpuProfile, stateDir string
	path, fs, code, ok := m.configFlags(runCommand, args, func(fs *flag.FlagSet) {
		// systemd's StateDirectory= sets STATE_DIRECTORY (a list when it names several).
		fs.StringVar(&stateDir, "state-dir", strings.Split(os.Getenv("STATE_DIRECTORY"), ":")[0],
			"keep each channel's RTP sequence numbers and time in `dir`, so that a restart goes on from them (default: $STATE_DIRECTORY)")
		fs.Var(level, "log-level", "log `level`: debug, info, warn or error (default: the config's [log] level)")
		fs.Var(format, "log-format", "log `format`: text or json (default: the config's [log] format)")
		fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to `file` (for go tool pprof)")
	})
	if !ok {
		return code
	}
	if cpuProfile != "" {
		stop, err := startCPUProfile(cpuProfile)
		if err != nil {
			fmt.Fprintf(m.Stderr, "liveinject run: %v\n", err)
			return exitFail
		}
		defer stop()
	}
	// A profile with a mistake must not keep the box's other channels dark: it is reported,
	// and the watcher adds its channel once it is fixed. The main config must be right.
	cfg, profileErrs, err := profiles.LoadRunnable(path)
	if err != nil {
		m.configErrors(path, err)
		return exitConfig
	}
	// The command line overrides the config's [log] for the flags it gives. cfg stays as the
	// file says: reloads compare with it.
	logCfg := cfg.Log
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "log-level":
			logCfg.Level = level.value
		case "log-format":
			logCfg.Format = format.value
		}
	})
	log, err := newLogger(m.Stderr, logCfg)
	if err != nil {
		fmt.Fprintf(m.Stderr, "liveinject run: %v\n", err)
		return exitConfig
	}

	if _, err := exec.LookPath(cfg.FFmpeg); err != nil {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", &supervisor.FFmpegNotFoundError{Path: cfg.FFmpeg, Err: err})
		return exitFail
	}

	inst := &instance{started: time.Now(), configPath: path}
	if len(cfg.Webhooks) > 0 {
		// before anything that has events to tell
		hub := newWebhooks(cfg.Webhooks, log.With("component", "webhook"))
		if m.configureWebhooks != nil {
			m.configureWebhooks(hub)
		}
		if err := hub.Initialize(); err != nil {
			fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
			return exitConfig
		}
		// Deferred first, so it runs last: the channels have told that they stopped by then,
		// and the receivers get that within the hub's grace.
		defer hub.Close()
		inst.webhooks, inst.events = hub, hub.Sink()
	}
	if cfg.Relay.Listen != "" {
		inst.relayUser, inst.relayPassword = cfg.Relay.User, cfg.Relay.Password
		if inst.relayUser == "" {
			// Only this process's channels can publish, so nobody can take their paths.
			inst.relayUser, inst.relayPassword = "liveinject", rand.Text()
		}
		rl := &relay.Server{
			Address:         cfg.Relay.Listen,
			UDPRTPAddress:   cfg.Relay.UDPRTPAddress,
			UDPRTCPAddress:  cfg.Relay.UDPRTCPAddress,
			PublishUser:     inst.relayUser,
			PublishPassword: inst.relayPassword,
			Logger:          log.With("component", "relay"),
		}
		if err := rl.Initialize(); err != nil {
			fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
			return exitFail
		}
		defer func() {
			// The channels have sent their TEARDOWNs: let the relay serve them before it
			// closes, so that it logs clean unpublishes. Outside publishers may stay; they
			// get a second.
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			rl.WaitUnpublished(ctx) //nolint:errcheck // on timeout Close cuts them off
			rl.Close()
		}()
		inst.relayAddr, inst.relay = rl.Addr(), rl
	}

	// The watcher starts from the config as loaded, so an edit made from now on is seen even if
	// it comes before the watcher runs.
	watcher := profiles.NewWatcher(path, cfg)
	watcher.Logger = log.With("component", "profiles")
	inst.watcher = watcher
	inst.sup = &supervisor.Supervisor{FFmpeg: cfg.FFmpeg, Channels: inst.resolve(cfg.Channels), Logger: log,
		StateDir: stateDir, OnEvent: inst.events}
	if stateDir == "" {
		log.Info("RTP state not kept: a restart starts new sequence numbers, which players may take for old packets; " +
			"run with -state-dir (the systemd unit sets it)")
	}
	if m.onApplied != nil {
		inst.sup.OnApplied = m.onApplied
	}
	if len(cfg.Channels) == 0 {
		log.Warn("no channels: add a profile to the profile directory", "dir", cfg.ProfileDir())
	}
	for _, ch := range inst.sup.Channels {
		logChannel(log, ch)
	}
	logWarnings(log, cfg.Warnings)
	inst.warnings = cfg.Warnings
	inst.setProfileErrors(log, profileErrs)
	if cfg.HTTP.Listen != "" {
		hs := &httpServer{
			Address:  cfg.HTTP.Listen,
			User:     cfg.HTTP.User,
			Password: cfg.HTTP.Password,
			Hosts:    cfg.HTTP.Hosts,
			Instance: inst,
			Logger:   log.With("component", "http"),
		}
		if m.configureHTTP != nil {
			m.configureHTTP(hs)
		}
		if err := hs.Initialize(); err != nil {
			fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
			return exitFail
		}
		// Deferred after the relay's Close, so it runs before it: the status stays readable
		// while the channels stop.
		defer hs.Close()
		inst.httpAddr = hs.Addr()
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// The goroutines beside the supervisor's end with ctx; run waits for them.
	var bg sync.WaitGroup
	// Unless the operator set them, the process uses as many Ps as its load needs
	// (internal/procs), and its GC does not run before the heap has grown to a floor
	// (internal/gcfloor).
	if m.TuneRuntime && os.Getenv("GOMAXPROCS") == "" {
		pc := &procs.Controller{OnChange: func(n int, cores float64) {
			log.Debug("GOMAXPROCS adjusted to the load", "procs", n, "cpu_cores", fmt.Sprintf("%.2f", cores))
		}}
		bg.Go(func() { pc.Run(ctx) })
	}
	if m.TuneRuntime && os.Getenv("GOGC") == "" {
		bg.Go(func() { (&gcfloor.Keeper{}).Run(ctx) })
	}
	bg.Go(func() {
		if err := watcher.Run(ctx, func(u profiles.Update) { inst.reload(log, cfg, u) }); err != nil {
			log.Error("watching the configuration", "error", err)
		}
	})
	bg.Go(func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-m.Reload:
				// The operator may have fixed a camera or a server: what waits to retry,
				// retries now.
				log.Info("reload requested")
				watcher.Reload()
				inst.sup.RetryNow()
			}
		}
	})
	if m.onReady != nil {
		m.onReady(inst)
	}
	svc := service{log: log}
	svc.notify(daemon.SdNotifyReady)
	// One goroutine tells systemd the rest, so that no watchdog ping comes after STOPPING.
	bg.Go(func() {
		svc.watchdog(ctx, func() { inst.sup.Status() })
		log.Info("stopping: tearing down every destination and stopping every ffmpeg")
		svc.notify(daemon.SdNotifyStopping)
	})
	err = inst.sup.Run(ctx)
	cancel()
	bg.Wait()
	log.Info("stopped")
	if err != nil {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
		return exitFail
	}
	return exitOK
}

// startCPUProfile starts profiling the process's CPU into path; the function it returns stops
// and writes the profile out.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("CPU profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// resolve returns the channels with "{relay}" in their destinations replaced by the relay's
// address, and the relay's publisher credentials given to the RTSP destinations that push to it
// without their own. The channels given are not changed: the watcher keeps them as its last
// good version.
func (inst *instance) resolve(channels []profiles.Channel) []profiles.Channel {
	out := slices.Clone(channels)
	relayHost := ""
	if inst.relayAddr != "" {
		relayHost = hostOf(profiles.ExpandRelay("rtsp://{relay}/", inst.relayAddr))
	}
	for i := range out {
		ds := slices.Clone(out[i].Destinations)
		for j := range ds {
			ds[j].URL = profiles.ExpandRelay(ds[j].URL, inst.relayAddr)
			ds[j].VerifyURL = profiles.ExpandRelay(ds[j].VerifyURL, inst.relayAddr)
			if relayHost != "" && ds[j].Kind() == profiles.KindRTSP && hostOf(ds[j].URL) == relayHost && ds[j].User == "" &&
				!hasUser(ds[j].URL) {
				ds[j].User, ds[j].Password = inst.relayUser, inst.relayPassword
			}
		}
		out[i].Destinations = ds
	}
	return out
}

// hostOf returns the host:port of a URL, "" when it has none.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Host
}

// hasUser reports whether a URL carries credentials.
func hasUser(raw string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.User != nil
}

// reload hands a watcher's update to the supervisor. What cannot change while running is
// reported; files with mistakes are logged by the watcher and keep their last good version.
func (inst *instance) reload(log *slog.Logger, started *profiles.Config, u profiles.Update) {
	inst.setProfileErrors(nil, u.Errors)
	if u.Config.Relay != started.Relay {
		log.Warn("the relay's settings changed: restart liveinject to apply them", "file", u.Config.Path)
	}
	if u.Config.FFmpeg != started.FFmpeg {
		log.Warn("the ffmpeg path changed: restart liveinject to apply it", "file", u.Config.Path)
	}
	if !reflect.DeepEqual(u.Config.HTTP, started.HTTP) || u.Config.Log != started.Log {
		log.Warn("the [http] or [log] settings changed: restart liveinject to apply them", "file", u.Config.Path)
	}
	if !reflect.DeepEqual(u.Config.Webhooks, started.Webhooks) {
		log.Warn("the webhooks changed: restart liveinject to apply them", "file", u.Config.Path)
	}
	if !slices.EqualFunc(u.Config.Warnings, inst.warnings, func(a, b *profiles.Error) bool { return *a == *b }) {
		logWarnings(log, u.Config.Warnings)
		inst.warnings = u.Config.Warnings
	}
	inst.sup.Update(inst.resolve(u.Config.Channels))
}

// setProfileErrors shows the mistakes of the files left out or kept at their last good version
// in /status, /metrics and /healthz; with log, it logs them too (the watcher logs its own). Each
// mistake not told before is a profile.error event.
func (inst *instance) setProfileErrors(log *slog.Logger, errs profiles.Errors) {
	out := make([]string, len(errs))
	told := make(map[string]bool, len(errs))
	for i, e := range errs {
		out[i] = e.Error()
		if log != nil {
			log.Error("profile not loaded", "file", e.File, "line", e.Line, "error", e.Msg)
		}
		told[out[i]] = true
		if !inst.toldErrors[out[i]] {
			inst.events.Emit(event.Event{Kind: event.ProfileError, Channel: inst.channelOf(e.File),
				File: e.File, Line: e.Line, Cause: e.Msg})
		}
	}
	// a mistake fixed and made again is news again
	inst.toldErrors = told
	inst.profileErrors.Store(&out)
}

// channelOf names the channel of a profile file by its file name, as the channel is named
// unless its profile says otherwise; "" for the main config.
func (inst *instance) channelOf(file string) string {
	if file == inst.configPath {
		return ""
	}
	return strings.TrimSuffix(filepath.Base(file), ".toml")
}

// newWebhooks returns the webhooks of the main config, to be initialized.
func newWebhooks(hooks []profiles.Webhook, log *slog.Logger) *webhook.Hub {
	h := &webhook.Hub{Logger: log}
	h.Host, _ = os.Hostname()
	for _, w := range hooks {
		c := webhook.Config{Name: w.Name, URL: w.URL, Events: w.Events, Timeout: w.Timeout.Std()}
		if w.Secret != "" {
			c.Secret = []byte(w.Secret)
		}
		h.Webhooks = append(h.Webhooks, c)
	}
	return h
}

// logWarnings logs what in the files works but should be written otherwise.
func logWarnings(log *slog.Logger, warnings profiles.Errors) {
	for _, w := range warnings {
		log.Warn("config warning", "file", w.File, "line", w.Line, "warning", w.Msg)
	}
}

func logChannel(log *slog.Logger, ch profiles.Channel) {
	urls := make([]string, len(ch.Destinations))
	for i, d := range ch.Destinations {
		urls[i] = profiles.Redact(d.URL)
	}
	log.Info("channel", "channel", ch.Name, "destinations", strings.Join(urls, " "))
}

// newLogger returns run's log on w, with the level and format of c.
func newLogger(w io.Writer, c profiles.Log) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.Level)); err != nil {
		return nil, fmt.Errorf("log level %q: %w", c.Level, err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.Format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q is not text or json", c.Format)
}
