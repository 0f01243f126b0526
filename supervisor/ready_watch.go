package supervisor

import (
	"context"
	"os"
	"time"

	"github.com/bluenviron/gortsplib/v4"
	"github.com/bluenviron/gortsplib/v4/pkg/base"

	"github.com/liveinject/liveinject/profiles"
)

// readyEvery is how often an input that waits in backoff is looked at (see watchReady).
const readyEvery = 500 * time.Millisecond

// watchReady cuts an input's backoff short when what it captures comes back: a camera that
// was unplugged and is again, a file that was missing, an RTSP camera that answers DESCRIBE
// again. Without it a camera that comes back after an hour waits out a backoff of up to a
// minute before its ffmpeg tries again, and the source returns that much later. The looks are
// cheap (a stat, one RTSP request) and never open the device: what is on air is not disturbed,
// and a device that opens once is not opened twice. Only a change from gone to back retries,
// so that a device that is there but fails to open keeps its backoff. source says what the
// input captures now (a reload may change it). It returns when ctx ends.
func watchReady(ctx context.Context, source func() *profiles.Source, enc *encoder) {
	tick := time.NewTicker(readyEvery)
	defer tick.Stop()
	wasReady := true
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		look, state := readyLook(*source()), enc.Status().State
		if look == nil || state == StateRunning {
			// (a test pattern, the slate, input_args: nothing to look at)
			wasReady = true
		}
		if look == nil || state != StateBackoff {
			continue // what was gone stays so through the tries that fail
		}
		ready := look(ctx)
		if ready && !wasReady {
			enc.Logger.Info("input is back: trying it now")
			enc.RetryNow()
		}
		wasReady = ready
	}
}

// readyLook returns how to tell whether source src is there, nil for a source that always is.
func readyLook(src profiles.Source) func(context.Context) bool {
	switch src.Kind {
	case profiles.SourceV4L2:
		return func(context.Context) bool { return exists(src.Device) }
	case profiles.SourceFile:
		return func(context.Context) bool { return exists(src.Path) }
	case profiles.SourceRTSP:
		return func(ctx context.Context) bool { return describes(ctx, src.URL, time.Duration(src.Timeout)) }
	}
	return nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// describes reports whether the RTSP server at raw answers DESCRIBE with a stream, within
// timeout (and readyEvery at most); the URL's user and password answer its challenge, as they
// do ffmpeg's.
func describes(ctx context.Context, raw string, timeout time.Duration) bool {
	u, err := base.ParseURL(raw)
	if err != nil {
		return false
	}
	timeout = min(timeout, readyEvery)
	if timeout <= 0 {
		timeout = readyEvery
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &gortsplib.Client{Scheme: u.Scheme, Host: u.Host, ReadTimeout: timeout, WriteTimeout: timeout}
	if err := c.Start2(); err != nil {
		return false
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, c.Close)
	defer stop()
	_, _, err = c.Describe(u)
	return err == nil
}
