package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/inject"
	"github.com/liveinject/liveinject/internal/benchrig"
	"github.com/liveinject/liveinject/profiles"
	"github.com/liveinject/liveinject/supervisor"
)

// stages is where one run's frames were on their way, each from the previous stage: the
// pass-through's write returned (w), this process's read of the pipe returned (r), the
// demuxer handed the frame to the fan-out (d), its first RTP packet arrived (a). Frames with a
// length only: one without waits for the next PES at d.
type stages struct {
	wr, rd, da, total []time.Duration
}

// timedReader hands every read, with the times it was called and returned, to read.
type timedReader struct {
	r    io.Reader
	read func(b []byte, begun, returned time.Time)
}

func (t *timedReader) Read(b []byte) (int, error) {
	begun := time.Now()
	n, err := t.r.Read(b)
	if n > 0 {
		t.read(b[:n], begun, time.Now())
	}
	return n, err
}

// measureStages runs the channel's path in this process instead of in liveinject: the same
// ffmpeg command line (supervisor.Args) through the pass-through, demux.Reader and
// inject.Fanout as a channel uses them; and notes when each frame passed each stage.
func measureStages(o options, rx *receiver, self, ts, name string) (runResult, stages, error) {
	dir := filepath.Join(o.work, name)
	config, err := benchrig.Channel{FFmpeg: self, Source: ts, URLs: []string{rx.URL(name, 0)}}.Write(dir)
	if err != nil {
		return runResult{}, stages{}, err
	}
	cfg, err := profiles.Load(config)
	if err != nil {
		return runResult{}, stages{}, err
	}
	ch := cfg.Channels[0]
	args, err := supervisor.Args(ch)
	if err != nil {
		return runResult{}, stages{}, err
	}
	logPath := filepath.Join(dir, "pes.log")
	os.Remove(logPath) //nolint:errcheck // a kept work directory's, from before

	// The stages are those of the push alone: no return check plays the receiver meanwhile.
	f := &inject.Fanout{Channel: ch.Name, Targets: []inject.Target{{URL: rx.URL(name, 0), NoVerify: true}}}
	if err := f.Initialize(); err != nil {
		return runResult{}, stages{}, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		f.Close()
		return runResult{}, stages{}, err
	}
	cmd := exec.Command(self, args...)
	cmd.Env = append(os.Environ(), envFFmpeg+"="+o.ffmpeg, envLog+"="+logPath)
	cmd.Stdout, cmd.Stderr = outW, io.Discard
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	outW.Close()
	if err != nil {
		outR.Close()
		f.Close()
		return runResult{}, stages{}, err
	}
	stop := time.AfterFunc(o.duration, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGINT) }) //nolint:errcheck
	defer stop.Stop()

	// the reads, the demuxer and the fan-out's WriteFrame are in this goroutine, as in a channel's
	var read []pesEnd
	tracker := newPESTracker(func(p pesEnd) { read = append(read, p) })
	handed := map[uint32]time.Time{} // by the frame's PTS, which counts from the stream's first
	r := &demux.Reader{R: &timedReader{r: outR, read: tracker.written}}
	err = r.Initialize()
	if err == nil {
		err = r.Run(func(fr *demux.Frame) error {
			if fr.Kind == demux.Video {
				handed[uint32(fr.PTS)] = time.Now()
			}
			return f.WriteFrame(fr)
		})
	}
	outR.Close()
	cmd.Wait() //nolint:errcheck // ended by SIGINT
	f.Close()
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return runResult{}, stages{}, fmt.Errorf("demux: %w", err)
	}

	written, err := readLog(logPath)
	if err != nil {
		return runResult{}, stages{}, err
	}
	got := rx.framesOf(name)
	total, err := match(written, got)
	if err != nil {
		return runResult{}, stages{}, err
	}
	toDemux, err := match(read, handed)
	if err != nil {
		return runResult{}, stages{}, fmt.Errorf("pairing the frames read with those demuxed: %w", err)
	}
	res := runResult{sent: len(written), received: len(got)}
	res.add(total, o.warmup)
	readAt := map[int64]time.Time{}
	for _, p := range read {
		readAt[p.PTS] = p.Written
	}
	handedAt := map[int64]time.Time{}
	for _, s := range toDemux.samples {
		handedAt[s.pes.PTS] = s.arrived
	}
	var st stages
	from := total.samples[0].arrived.Add(o.warmup)
	for _, s := range total.samples {
		rt, ok1 := readAt[s.pes.PTS]
		dt, ok2 := handedAt[s.pes.PTS]
		if s.pes.Written.Before(from) || s.pes.Unbounded || !ok1 || !ok2 {
			continue
		}
		st.total = append(st.total, s.latency)
		st.wr = append(st.wr, rt.Sub(s.pes.Written))
		st.rd = append(st.rd, dt.Sub(rt))
		st.da = append(st.da, s.arrived.Sub(dt))
	}
	return res, st, nil
}
