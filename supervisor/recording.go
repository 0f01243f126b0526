package supervisor

import (
	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/record"
)

// A channel's outputs are its injector (the destinations) and its recording: the injector
// takes the frames from the switcher and taps them, as they go on air in channel time, to the
// recording (see inject.Fanout.Tap), which the channel's goroutine starts, reconfigures and
// stops on its own, so that a [record] change never touches ffmpeg nor the destinations.

// recordConfig returns the recording settings of profile p.
func recordConfig(p profiles.Channel) record.Config {
	r := p.Record
	return record.Config{
		Dir: r.ChannelDir(p.Name), Segment: r.Segment.Std(), Keep: r.Keep.Std(), MaxSize: int64(r.MaxSize),
		MinFreeBytes: int64(r.MinFree.Bytes), MinFreePercent: r.MinFree.Percent,
	}
}

// setRecord makes the channel's recording that of profile p: started, reconfigured (a new
// folder, segment length or limits) or stopped. Only the channel's goroutine calls it.
func (c *channel) setRecord(p profiles.Channel) {
	r := c.rec.Load()
	switch {
	case !p.Record.On && r != nil:
		c.rec.Store(nil)
		r.Close()
		c.log.Info("recording off")
	case !p.Record.On:
	case r == nil:
		r = &record.Recorder{Channel: c.name, Config: recordConfig(p), Logger: c.log.With("output", "record")}
		if err := r.Initialize(); err != nil {
			c.log.Error("recording not started", "file", p.File, "error", err)
			return
		}
		c.log.Info("recording on", "dir", r.Config.Dir)
		c.rec.Store(r)
	default:
		r.SetConfig(recordConfig(p))
	}
}

// stopRecord ends the channel's recording, its segment closed.
func (c *channel) stopRecord() {
	if r := c.rec.Swap(nil); r != nil {
		r.Close()
	}
}

// tap hands a frame that went on air to the recording, if any (see inject.Fanout.Tap).
func (c *channel) tap(fr *demux.Frame, pts, dts int64, gap bool) {
	r := c.rec.Load()
	if r == nil {
		return
	}
	if gap {
		r.Gap("the channel held its last picture: its inputs gave no frame")
	}
	r.WriteFrame(fr, pts, dts)
}
