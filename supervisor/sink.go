package supervisor

import "github.com/liveinject/liveinject/demux"

// Sink receives a channel's frames: the injector.
type Sink interface {
	// WriteFrame must not block on the network.
	WriteFrame(*demux.Frame) error
	// Discontinuity announces that the next frame comes from a new ffmpeg run.
	Discontinuity()
}
