//go:build norawio

package rawio

// enabled is off under the norawio tag: every descriptor is read and written as usual, for
// measuring what rawio saves against the runtime's own calls (BENCHMARKS.md).
const enabled = false
