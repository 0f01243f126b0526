//go:build !norawio

package rawio

// enabled: Conn hands out raw connections. Build with -tags norawio to measure the runtime's
// own reads and writes instead (BENCHMARKS.md).
const enabled = true
