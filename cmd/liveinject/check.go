package main

import (
	"context"
	"fmt"
	"net/url"
	"os/exec"
	"strings"
	"unicode/utf8"

	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/supervisor"
)

// check validates the configuration and shows what run would do with it. It exits 0 when run
// would accept it, so it can gate a rollout.
func (m *Main) check(ctx context.Context, args []string) int {
	path, _, code, ok := m.configFlags(checkCommand, args, nil)
	if !ok {
		return code
	}
	cfg, ok := m.loadConfig(path)
	if !ok {
		return exitConfig
	}
	_, err := exec.LookPath(cfg.FFmpeg)
	if err != nil {
		// Configs are often checked on another machine before a rollout: warn, do not fail.
		fmt.Fprintf(m.Stdout, "warning: %v\n", &supervisor.FFmpegNotFoundError{Path: cfg.FFmpeg, Err: err})
	}
	haveFFmpeg := err == nil
	if cfg.Relay.Listen != "" {
		fmt.Fprintf(m.Stdout, "relay: rtsp://%s\n", cfg.Relay.Listen)
	}
	for _, w := range cfg.Webhooks {
		// the name, not the URL: a URL's path or query may carry a token
		events := "every event"
		if len(w.Events) > 0 {
			events = strings.Join(w.Events, ", ")
		}
		signed := "unsigned"
		if w.SecretFile != "" {
			signed = "signed with " + w.SecretFile
		}
		fmt.Fprintf(m.Stdout, "webhook %s: %s, %s, timeout %s\n", w.Name, events, signed, w.Timeout)
	}
	for _, w := range cfg.Warnings {
		fmt.Fprintf(m.Stdout, "warning: %v\n", w)
	}
	fmt.Fprintf(m.Stdout, "%d channel(s) in %s\n", len(cfg.Channels), cfg.ProfileDir())
	if len(cfg.Disabled) > 0 {
		fmt.Fprintf(m.Stdout, "disabled (enabled = false): %s\n", strings.Join(cfg.Disabled, ", "))
	}
	checker := &supervisor.Checker{}
	for _, ch := range cfg.Channels {
		fmt.Fprintf(m.Stdout, "\nchannel %s (%s)\n", ch.Name, ch.File)
		// One ffmpeg per input, each with the channel's [video] and [audio].
		inputs, names := supervisor.InputProfiles(ch), supervisor.InputNames(ch)
		var problems []*supervisor.Problem
		for i, in := range inputs {
			args, err := supervisor.Args(in)
			if err != nil {
				fmt.Fprintf(m.Stderr, "%s: %s: %v\n", ch.File, names[i], err)
				return exitConfig
			}
			redact := supervisor.Redactor(in)
			for j := range args {
				args[j] = redact(args[j])
			}
			fmt.Fprintf(m.Stdout, "  %s: %s\n", names[i], shellQuote(append([]string{cfg.FFmpeg}, args...)))
			problems = append(problems, checker.Check(ctx, in, cfg.FFmpeg)...)
		}
		if haveFFmpeg {
			if p := supervisor.CheckSlate(ctx, ch, cfg.FFmpeg); p != nil {
				problems = append(problems, p)
			}
		}
		// Devices and encoders of the machine check runs on, which may not be the one the
		// config is for: warnings, not errors. The inputs share their encoders: each
		// problem is said once.
		said := map[string]bool{}
		for _, p := range problems {
			if !said[p.Msg] {
				said[p.Msg] = true
				fmt.Fprintf(m.Stdout, "  warning: %v\n", p)
			}
		}
		if r := ch.Record; r.On {
			limit := "no max_size"
			if r.MaxSize > 0 {
				limit = "max_size " + r.MaxSize.String()
			}
			fmt.Fprintf(m.Stdout, "  record: %s (segment %s, keep %s, %s, min_free %s)\n",
				r.ChannelDir(ch.Name), r.Segment, r.Keep, limit, r.MinFree)
		}
		for _, d := range ch.Destinations {
			fmt.Fprintf(m.Stdout, "  -> %s (%s)\n", profiles.Redact(d.URL), destinationDetails(d))
			if d.Kind() != profiles.KindRTSP {
				continue
			}
			if !strings.HasSuffix(urlPath(d.URL), ".sdp") {
				fmt.Fprintf(m.Stdout, "     warning: the path does not end in .sdp: Darwin Streaming Server takes the ANNOUNCE, then refuses SETUP (415)\n")
			} else if strings.HasPrefix(d.URL, "rtsps:") {
				fmt.Fprintf(m.Stdout, "     warning: over rtsps the stream's SSRC changes at every reconnect: Darwin Streaming Server's players would lose the stream for 30 s then\n")
			}
		}
	}
	return exitOK
}

// destinationDetails says how a destination is reached: for RTSP the transport, user and where
// the password comes from, never the password; for the other kinds, their kind and options.
func destinationDetails(d profiles.Destination) string {
	switch d.Kind() {
	case profiles.KindRTMP:
		return rtmpDetails(d)
	case profiles.KindSRT:
		return srtDetails(d)
	}
	out := []string{d.Transport}
	if d.User != "" {
		out = append(out, "user "+d.User)
	}
	switch {
	case d.PasswordFile != "":
		out = append(out, "password from "+d.PasswordFile)
	case d.PasswordEnv != "":
		out = append(out, "password from $"+d.PasswordEnv)
	case d.User != "" && d.Password != "":
		out = append(out, "password in the profile")
	}
	switch {
	case !d.Verify:
		out = append(out, "not played back (verify = false)")
	case d.VerifyURL != "":
		out = append(out, "played back from "+profiles.Redact(d.VerifyURL))
	}
	if d.Verify && d.VerifyEvery > 0 {
		out = append(out, "played back every "+d.VerifyEvery.String())
	}
	for _, x := range []struct{ what, value string }{
		{"session name", d.SessionName}, {"info", d.SessionInfo}, {"author", d.SessionAuthor},
		{"copyright", d.SessionCopyright}, {"comment", d.SessionComment},
	} {
		if x.value != "" {
			out = append(out, fmt.Sprintf("%s %q", x.what, x.value))
		}
	}
	return strings.Join(out, ", ")
}

// rtmpDetails says how an rtmp destination is reached: where its stream key comes from and how
// long it is, never the key.
func rtmpDetails(d profiles.Destination) string {
	out := []string{"rtmp: H.264 and AAC in FLV"}
	switch {
	case d.KeyFile != "":
		out = append(out, fmt.Sprintf("key from %s (%d characters)", d.KeyFile, utf8.RuneCountInString(d.StreamKey)))
	case d.KeyEnv != "":
		out = append(out, fmt.Sprintf("key from $%s (%d characters)", d.KeyEnv, utf8.RuneCountInString(d.StreamKey)))
	default:
		out = append(out, "no key: the URL names the stream")
	}
	out = append(out, tlsDetails(d)...)
	return strings.Join(append(out, "not played back (the return check plays RTSP only)"), ", ")
}

// srtDetails says how an srt destination is reached: latency, where the passphrase comes from
// (never the passphrase), and the streamid.
func srtDetails(d profiles.Destination) string {
	out := []string{"srt: MPEG-TS"}
	if d.Latency != 0 {
		out = append(out, "latency "+d.Latency.String())
	} else {
		out = append(out, "latency 120ms (libsrt's)")
	}
	switch {
	case d.PassphraseFile != "":
		out = append(out, "passphrase from "+d.PassphraseFile)
	case d.PassphraseEnv != "":
		out = append(out, "passphrase from $"+d.PassphraseEnv)
	default:
		out = append(out, "not encrypted")
	}
	if d.StreamID != "" {
		out = append(out, fmt.Sprintf("streamid %q", d.StreamID))
	}
	return strings.Join(append(out, "not played back (the return check plays RTSP only)"), ", ")
}

// tlsDetails says how the server's certificate is checked, for a URL over TLS.
func tlsDetails(d profiles.Destination) []string {
	switch {
	case !strings.HasPrefix(strings.ToLower(d.URL), "rtmps:") && !strings.HasPrefix(strings.ToLower(d.URL), "rtsps:"):
		return nil
	case d.TLSCAFile != "":
		return []string{"certificate checked against " + d.TLSCAFile}
	case d.TLSInsecure:
		return []string{"certificate not checked (tls_insecure)"}
	}
	return []string{"certificate checked against the system's authorities"}
}

// urlPath returns the path of a destination URL, without query or fragment.
func urlPath(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Path
}

// shellQuote renders an argv so it can be pasted into a POSIX shell to try by hand: words with
// characters the shell would interpret are single-quoted.
func shellQuote(argv []string) string {
	out := make([]string, len(argv))
	for i, a := range argv {
		if a != "" && !strings.ContainsAny(a, " \t\n'\"\\$`;&|<>()*?[]{}#~!") {
			out[i] = a
		} else {
			out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
	}
	return strings.Join(out, " ")
}
