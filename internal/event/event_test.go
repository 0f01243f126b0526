package event

import (
	"testing"
	"time"
)

func TestEmitStampsTime(t *testing.T) {
	var got []Event
	s := Sink(func(e Event) { got = append(got, e) })
	at := time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)
	s.Emit(Event{Kind: ChannelStarted, Channel: "a"})
	s.Emit(Event{Kind: ChannelStopped, Channel: "a", Time: at})
	if len(got) != 2 || got[0].Time.IsZero() || !got[1].Time.Equal(at) {
		t.Fatalf("got %+v", got)
	}
	Sink(nil).Emit(Event{Kind: ChannelStarted}) // a nil sink drops it
}
