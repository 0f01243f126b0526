package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// service speaks systemd's notify protocol for a unit of Type=notify: READY once run serves,
// WATCHDOG while it is alive, STOPPING on the way out. Outside systemd (no NOTIFY_SOCKET) it
// does nothing.
type service struct {
	log *slog.Logger
}

// notify sends one state, such as daemon.SdNotifyReady.
func (s service) notify(state string) {
	if _, err := daemon.SdNotify(false, state); err != nil {
		s.log.Warn("telling systemd", "state", state, "error", err)
	}
}

// watchdog pings systemd at half the unit's WatchdogSec until ctx ends, as long as alive
// answers in time: a wedged process stops pinging, and systemd restarts it. It returns once ctx
// has ended, and pings no more: what tells systemd STOPPING then must be its caller's goroutine,
// or a ping under way could come after it.
func (s service) watchdog(ctx context.Context, alive func()) {
	interval, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		s.log.Warn("reading systemd's watchdog settings", "error", err)
	}
	if err != nil || interval == 0 {
		<-ctx.Done()
		return
	}
	tick := time.NewTicker(interval / 2)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		answered := make(chan struct{})
		go func() {
			alive()
			close(answered)
		}()
		select {
		case <-answered:
			s.notify(daemon.SdNotifyWatchdog)
		case <-ctx.Done():
			return
		case <-time.After(interval / 2):
			s.log.Error("not answering: no watchdog ping for systemd")
			select {
			case <-answered:
			case <-ctx.Done():
				return
			}
		}
	}
}
