package demux

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"testing"
	"time"
)

// TestPacketReaderResync damages the packet framing: garbage full of sync bytes before and
// between packets, a lost byte, a lost sync byte, a cut last packet. Read at once, every intact
// packet comes out and what was skipped is counted; read in pieces, at least the packets that
// do not follow damage.
func TestPacketReaderResync(t *testing.T) {
	w := newTSWriter()
	var pkts [][]byte
	for i := range 13 {
		pkts = append(pkts, w.packet(testVideo, false, nil, pattern(184, byte(i))))
	}
	garbage := bytes.Repeat([]byte{tsSyncByte, 0x00}, 40)
	var in []byte
	in = append(in, garbage...)
	in = append(in, pkts[0]...)
	in = append(in, pkts[1]...)
	in = append(in, garbage...) // between packets, starting with a sync byte
	in = append(in, pkts[2]...)
	in = append(in, pkts[3][:100]...) // a byte lost from packet 3
	in = append(in, pkts[3][101:]...)
	in = append(in, pkts[4]...)
	in = append(in, pkts[5]...)
	in = append(in, pkts[6]...)
	in = append(in, 0x00)
	in = append(in, pkts[7][1:]...) // packet 7 lost its sync byte
	in = append(in, pkts[8]...)
	in = append(in, pkts[9]...)
	in = append(in, pkts[10]...)
	in = append(in, pkts[11][:50]...) // cut
	want := [][]byte{pkts[0], pkts[1], pkts[2], pkts[4], pkts[5], pkts[6], pkts[8], pkts[9], pkts[10]}
	wantSkipped := 2*len(garbage) + (tsPacketSize - 1) + tsPacketSize + 50

	for _, n := range []int{1, 7, 188, 1000, 1 << 16} {
		var got [][]byte
		skipped := 0
		var p packetReader
		p.onSkip = func(k int) { skipped += k }
		p.reset(&chunkReader{bytes.NewReader(in), n})
		for {
			pkt, err := p.next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, bytes.Clone(pkt))
		}
		if n >= len(in) {
			if len(got) != len(want) {
				t.Fatalf("reads of %d: %d packets, want %d", n, len(got), len(want))
			}
			for i := range want {
				if !bytes.Equal(got[i], want[i]) {
					t.Fatalf("reads of %d: packet %d differs", n, i)
				}
			}
		} else {
			// In sync, a packet is handed on as soon as it is whole, and the byte after it may
			// not be there yet to say whether damage comes next: then the packet right after
			// the damage is lost, and a packet of damage goes on (for the demuxer to refuse by
			// PID and counter).
			var intact []int // indexes into pkts, in the order they came out
			for _, g := range got {
				for j, p := range pkts {
					if bytes.Equal(g, p) {
						intact = append(intact, j)
					}
				}
			}
			var kept []int
			for i, j := range intact {
				if i > 0 && j <= intact[i-1] || j == 3 || j == 7 || j > 10 {
					t.Fatalf("reads of %d: packets %v came out", n, intact)
				}
				if j != 2 && j != 4 {
					kept = append(kept, j)
				}
			}
			if fmt.Sprint(kept) != "[0 1 5 6 8 9 10]" {
				t.Fatalf("reads of %d: packets %v came out, want 0, 1, 5, 6, 8, 9, 10 among them", n, intact)
			}
			continue
		}
		if skipped != wantSkipped {
			t.Errorf("reads of %d: %d bytes skipped, want %d", n, skipped, wantSkipped)
		}
	}
}

// TestPacketReaderHandsOnWhatHasArrived checks that, in sync, a packet comes out as soon as it
// is whole: the writer writes each packet only once the one before has come out.
func TestPacketReaderHandsOnWhatHasArrived(t *testing.T) {
	w := newTSWriter()
	pr, pw := io.Pipe()
	defer pr.Close()
	var p packetReader
	p.reset(pr)
	out := make(chan int)
	go func() {
		defer pw.Close()
		for i := range 6 {
			// The first packet is taken once the second confirms it, then each on its own.
			if i >= 2 {
				if _, ok := <-out; !ok {
					return
				}
			}
			if _, err := pw.Write(w.packet(testVideo, false, nil, pattern(184, byte(i)))); err != nil {
				return
			}
		}
	}()
	defer close(out)
	got := make(chan error)
	for i := range 6 {
		go func() {
			pkt, err := p.next()
			if err == nil && pkt[4] != byte(i) {
				err = errors.New("out of order")
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("packet %d: %v", i, err)
			}
		case <-time.After(5 * time.Second):
			pr.Close()
			<-got
			t.Fatalf("packet %d did not come out before the next was written", i)
		}
		if i >= 1 && i < 5 {
			out <- i
		}
	}
}
