package demux

import (
	"bytes"
	"errors"
)

// startCode is the 3-byte Annex-B start code; a 4-byte one is a zero byte and this.
var startCode = []byte{0, 0, 1}

var errNoStartCode = errors.New("H.264 access unit does not start with a start code")

// splitAnnexB appends the NAL units of an Annex-B access unit to nalus[:0] and returns it. The
// NAL units point into au. It finds the start codes with bytes.Index (vectorised), one pass, and
// cuts where mediacommon's h264.AnnexB.Unmarshal does: a zero byte before a start code belongs
// to the 4-byte start code, and empty units are left out.
func splitAnnexB(au []byte, nalus [][]byte) ([][]byte, error) {
	nalus = nalus[:0]
	if len(au) < 3 || au[0] != 0 || au[1] != 0 || au[2] != 1 && (au[2] != 0 || len(au) < 4 || au[3] != 1) {
		return nalus, errNoStartCode
	}
	start := bytes.Index(au, startCode) + len(startCode)
	for {
		i := bytes.Index(au[start:], startCode)
		if i < 0 {
			if start < len(au) {
				nalus = append(nalus, au[start:])
			}
			return nalus, nil
		}
		end := start + i
		if end > start && au[end-1] == 0 {
			end--
		}
		if end > start {
			nalus = append(nalus, au[start:end])
		}
		start += i + len(startCode)
	}
}
