package demux

import (
	"bytes"
	"os"
	"testing"

	"github.com/liveinject/liveinject/internal/fftest"
)

// FuzzDemux feeds damaged MPEG-TS to the reader: it must return an error or frames, never panic,
// and never emit a frame without parameters.
func FuzzDemux(f *testing.F) {
	seed, err := os.ReadFile(fftest.TS(f, "0.3", "-s", "64x64", "-c:v", "libx264", "-g", "4", "-c:a", "aac"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:len(seed)/2])
	f.Add(seed[188*3:])
	f.Add([]byte{0x47})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := &Reader{R: bytes.NewReader(data)}
		if r.Initialize() != nil {
			return
		}
		r.Run(func(fr *Frame) error { //nolint:errcheck
			if fr.Params == nil || len(fr.Data) == 0 {
				t.Fatalf("frame without params or data: %+v", fr)
			}
			if fr.Kind == Video && (fr.Params.SPS == nil || fr.Params.PPS == nil) {
				t.Fatalf("video frame before parameter sets")
			}
			return nil
		})
	})
}
