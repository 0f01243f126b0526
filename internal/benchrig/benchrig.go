// Package benchrig is what the scripted benchmarks under tools/ share: test content made by
// ffmpeg, a liveinject channel that pushes it, and an RTSP server in the benchmark's process that
// takes the pushes.
package benchrig
