package supervisor

import (
	"time"

	"github.com/liveinject/liveinject/demux"
)

// Keyframe returns the latest keyframe of a channel and its parameters (see
// inject.Fanout.Keyframe); ok is false for an unknown channel, one whose injector could not start
// and one that has had no keyframe yet.
func (s *Supervisor) Keyframe(name string) (au [][]byte, params *demux.Params, ok bool) {
	s.mu.Lock()
	c, found := s.byName[name]
	s.mu.Unlock()
	if !found {
		return nil, nil, false
	}
	f := c.injector()
	if f == nil {
		return nil, nil, false
	}
	return f.Keyframe()
}

// LastFrame returns when a channel's injector last got a live frame from ffmpeg; zero for an
// unknown channel and before the first frame.
func (s *Supervisor) LastFrame(name string) time.Time {
	s.mu.Lock()
	c, found := s.byName[name]
	s.mu.Unlock()
	if !found {
		return time.Time{}
	}
	if f := c.injector(); f != nil {
		return f.LastLive()
	}
	return time.Time{}
}
