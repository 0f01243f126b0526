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

// BenchmarkSplitAnnexB splits the access units of 5 s of 1080p25 H.264 at 8 Mbit/s (x264
// ultrafast, as BenchmarkReader's stream): splitAnnexB, and mediacommon's h264.AnnexB.Unmarshal
// that the reader used before. An op is all 125 access units.
func BenchmarkSplitAnnexB(b *testing.B) {
	_, data := makeTS(b, "5", "-s", "1920x1080", "-c:v", "libx264", "-preset", "ultrafast",
		"-tune", "zerolatency", "-b:v", "8M", "-minrate", "8M", "-maxrate", "8M", "-bufsize", "8M",
		"-g", "50", "-c:a", "aac", "-ac", "2")
	var aus [][]byte
	d := &tsDemuxer{decodeError: func(error) {}}
	d.onPMT = func(s []esInfo) error {
		v, _ := pickTracks(s)
		d.follow([2]int{v, -1})
		return nil
	}
	d.onPES = func(u *pesUnit) error {
		aus = append(aus, bytes.Clone(u.data))
		return nil
	}
	d.initialize()
	size := 0
	for i := 0; i+tsPacketSize <= len(data); i += tsPacketSize {
		if err := d.feed(data[i : i+tsPacketSize]); err != nil {
			b.Fatal(err)
		}
	}
	if err := d.flush(); err != nil {
		b.Fatal(err)
	}
	for _, au := range aus {
		size += len(au)
	}
	b.Run("splitAnnexB", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		var nalus [][]byte
		for b.Loop() {
			for _, au := range aus {
				var err error
				if nalus, err = splitAnnexB(au, nalus); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("mediacommon", func(b *testing.B) {
		b.SetBytes(int64(size))
		b.ReportAllocs()
		for b.Loop() {
			for _, au := range aus {
				var a h264.AnnexB
				if err := a.Unmarshal(au); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
