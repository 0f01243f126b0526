package demux

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// videoPESStart reports whether a TS packet starts a video PES (stream_id 0xE0..0xEF), and
// whether that PES has a length.
func videoPESStart(pkt []byte) (start, bounded bool) {
	if pkt[1]&0x40 == 0 { // payload_unit_start_indicator
		return false, false
	}
	payload := 4
	switch pkt[3] & 0x30 >> 4 { // adaptation_field_control
	case 1:
	case 3:
		payload += 1 + int(pkt[4])
	default:
		return false, false
	}
	p := pkt[min(payload, len(pkt)):]
	if len(p) < 6 || p[0] != 0 || p[1] != 0 || p[2] != 1 || p[3]&0xf0 != 0xe0 {
		return false, false
	}
	return true, p[4] != 0 || p[5] != 0
}

// TestReaderHandsOnBoundedPESAtOnce feeds a TS made the way the supervisor's ffmpeg makes it
// (video PES with lengths) through a pipe, one TS packet at a time, and before the first packet
// of each video PES waits until the access unit before it has come out of the reader: a frame
// whose PES has a length does not wait for the next one to start. (The reader this package had
// before, on go-astits v1.13.0, handed each PES on only at the start of the next one: a frame
// of delay.)
func TestReaderHandsOnBoundedPESAtOnce(t *testing.T) {
	_, data := makeTS(t, "2")
	pr, pw := io.Pipe()

	var mu sync.Mutex
	frames := 0
	emitted := make(chan struct{}, 1000)
	videoFrames := func() int {
		mu.Lock()
		defer mu.Unlock()
		return frames
	}
	// Initialize reads ahead to find the audio configuration, and hands nothing on: the writer
	// waits for frames only once it has returned.
	var initialized atomic.Bool

	written := make(chan error, 1)
	checked := 0
	go func() {
		defer pw.Close()
		pes, bounded := 0, false
		for off := 0; off+tsPacketSize <= len(data); off += tsPacketSize {
			pkt := data[off : off+tsPacketSize]
			if start, b := videoPESStart(pkt); start {
				// PES 0 .. pes-1 are written: all are out, but the last one if it has no length.
				want := pes
				if !bounded {
					want--
				}
				if initialized.Load() {
					checked++
					deadline := time.After(5 * time.Second)
					for videoFrames() < want {
						select {
						case <-emitted:
						case <-deadline:
							written <- fmt.Errorf("before video PES %d: %d access units out, want %d", pes, videoFrames(), want)
							return
						}
					}
				}
				pes, bounded = pes+1, b
			}
			if _, err := pw.Write(pkt); err != nil {
				written <- err
				return
			}
		}
		written <- nil
	}()

	r := &Reader{R: pr}
	if err := r.Initialize(); err != nil {
		t.Fatal(err)
	}
	initialized.Store(true)
	err := r.Run(func(f *Frame) error {
		if f.Kind == Video {
			mu.Lock()
			frames++
			mu.Unlock()
			emitted <- struct{}{}
		}
		return nil
	})
	if !errors.Is(err, io.EOF) {
		t.Errorf("Run: %v", err)
	}
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	if n := videoFrames(); n != 50 {
		t.Errorf("%d video frames, want 50", n)
	}
	if checked < 40 {
		t.Errorf("checked before %d video PES of 50, want most", checked)
	}
}
