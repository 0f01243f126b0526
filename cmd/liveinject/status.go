package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	neturl "net/url"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/record"
	"github.com/liveinject/liveinject/supervisor"
)

// controlHeader goes with every request of the CLI: earlier versions of the endpoint refused a
// restart without it (it now knows a page of another site by what the browser says of the
// request), and a rack updated box by box runs both.
const controlHeader = "X-Liveinject-Control"

// statusTimeout bounds the whole request: a status command must not hang on a wedged daemon.
const statusTimeout = 5 * time.Second

// status shows the channels of a running liveinject, read from its HTTP endpoint's /status.
func (m *Main) status(ctx context.Context, args []string) int {
	fs := m.newFlagSet(statusCommand)
	addr := fs.String("addr", profiles.DefaultHTTPListen, "host:port of liveinject's HTTP endpoint (its [http] listen)")
	raw := fs.Bool("json", false, "print the JSON of /status as it comes")
	if code, ok := m.parse(fs, statusCommand, args, false); !ok {
		return code
	}
	body, err := getStatus(ctx, *addr)
	if err != nil {
		fmt.Fprintf(m.Stderr, "liveinject status: %v\n", err)
		return exitFail
	}
	if *raw {
		m.Stdout.Write(body) //nolint:errcheck // nothing to do about a closed stdout
		return exitOK
	}
	var r statusReport
	if err := json.Unmarshal(body, &r); err != nil {
		fmt.Fprintf(m.Stderr, "liveinject status: %s answered something that is not liveinject's status: %v\n", *addr, err)
		return exitFail
	}
	printStatus(m.Stdout, &r)
	return exitOK
}

// getStatus returns the body of GET /status at addr, a host:port or an http(s) URL.
func getStatus(ctx context.Context, addr string) ([]byte, error) {
	return request(ctx, http.MethodGet, addr, "/status", http.StatusOK)
}

// request sends a request to liveinject's HTTP endpoint at addr and returns the body of an answer
// with the status want.
func request(ctx context.Context, method, addr, path string, want int) ([]byte, error) {
	base := addr
	if !strings.Contains(base, "://") {
		base = "http://" + base
	}
	url := strings.TrimSuffix(base, "/") + path
	ctx, cancel := context.WithTimeout(ctx, statusTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set(controlHeader, "1")
	// One request: no idle connection is left behind.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		if opErr := (*net.OpError)(nil); errors.As(err, &opErr) && opErr.Op == "dial" {
			return nil, fmt.Errorf("nothing listens at %s (%v): is liveinject running? "+
				"Give -addr its [http] listen address (default %s)", addr, opErr.Err, profiles.DefaultHTTPListen)
		}
		return nil, notLiveinject(addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("%s %s: %s: the endpoint needs the [http] user and password", method, url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode == http.StatusMisdirectedRequest {
		// The endpoint's word says which [http] hosts entry lets this name in, however long.
		return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, strings.TrimSpace(string(body)))
	}
	if resp.StatusCode == http.StatusNotFound && path == "/status" {
		return nil, fmt.Errorf("%s answers HTTP, but has no /status (%s): it is not liveinject's HTTP endpoint; "+
			"give -addr liveinject's [http] listen address (default %s)", addr, resp.Status, profiles.DefaultHTTPListen)
	}
	if resp.StatusCode != want {
		if msg := strings.TrimSpace(string(body)); msg != "" && len(msg) < 200 {
			return nil, fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, msg)
		}
		return nil, fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return body, nil
}

// notLiveinject explains err, the failure of a request to addr that connected but got no HTTP
// answer: something else listens there, or liveinject hangs.
func notLiveinject(addr string, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s accepted the connection but did not answer within %s: is it liveinject's HTTP endpoint?", addr, statusTimeout)
	}
	if uerr := (*neturl.Error)(nil); errors.As(err, &uerr) {
		err = uerr.Err // without the method and URL: the caller names the address
	}
	what := "answered something that is not HTTP"
	switch {
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) ||
		strings.Contains(err.Error(), "server closed idle connection"):
		what = "closed the connection without an answer"
	case strings.Contains(err.Error(), "RTSP/1.0"):
		what = "answered as an RTSP server does"
	}
	return fmt.Errorf("%s %s (%v): it is not liveinject's HTTP endpoint; "+
		"give -addr liveinject's [http] listen address (default %s)", addr, what, err, profiles.DefaultHTTPListen)
}

// restart restarts a channel's ffmpeg in a running liveinject, through its HTTP endpoint.
func (m *Main) restart(ctx context.Context, args []string) int {
	fs := m.newFlagSet(restartCommand)
	addr := fs.String("addr", profiles.DefaultHTTPListen, "host:port of liveinject's HTTP endpoint (its [http] listen)")
	if code, ok := m.parse(fs, restartCommand, args, true); !ok {
		return code
	}
	if fs.NArg() != 1 {
		fmt.Fprintf(m.Stderr, "liveinject restart: give one channel name: liveinject restart [-addr host:port] NAME\n")
		return exitConfig
	}
	name := fs.Arg(0)
	if _, err := request(ctx, http.MethodPost, *addr, "/channels/"+neturl.PathEscape(name)+"/restart", http.StatusAccepted); err != nil {
		fmt.Fprintf(m.Stderr, "liveinject restart: %v\n", err)
		return exitFail
	}
	fmt.Fprintf(m.Stdout, "channel %s: ffmpeg restarting\n", name)
	return exitOK
}

// printStatus writes r as a table, one line per channel, then one per destination, the relay's
// paths and the profile errors if there are any.
func printStatus(w io.Writer, r *statusReport) {
	fmt.Fprintf(w, "liveinject %s, up %s\n\n", r.Version, seconds(r.UptimeSeconds))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CHANNEL\tSTATE\tON AIR\tUPTIME\tFPS\tFRAMES\tDESTINATIONS\tLAST ERROR")
	for _, c := range r.Channels {
		recording := 0
		for _, d := range c.Destinations {
			if destinationOK(d) {
				recording++
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%d\t%d/%d ok\t%s\n", c.Name, c.State, onAir(c), seconds(c.StateSeconds),
			c.Progress.FPS, c.Frames, recording, len(c.Destinations), lastError(c))
		// the content alarms, under their channel: what viewers of the input on air get
		for _, a := range c.Alarms {
			fmt.Fprintf(tw, "  alarm\t%s\t%s\t\t\t\t\t%s\n", a, c.OnAir, alarmText[a])
		}
		// the recording on the box's disk, under its channel
		if rec := c.Record; rec != nil {
			fmt.Fprintf(tw, "  record\t%s\t\t\t\t\t\t%s\n", rec.State, recordText(rec, time.Now()))
		}
		// the inputs that fail, under their channel: what an operator checks when a backup or
		// the slate is on air. While none is, the channel's line is its source's.
		shown := c.OnAir
		if shown == "hold" || shown == "none" {
			shown = "source"
		}
		for _, in := range c.Inputs {
			if in.Name == shown || in.State == supervisor.StateRunning || in.State == supervisor.StateStandby {
				continue
			}
			var age string
			if in.Since != nil {
				age = seconds(time.Since(*in.Since).Seconds())
			}
			fmt.Fprintf(tw, "  %s\t%s\t\t%s\t\t\t\t%s\n", in.Name, in.State, age, inputError(in))
		}
	}
	tw.Flush() //nolint:errcheck // w's errors are the caller's
	if len(r.Channels) == 0 {
		fmt.Fprintln(w, "(no channels)")
	}
	printDestinations(w, r.Channels)
	if r.Relay != nil && len(r.Relay.Paths) > 0 {
		fmt.Fprintf(w, "\nrelay rtsp://%s\n", r.Relay.Address)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "PATH\tPUBLISHING\tREADERS")
		for _, p := range r.Relay.Paths {
			fmt.Fprintf(tw, "%s\t%t\t%d\n", p.Path, p.Publishing, p.Readers)
		}
		tw.Flush() //nolint:errcheck // w's errors are the caller's
	}
	if len(r.Webhooks) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "WEBHOOK\tSTATE\tQUEUED\tDROPPED\tLAST ERROR")
		for _, h := range r.Webhooks {
			state, lastErr := "ok", ""
			if !h.Up {
				state = "failing"
			}
			if h.LastError != "" {
				lastErr = h.LastError + " (" + seconds(time.Since(h.LastErrorAt).Seconds()) + " ago)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\n", h.Name, state, h.Queued, h.Dropped, lastErr)
		}
		tw.Flush() //nolint:errcheck // w's errors are the caller's
	}
	if len(r.ProfileErrors) > 0 {
		fmt.Fprintln(w, "\nprofile errors (these files run at their last good version):")
		for _, e := range r.ProfileErrors {
			fmt.Fprintln(w, "  "+e)
		}
	}
}

// lastError picks what a channel's line shows: a problem of now before one of the past, the
// channel's (in a few words when known) before its destinations'. A problem of the past says how
// long ago it was, so that an old one is not taken for the current state.
func lastError(c channelReport) string {
	type candidate struct {
		now bool
		msg string
		at  *time.Time
	}
	cause := c.Cause
	if cause == "" {
		cause = c.LastCause
	}
	candidates := []candidate{{c.State != supervisor.StateRunning, cause, c.LastCauseAt}}
	for _, d := range c.Destinations {
		if d.State == inject.StateRecording && d.Verify.State == inject.VerifyUnverified {
			candidates = append(candidates, candidate{true, d.URL + ": unverified: " + cmp.Or(d.Verify.Cause, "-"), nil})
		}
		msg := d.LastError
		if msg != "" {
			msg = d.URL + ": " + msg
		}
		candidates = append(candidates, candidate{d.State != inject.StateRecording, msg, d.LastErrorAt})
	}
	for _, now := range []bool{true, false} {
		for _, cd := range candidates {
			if cd.msg == "" || (now && !cd.now) {
				continue
			}
			if !cd.now && cd.at != nil {
				return fmt.Sprintf("%s (%v ago)", cd.msg, time.Since(*cd.at).Round(time.Second))
			}
			return cd.msg
		}
	}
	return "-"
}

// destinationOK reports whether d is as it should be: recording, and not unverified (its server
// plays it back, a check is under way, or none is made).
func destinationOK(d destinationReport) bool {
	return d.State == inject.StateRecording && d.Verify.State != inject.VerifyUnverified
}

// printDestinations writes a table of the destinations of channels: their kind, their state and
// what the return check found, with the server's delay or why the stream is unverified (or, for
// a kind the check does not play back, that it is not).
func printDestinations(w io.Writer, channels []channelReport) {
	if !slices.ContainsFunc(channels, func(c channelReport) bool { return len(c.Destinations) > 0 }) {
		return
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	// the URL first: a line that begins with a channel's name is that channel's
	fmt.Fprintln(tw, "DESTINATION\tCHANNEL\tKIND\tSTATE\tVERIFY\tSERVER DELAY\tWHY")
	for _, c := range channels {
		for _, d := range c.Destinations {
			// an endpoint of a version before kinds says none: its URL does
			kind := cmp.Or(d.Kind, DestinationKind(d.URL), "-")
			v := d.Verify
			// an endpoint of a version without the return check says nothing of it
			state, delay, why := cmp.Or(v.State, "-"), "-", "-"
			if v.ServerDelaySeconds != nil {
				delay = serverDelay(*v.ServerDelaySeconds)
			}
			if v.State == inject.VerifyUnverified || (v.State != inject.VerifyVerified && v.Cause != "") {
				why = cmp.Or(v.Cause, "-")
				// how long a check has found nothing; "off" (not played back) lasts all along
				if v.Since != nil && v.State != inject.VerifyOff {
					why += fmt.Sprintf(" (for %v)", time.Since(*v.Since).Round(time.Second))
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.URL, c.Name, kind, d.State, state, delay, why)
		}
	}
	tw.Flush() //nolint:errcheck // w's errors are the caller's
}

// serverDelay renders a server's delay in seconds to a tenth of a second, or to the millisecond
// below one (a relay on the box answers within a few).
func serverDelay(s float64) string {
	d := time.Duration(s * float64(time.Second))
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}

// onAir says what a channel's line shows as on air: the input, and the one an operator forced.
func onAir(c channelReport) string {
	switch {
	case c.OnAir == "":
		return "-" // an endpoint of a version without inputs
	case c.Mode != "manual":
		return c.OnAir
	case c.Forced == c.OnAir:
		return c.OnAir + " (manual)"
	}
	return c.OnAir + " (manual: " + c.Forced + ")"
}

// inputError says why an input that is not running last ended, and how long ago.
func inputError(in inputReport) string {
	cause := cmp.Or(in.Cause, in.LastCause)
	switch {
	case cause == "":
		return "-"
	case in.LastCauseAt != nil:
		cause += fmt.Sprintf(" (%v ago)", time.Since(*in.LastCauseAt).Round(time.Second))
	}
	if in.RetryAt != nil {
		cause += fmt.Sprintf(", retry in %v", max(0, time.Until(*in.RetryAt)).Round(time.Second))
	}
	return cause
}

// recordText says what a channel's recording keeps: "1.2 GiB in 42 segments, newest 15s ago",
// its cause first in state error.
func recordText(r *recordReport, now time.Time) string {
	plural := "s"
	if r.Segments == 1 {
		plural = ""
	}
	text := fmt.Sprintf("%s in %d segment%s", iec(r.BytesOnDisk), r.Segments, plural)
	if r.Newest != nil {
		text += ", newest " + seconds(now.Sub(*r.Newest).Seconds()) + " ago"
	}
	if r.State == record.StateError {
		text = cmp.Or(r.Cause, r.LastError, "-") + "; " + text
	}
	return text
}

// iec renders a number of bytes in binary units, such as "1.2 GiB".
func iec(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v, unit := float64(n)/1024, 0
	for v >= 1024 && unit < 4 {
		v, unit = v/1024, unit+1
	}
	return fmt.Sprintf("%.1f %s", v, []string{"KiB", "MiB", "GiB", "TiB", "PiB"}[unit])
}

// seconds renders a number of seconds as a duration rounded to the second, such as "1h2m3s".
func seconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).Round(time.Second).String()
}
