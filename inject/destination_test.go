package inject

import (
	"slices"
	"testing"

	"github.com/pion/rtp"
)

// TestNextKey checks where a session starts: after a try that failed, from where that try began
// while nothing is missing and the backlog is short; else at the newest IDR.
func TestNextKey(t *testing.T) {
	u := func(n uint64, key bool) *unit { return &unit{n: n, key: key, pkts: []*rtp.Packet{{}}} }
	for _, tc := range []struct {
		name      string
		queueSize int
		start     []*unit
		queued    []*unit
		want      []uint64
		dropped   uint64
	}{
		{"fresh: newest IDR", 100, nil,
			[]*unit{u(1, false), u(2, true), u(3, false), u(4, true), u(5, false)}, []uint64{4, 5}, 3},
		{"kept, no gap: everything", 100, []*unit{u(1, true)},
			[]*unit{u(2, false), u(3, true), u(4, false)}, []uint64{1, 2, 3, 4}, 0},
		{"kept, a gap: the IDR after it", 100, []*unit{u(1, true), u(2, false)},
			[]*unit{u(5, true), u(6, false)}, []uint64{5, 6}, 2},
		{"kept, a gap without an IDR: wait for one", 100, []*unit{u(1, true)},
			[]*unit{u(5, false), u(6, false), u(7, true)}, []uint64{7}, 3},
		{"kept, too long: newest IDR", 3, []*unit{u(1, true)},
			[]*unit{u(2, false), u(3, false), u(4, false), u(5, true), u(6, false)}, []uint64{5, 6}, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &destination{cfg: settings{queueSize: tc.queueSize}, queue: make(chan *unit, len(tc.queued))}
			for _, x := range tc.queued {
				d.queue <- x
			}
			got, ok := d.nextKey(t.Context(), tc.start)
			var ns []uint64
			for _, x := range got {
				ns = append(ns, x.n)
			}
			if !ok || !slices.Equal(ns, tc.want) || d.dropped.Load() != tc.dropped {
				t.Errorf("got %v (%v), %d dropped; want %v, %d dropped", ns, ok, d.dropped.Load(), tc.want, tc.dropped)
			}
		})
	}
}
