package supervisor

import "sync"

// mailbox hands values from any goroutine to the one that owns a state, without ever making the
// sender wait: put leaves a value, and a value not taken yet is replaced (the latest wins). The
// owner selects on ready and then takes. The zero mailbox is ready to use.
type mailbox[T any] struct {
	mu   sync.Mutex
	v    T
	full bool
	kick chan struct{} // one signal pending at most
}

// put leaves v in place of a value not taken yet, and wakes the owner.
func (m *mailbox[T]) put(v T) {
	m.mu.Lock()
	m.v, m.full = v, true
	m.mu.Unlock()
	m.wake()
}

// wake signals ready without a value: the owner then finds none, or one put meanwhile.
func (m *mailbox[T]) wake() {
	select {
	case m.ready() <- struct{}{}:
	default: // a signal is pending already
	}
}

// take returns the value put and not taken yet; ok is false when there is none.
func (m *mailbox[T]) take() (v T, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok = m.v, m.full
	var zero T
	m.v, m.full = zero, false
	return v, ok
}

// pending reports whether a value waits to be taken.
func (m *mailbox[T]) pending() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.full
}

// ready returns the channel that receives after a put or a wake; signals that come while one
// is pending make one.
func (m *mailbox[T]) ready() chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.kick == nil {
		m.kick = make(chan struct{}, 1)
	}
	return m.kick
}
