package main

import (
	"bytes"
	"errors"
	"image/jpeg"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/fftest"
)

// encodeKeyframe encodes one size picture of ffmpeg's test pattern with x264 and returns its
// NAL units without SPS and PPS, and its parameters, as the demuxer hands them on.
func encodeKeyframe(t *testing.T, size string) ([][]byte, *demux.Params) {
	t.Helper()
	fftest.Require(t)
	out := filepath.Join(t.TempDir(), "key.h264")
	cmd := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "testsrc=size="+size+":rate=25", "-frames:v", "1",
		"-c:v", "libx264", "-pix_fmt", "yuv420p", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var nalus h264.AnnexB
	if err := nalus.Unmarshal(b); err != nil {
		t.Fatal(err)
	}
	params := &demux.Params{}
	var au [][]byte
	for _, n := range nalus {
		switch h264.NALUType(n[0] & 0x1f) {
		case h264.NALUTypeSPS:
			params.SPS = n
		case h264.NALUTypePPS:
			params.PPS = n
		default:
			au = append(au, n)
		}
	}
	if params.SPS == nil || params.PPS == nil {
		t.Fatalf("x264's stream has no SPS or PPS: %d NAL units", len(nalus))
	}
	return au, params
}

// fakeKeyframes hands out one keyframe for channel "test", none for "empty", and counts the calls.
type fakeKeyframes struct {
	au     [][]byte
	params *demux.Params
	calls  atomic.Int64
}

func (f *fakeKeyframes) keyframe(channel string) ([][]byte, *demux.Params, bool) {
	f.calls.Add(1)
	if channel != "test" {
		return nil, nil, false
	}
	return f.au, f.params, true
}

func TestThumbnailer(t *testing.T) {
	au, params := encodeKeyframe(t, "1280x720")
	src := &fakeKeyframes{au: au, params: params}
	th := newThumbnailer("ffmpeg", src.keyframe)
	defer th.Close()

	t.Run("decodes to 320x180", func(t *testing.T) {
		b, at, err := th.Get(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		img, err := jpeg.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("not a JPEG: %v", err)
		}
		if got := img.Bounds().Size(); got.X != 320 || got.Y != 180 {
			t.Errorf("thumbnail is %v, want 320x180", got)
		}
		if time.Since(at) > time.Minute {
			t.Errorf("thumbnail made at %v", at)
		}
		t.Logf("thumbnail: %d bytes, %v", len(b), img.Bounds().Size())
	})

	t.Run("20 concurrent requests, one decode", func(t *testing.T) {
		th := newThumbnailer("ffmpeg", src.keyframe)
		defer th.Close()
		var wg sync.WaitGroup
		results := make([][]byte, 20)
		errs := make([]error, 20)
		for i := range results {
			wg.Go(func() { results[i], _, errs[i] = th.Get(t.Context(), "test") })
		}
		wg.Wait()
		for i := range results {
			if errs[i] != nil || !bytes.Equal(results[i], results[0]) || len(results[i]) == 0 {
				t.Errorf("request %d: %d bytes, %v; want the same JPEG as the first", i, len(results[i]), errs[i])
			}
		}
		if n := th.Decodes(); n != 1 {
			t.Errorf("%d decodes for 20 concurrent requests, want 1", n)
		}
	})

	t.Run("same keyframe after MaxAge: no decode", func(t *testing.T) {
		th := newThumbnailer("ffmpeg", src.keyframe)
		defer th.Close()
		th.MaxAge = time.Millisecond
		first, at1, err := th.Get(t.Context(), "test")
		if err != nil {
			t.Fatal(err)
		}
		fftest.WaitFor(t, time.Second, "MaxAge to pass", func() bool { return time.Since(at1) > th.MaxAge })
		second, at2, err := th.Get(t.Context(), "test")
		if err != nil || !bytes.Equal(first, second) || !at2.After(at1) {
			t.Errorf("second Get: %v, same JPEG %v, at %v after %v", err, bytes.Equal(first, second), at2, at1)
		}
		if n := th.Decodes(); n != 1 {
			t.Errorf("%d decodes of one keyframe, want 1", n)
		}
	})

	t.Run("no keyframe", func(t *testing.T) {
		th := newThumbnailer("ffmpeg", src.keyframe)
		defer th.Close()
		if _, _, err := th.Get(t.Context(), "empty"); !errors.Is(err, errNoKeyframe) {
			t.Errorf("Get of a channel without keyframe: %v, want errNoKeyframe", err)
		}
		if n := th.Decodes(); n != 0 || len(th.entries) != 0 {
			t.Errorf("%d decodes and %d entries for a channel without keyframe, want none", n, len(th.entries))
		}
	})

	t.Run("broken keyframe", func(t *testing.T) {
		bad := &fakeKeyframes{au: [][]byte{{0x65, 0xff, 0x00, 0x13}}, params: params}
		th := newThumbnailer("ffmpeg", bad.keyframe)
		defer th.Close()
		_, _, err := th.Get(t.Context(), "test")
		if err == nil {
			t.Fatal("a broken keyframe made a thumbnail")
		}
		// the failure is kept for MaxAge like a picture
		if _, _, again := th.Get(t.Context(), "test"); again == nil || th.Decodes() != 1 {
			t.Errorf("second Get: %v after %d decodes, want the same failure after one", again, th.Decodes())
		}
		t.Logf("broken keyframe: %v", err)
	})
}

func TestAnnexB(t *testing.T) {
	params := &demux.Params{SPS: []byte{0x67, 1}, PPS: []byte{0x68, 2}}
	// an AU that carries parameter sets of its own gets those in force, once, first
	au := [][]byte{{0x09, 0xf0}, {0x67, 9}, {0x68, 9}, {0x65, 3}}
	want := []byte{0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x65, 3}
	if got := annexB(au, params); !bytes.Equal(got, want) {
		t.Errorf("annexB = % x, want % x", got, want)
	}
}
