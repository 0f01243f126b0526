package inject

import (
	"testing"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
	"github.com/liveinject/liveinject/internal/ticks"
)

// TestTap checks what a recording gets from the Fanout: every live frame in channel time, going
// forward across a hold and a new ffmpeg run; not the held pictures; and a gap on the first
// frame after the hold.
func TestTap(t *testing.T) {
	fr := demuxtest.Frames(t, "1")
	type tapped struct {
		fr       *demux.Frame
		pts, dts int64
		gap      bool
	}
	var got []tapped
	f := &Fanout{Channel: "test", Tap: func(fr *demux.Frame, pts, dts int64, gap bool) {
		got = append(got, tapped{fr, pts, dts, gap})
	}}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	push := func() {
		start := time.Now()
		for _, x := range fr {
			time.Sleep(time.Until(start.Add(time.Duration(x.DTS-fr[0].DTS) * time.Second / 90000))) // a live source's pace
			if err := f.WriteFrame(x); err != nil {
				t.Fatal(err)
			}
		}
	}
	push()
	first := len(got)
	for range 2 {
		if err := f.Hold(time.Now(), nil); err != nil {
			t.Fatal(err)
		}
	}
	f.Discontinuity()
	push()
	if len(got) != 2*len(fr) {
		t.Fatalf("%d frames tapped, want the %d live ones and no held one", len(got), 2*len(fr))
	}
	var lastVideo int64
	for i, g := range got {
		if g.fr != fr[i%len(fr)] {
			t.Fatalf("frame %d tapped is not the one written", i)
		}
		if g.gap != (i == first) {
			t.Errorf("frame %d: gap %v", i, g.gap)
		}
		if g.fr.Kind == demux.Audio && g.pts != g.dts {
			t.Errorf("audio frame %d: dts %d, pts %d", i, g.dts, g.pts)
		}
		if g.fr.Kind == demux.Video {
			if g.dts-g.fr.DTS != g.pts-g.fr.PTS {
				t.Errorf("video frame %d: pts and dts moved apart", i)
			}
			if lastVideo != 0 && g.dts <= lastVideo {
				t.Errorf("video frame %d at %d, not after %d", i, g.dts, lastVideo)
			}
			lastVideo = g.dts
		}
	}
	// channel time counts from the Unix epoch (see channelClock)
	if d := ticks.Duration(got[0].dts); time.Since(time.Unix(0, 0))-d > time.Minute {
		t.Errorf("channel time %d is not the wall clock's", got[0].dts)
	}
}
