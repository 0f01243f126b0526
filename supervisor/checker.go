package supervisor

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/liveinject/liveinject/profiles"
)

// probeTimeout bounds `ffmpeg -encoders`, which answers in well under a second.
const probeTimeout = 10 * time.Second

// Checker looks for what would keep a channel's ffmpeg from running, before it starts: an
// encoder this ffmpeg was built without, a device or file that is not there. It asks each
// ffmpeg binary for its encoders and remembers the answer; a failure is told to the checks
// waiting for that answer, and the next check asks again (a box under load, a binary being
// upgraded). The zero Checker is ready to use, from several goroutines.
type Checker struct {
	mu       sync.Mutex
	encoders map[string]map[string]bool   // by ffmpeg binary: the names it lists
	probing  map[string]*encoderListProbe // by ffmpeg binary: the question under way
}

// encoderListProbe is one question to an ffmpeg binary for its encoders; done is closed once names
// and err are set.
type encoderListProbe struct {
	done  chan struct{}
	names map[string]bool
	err   error
}

// Check returns the problems of channel ch run with ffmpeg, in the order they would bite. An
// ffmpeg that is not found is not among them: the caller says that once for all channels. When
// ctx ends, the encoders are not known and Check says so.
func (c *Checker) Check(ctx context.Context, ch profiles.Channel, ffmpeg string) []*Problem {
	var msgs []string
	if bin, err := exec.LookPath(ffmpeg); err == nil {
		msgs = append(msgs, c.checkEncoders(ctx, ch, bin)...)
	}
	s, v := ch.Source, ch.Video
	switch s.Kind {
	case profiles.SourceV4L2:
		msgs = append(msgs, checkPath(s.Device, "v4l2 device", "is the camera plugged in?"))
	case profiles.SourceFile:
		msgs = append(msgs, checkPath(s.Path, "file", "its path must name a media file"))
	}
	if v.Encoder == profiles.EncoderVAAPI {
		msgs = append(msgs, checkPath(v.VAAPIDevice, "VAAPI device", "h264_vaapi needs an Intel or AMD GPU with its driver"))
	}
	var out []*Problem
	for _, m := range msgs {
		if m != "" {
			out = append(out, &Problem{Channel: ch.Name, File: ch.File, Msg: m})
		}
	}
	return out
}

// checkEncoders says which of the channel's encoders ffmpeg at bin lacks. A listed encoder may
// still fail for want of its hardware: that shows as the cause "unsupported encoder" once ffmpeg
// has run.
func (c *Checker) checkEncoders(ctx context.Context, ch profiles.Channel, bin string) []string {
	names, err := c.list(ctx, bin)
	if err != nil {
		return []string{fmt.Sprintf("cannot list the encoders of %s: %v", bin, err)}
	}
	var msgs []string
	for _, e := range []struct{ kind, name string }{{"video", ch.Video.Encoder}, {"audio", ch.Audio.Encoder}} {
		if e.name == profiles.EncoderCopy || e.name == "none" || names[e.name] {
			continue
		}
		msgs = append(msgs, fmt.Sprintf("%s encoder %s is not compiled into %s: choose another %s.encoder, "+
			"or install an ffmpeg built with it (`%s -hide_banner -encoders` lists those it has)", e.kind, e.name, bin, e.kind, bin))
	}
	return msgs
}

// list returns bin's encoders, asking it unless it has answered before. Checks that come while it
// is asked wait for that answer, or for their ctx to end.
func (c *Checker) list(ctx context.Context, bin string) (map[string]bool, error) {
	for {
		c.mu.Lock()
		if names, ok := c.encoders[bin]; ok {
			c.mu.Unlock()
			return names, nil
		}
		if probe := c.probing[bin]; probe != nil {
			c.mu.Unlock()
			select {
			case <-probe.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if probe.err != nil && errors.Is(probe.err, context.Canceled) {
				continue // the check that asked went away before the answer: ask again
			}
			return probe.names, probe.err
		}
		probe := &encoderListProbe{done: make(chan struct{})}
		if c.probing == nil {
			c.probing = make(map[string]*encoderListProbe)
			c.encoders = make(map[string]map[string]bool)
		}
		c.probing[bin] = probe
		c.mu.Unlock()

		probe.names, probe.err = probeEncoders(ctx, bin)
		c.mu.Lock()
		delete(c.probing, bin)
		if probe.err == nil {
			c.encoders[bin] = probe.names
		}
		c.mu.Unlock()
		close(probe.done)
		return probe.names, probe.err
	}
}

// probeEncoders runs `ffmpeg -encoders` and returns the names it lists.
func probeEncoders(ctx context.Context, bin string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "-hide_banner", "-nostdin", "-encoders")
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if ctx.Err() != nil {
		// the kill's "signal: killed" would hide why
		return nil, fmt.Errorf("%s -encoders: %w", bin, context.Cause(ctx))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return parseEncoders(out), nil
}

// parseEncoders reads the list `ffmpeg -encoders` prints: a legend, a line of dashes, then
// " V....D libx264   libx264 H.264 / AVC ..." per encoder.
func parseEncoders(out []byte) map[string]bool {
	names := make(map[string]bool)
	sc := bufio.NewScanner(bytes.NewReader(out))
	listed := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 1 && strings.HasPrefix(f[0], "---"):
			listed = true
		case listed && len(f) >= 2:
			names[f[1]] = true
		}
	}
	return names
}

// checkPath says what is wrong with a path the source or encoder opens, or "".
func checkPath(path, what, hint string) string {
	_, err := os.Stat(path)
	switch {
	case err == nil:
		return ""
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("%s %s not found: %s", what, path, hint)
	}
	return fmt.Sprintf("%s %s: %v", what, path, errors.Unwrap(err))
}
