package demux

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
)

// TestSplitAnnexB cuts access units the way mediacommon's h264.AnnexB.Unmarshal does, on the
// shapes an encoder writes: 3- and 4-byte start codes, cabac_zero_words (zero bytes at the end
// of a unit), one unit, a unit that is a single byte.
func TestSplitAnnexB(t *testing.T) {
	for _, tc := range []struct {
		name string
		au   []byte
		want [][]byte
	}{
		{"4-byte start codes", []byte{0, 0, 0, 1, 9, 0xf0, 0, 0, 0, 1, 0x65, 1, 2}, [][]byte{{9, 0xf0}, {0x65, 1, 2}}},
		{"3-byte start codes", []byte{0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 3}, [][]byte{{0x67, 1}, {0x68, 2}, {0x65, 3}}},
		{"mixed", []byte{0, 0, 0, 1, 0x67, 0, 0, 1, 0x68, 0, 0, 0, 1, 0x65}, [][]byte{{0x67}, {0x68}, {0x65}}},
		{"cabac_zero_words", []byte{0, 0, 0, 1, 0x65, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0x41, 8}, [][]byte{{0x65, 7, 0, 0, 0, 0}, {0x41, 8}}},
		{"trailing zero", []byte{0, 0, 1, 0x65, 7, 0}, [][]byte{{0x65, 7, 0}}},
		{"one-byte unit", []byte{0, 0, 1, 9, 0, 0, 1, 0x65}, [][]byte{{9}, {0x65}}},
		{"start codes only", []byte{0, 0, 0, 1, 0, 0, 1}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := splitAnnexB(tc.au, nil)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("units %x, want %x", got, tc.want)
			}
			var ref h264.AnnexB
			if ref.Unmarshal(tc.au) == nil && fmt.Sprint([][]byte(ref)) != fmt.Sprint(got) {
				t.Errorf("units %x, mediacommon %x", got, ref)
			}
		})
	}
	if _, err := splitAnnexB([]byte{1, 0, 0, 1, 0x65}, nil); err == nil {
		t.Errorf("no error for an access unit without a start code first")
	}
}

// FuzzSplitAnnexB compares splitAnnexB with mediacommon's h264.AnnexB.Unmarshal on any input that
// starts with a start code (mediacommon's check of the first one is looser).
func FuzzSplitAnnexB(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x65, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0x41, 8})
	f.Add([]byte{0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 1, 0x65, 3, 0})
	f.Fuzz(func(t *testing.T, au []byte) {
		got, err := splitAnnexB(au, nil)
		if err != nil {
			return
		}
		var ref h264.AnnexB
		if ref.Unmarshal(au) != nil {
			if len(got) != 0 {
				t.Fatalf("units %x, mediacommon none", got)
			}
			return
		}
		if len(got) != len(ref) {
			t.Fatalf("%d units, mediacommon %d", len(got), len(ref))
		}
		for i := range got {
			if !bytes.Equal(got[i], ref[i]) {
				t.Fatalf("unit %d: %x, mediacommon %x", i, got[i], ref[i])
			}
		}
	})
}
