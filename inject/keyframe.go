package inject

import "github.com/liveinject/liveinject/demux"

// Keyframe returns the channel's latest keyframe as Hold would send it: its NAL units (without
// start codes) and the parameters in force for it; ok is false before the first keyframe. The
// NAL units are shared with the Fanout and never modified: the caller must not modify them.
func (f *Fanout) Keyframe() (au [][]byte, params *demux.Params, ok bool) {
	f.wmu.Lock()
	defer f.wmu.Unlock()
	if f.key == nil {
		return nil, nil, false
	}
	return append([][]byte(nil), f.key.Data...), f.key.Params, true
}
