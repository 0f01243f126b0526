package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"time"

	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/relay"
	"github.com/liveinject/liveinject/supervisor"
)

// instance is a running `liveinject run`, as tests see it.
type instance struct {
	relayAddr string
	sup       *supervisor.Supervisor
}

func (m *Main) run(ctx context.Context, args []string) int {
	var level slog.Level
	path, ok := m.configFlags("run", args, func(fs *flag.FlagSet) {
		fs.TextVar(&level, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	})
	if !ok {
		return exitConfig
	}
	cfg, ok := m.loadConfig(path)
	if !ok {
		return exitConfig
	}
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: level}))

	if _, err := exec.LookPath(cfg.FFmpeg); err != nil {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", &supervisor.FFmpegNotFoundError{Path: cfg.FFmpeg, Err: err})
		return exitFail
	}

	inst := &instance{}
	if cfg.Relay.Listen != "" {
		rl := &relay.Server{
			Address:        cfg.Relay.Listen,
			UDPRTPAddress:  cfg.Relay.UDPRTPAddress,
			UDPRTCPAddress: cfg.Relay.UDPRTCPAddress,
			Logger:         log.With("component", "relay"),
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
		inst.relayAddr = rl.Addr()
		for i := range cfg.Channels {
			for j := range cfg.Channels[i].Destinations {
				d := &cfg.Channels[i].Destinations[j]
				d.URL = profiles.ExpandRelay(d.URL, inst.relayAddr)
			}
		}
	}

	inst.sup = &supervisor.Supervisor{FFmpeg: cfg.FFmpeg, Channels: cfg.Channels, Logger: log}
	if len(cfg.Channels) == 0 {
		log.Warn("no channels: add a profile to the profile directory", "dir", cfg.ProfileDir())
	}
	for _, ch := range cfg.Channels {
		urls := make([]string, len(ch.Destinations))
		for i, d := range ch.Destinations {
			urls[i] = profiles.Redact(d.URL)
		}
		log.Info("channel", "channel", ch.Name, "destinations", strings.Join(urls, " "))
	}
	if m.onReady != nil {
		m.onReady(inst)
	}
	err := inst.sup.Run(ctx)
	log.Info("stopped")
	if err != nil {
		fmt.Fprintf(m.Stderr, "liveinject: %v\n", err)
		return exitFail
	}
	return exitOK
}
