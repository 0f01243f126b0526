package backoff

import (
	"testing"
	"time"
)

func TestBackoffDoublesToCapAndResets(t *testing.T) {
	b := Backoff{Min: 100 * time.Millisecond, Max: time.Second}
	want := []time.Duration{100, 200, 400, 800, 1000, 1000, 1000}
	for i, w := range want {
		w *= time.Millisecond
		got := b.Next()
		if got < w*8/10 || got > w*12/10 {
			t.Fatalf("attempt %d: delay %v, want %v ±20%%", i, got, w)
		}
	}
	b.Reset()
	if got := b.Next(); got > 120*time.Millisecond {
		t.Fatalf("after Reset: delay %v, want about 100ms", got)
	}
}
