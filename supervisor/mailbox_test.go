package supervisor

import (
	"testing"
)

// TestMailbox puts values faster than they are taken: the latest wins, and ready says when
// there may be one.
func TestMailbox(t *testing.T) {
	var m mailbox[int]
	if v, ok := m.take(); ok || m.pending() {
		t.Errorf("empty mailbox: took %d, pending %v", v, m.pending())
	}
	m.put(1)
	m.put(2)
	if !m.pending() {
		t.Error("a value put is not pending")
	}
	select {
	case <-m.ready():
	default:
		t.Fatal("ready has no signal after put")
	}
	select {
	case <-m.ready():
		t.Error("two signals for two puts not taken: one is enough")
	default:
	}
	if v, ok := m.take(); !ok || v != 2 {
		t.Errorf("took %d, %v, want the latest, 2", v, ok)
	}
	if v, ok := m.take(); ok {
		t.Errorf("took %d again", v)
	}

	m.wake()
	select {
	case <-m.ready():
	default:
		t.Fatal("ready has no signal after wake")
	}
	if v, ok := m.take(); ok {
		t.Errorf("took %d after a wake without a value", v)
	}
}

// TestMailboxConcurrent puts 1 to n from one goroutine while another takes: the values taken
// only grow, and the last is n.
func TestMailboxConcurrent(t *testing.T) {
	const n = 10000
	var m mailbox[int]
	ready := m.ready()
	go func() {
		for i := 1; i <= n; i++ {
			m.put(i)
		}
	}()
	last := 0
	for last < n {
		<-ready
		if v, ok := m.take(); ok {
			if v <= last {
				t.Fatalf("took %d after %d", v, last)
			}
			last = v
		}
	}
}
