package inject

import (
	"bytes"
	"slices"
	"testing"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/demuxtest"
)

// TestKeyframe reads the latest keyframe back, as thumbnails do: none before the first, then the
// last one written, with its parameters, whatever the caller does to the slice it got.
func TestKeyframe(t *testing.T) {
	fr := demuxtest.Frames(t, "2")
	s := newFakeServer(t, nil)
	f := &Fanout{Channel: "test", Targets: []Target{{URL: s.url("/test.sdp")}}, QueueSize: 1024}
	if err := f.Initialize(); err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, ok := f.Keyframe(); ok {
		t.Fatal("a keyframe before any frame")
	}
	var last *demux.Frame
	for _, x := range fr {
		if err := f.WriteFrame(x); err != nil {
			t.Fatal(err)
		}
		if x.Kind == demux.Video && x.Key {
			last = x
		}
	}
	if last == nil {
		t.Fatal("the test stream has no keyframe")
	}
	au, params, ok := f.Keyframe()
	if !ok || !slices.EqualFunc(au, last.Data, bytes.Equal) || !params.Equal(last.Params) || params.SPS == nil {
		t.Fatalf("Keyframe() = %d NAL units, params %v, %v; want the last keyframe's %d", len(au), params, ok, len(last.Data))
	}
	au[0] = nil
	if again, _, _ := f.Keyframe(); again[0] == nil {
		t.Error("changing the returned slice changed the Fanout's keyframe")
	}
}
