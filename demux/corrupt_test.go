package demux

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestReaderSurvivesDamage feeds damaged variants of a 3 s TS and checks that the reader never
// panics, ends cleanly, counts the damage, and still delivers most of the stream, every frame
// with its parameters.
func TestReaderSurvivesDamage(t *testing.T) {
	_, data := makeTS(t, "3", "-c:v", "libx264", "-tune", "zerolatency", "-g", "25", "-c:a", "aac", "-ac", "2")
	packets := len(data) / 188
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name      string
		damage    func() []byte
		minFrames int // video frames out of 75
		reported  bool
	}{
		// A lost packet drops its PES, reported by the continuity counters: a burst loses
		// a frame or two, and the reader goes on with the next ones.
		{"a burst of 20 packets lost", func() []byte {
			at := packets * 2 / 5 * 188
			return append(bytes.Clone(data[:at]), data[at+20*188:]...)
		}, 70, true},
		{"bits flipped in 1% of packets", func() []byte {
			out := bytes.Clone(data)
			for range packets / 100 {
				i := rng.IntN(packets)*188 + 4 + rng.IntN(184)
				out[i] ^= 1 << rng.IntN(8)
			}
			return out
		}, 30, false}, // most flips land in payload, which carries no checksum
		{"cut in the middle of a packet", func() []byte {
			return data[:len(data)/2+77]
		}, 30, true},
		{"garbage between packets", func() []byte {
			var out []byte
			for i := range packets {
				out = append(out, data[i*188:(i+1)*188]...)
				if i%200 == 199 {
					out = append(out, bytes.Repeat([]byte{0x47, 0x00}, 33)...)
				}
			}
			return out
		}, 70, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var decodeErrors int
			r := &Reader{R: bytes.NewReader(tc.damage()), OnDecodeError: func(error) { decodeErrors++ }}
			if err := r.Initialize(); err != nil {
				t.Fatal(err)
			}
			var video int
			err := r.Run(func(f *Frame) error {
				if f.Params == nil || len(f.Data) == 0 || f.Kind == Video && f.Params.SPS == nil {
					t.Fatalf("frame without parameters or data: %+v", f)
				}
				if f.Kind == Video {
					video++
				}
				return nil
			})
			t.Logf("%d video frames, %d decode errors, end: %v", video, decodeErrors, err)
			if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Run ended with %v, want the end of the stream", err)
			}
			if video < tc.minFrames {
				t.Errorf("%d video frames, want at least %d", video, tc.minFrames)
			}
			if tc.reported && decodeErrors == 0 {
				t.Errorf("the damage was not reported")
			}
		})
	}
}

// withoutPID returns the TS packets of data that are not on pid, and how many it left out.
func withoutPID(data []byte, pid uint16) ([]byte, int) {
	var out []byte
	removed := 0
	for i := 0; i+188 <= len(data); i += 188 {
		pkt := data[i : i+188]
		if uint16(pkt[1]&0x1f)<<8|uint16(pkt[2]) == pid {
			removed++
			continue
		}
		out = append(out, pkt...)
	}
	return out, removed
}

// TestReaderTrackThatNeverComes streams, as a live pipe does, a program whose PMT lists an
// audio track that has no data: Initialize must give up within its bounds with a clear error
// instead of reading, and keeping, the stream forever.
func TestReaderTrackThatNeverComes(t *testing.T) {
	_, data := makeTS(t, "1")
	// ffmpeg's mpegts muxer puts the second stream, the audio, on PID 0x101.
	videoOnly, removed := withoutPID(data, 0x101)
	if removed == 0 {
		t.Fatal("no audio packets on PID 0x101 in the test TS")
	}
	for _, tc := range []struct {
		name string
		r    func(io.Reader) *Reader
	}{
		// mediacommon's own limit: 1 MiB, a fraction of a second here
		{"byte bound", func(in io.Reader) *Reader { return &Reader{R: in} }},
		{"time bound", func(in io.Reader) *Reader { return &Reader{R: in, ProbeTimeout: 50 * time.Millisecond} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr, pw := io.Pipe()
			// a live source: the video goes on and on, at about 8 MB/s
			go func() {
				tick := time.NewTicker(time.Millisecond)
				defer tick.Stop()
				for {
					for i := 0; i+188*40 <= len(videoOnly); i += 188 * 40 {
						if _, err := pw.Write(videoOnly[i : i+188*40]); err != nil {
							return
						}
						<-tick.C
					}
				}
			}()
			defer pr.Close()
			done := make(chan error, 1)
			go func() { done <- tc.r(pr).Initialize() }()
			select {
			case err := <-done:
				if !errors.Is(err, ErrProbeLimit) || !strings.Contains(err.Error(), `audio.encoder = "none"`) {
					t.Errorf("Initialize: %v, want ErrProbeLimit with a hint", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Initialize still reading after 10 s")
			}
		})
	}
}
