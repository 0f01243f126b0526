package record

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"

	"github.com/liveinject/liveinject/demux"
	"github.com/liveinject/liveinject/internal/tsmux"
)

// tsPacket is the size of an MPEG-TS packet: a segment cut short by a crash is kept up to its
// last whole one.
const tsPacket = tsmux.PacketSize

// segment is the file being written: NAME.ts.part, with a tsmux.Writer of its own, so that it begins
// with PAT and PMT and plays alone.
type segment struct {
	path   string // the closed segment's path; the open one's has ".part" after it
	file   *os.File
	bw     *bufio.Writer
	w      *tsmux.Writer
	params *demux.Params
	// firstDTS is the channel time of its first frame, for its length.
	firstDTS int64
	size     int64
}

// countingWriter counts what goes to the file, and lets a test fail a write (a full disk).
type countingWriter struct {
	s       *segment
	written *atomic.Uint64
	fail    func() error
}

func (c countingWriter) Write(p []byte) (int, error) {
	if c.fail != nil {
		if err := c.fail(); err != nil {
			return 0, err
		}
	}
	n, err := c.s.file.Write(p)
	c.s.size += int64(n)
	c.written.Add(uint64(n))
	return n, err
}

// openSegment creates path+".part" for frames with params p, starting at channel time dts;
// written counts the bytes that go to it.
func openSegment(path string, p *demux.Params, dts int64, written *atomic.Uint64, fail func() error) (*segment, error) {
	f, err := os.OpenFile(path+".part", os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	s := &segment{path: path, file: f, params: p, firstDTS: dts}
	// a batch of frames goes to the file at once (see flush): a crash leaves them on disk
	s.bw = bufio.NewWriterSize(countingWriter{s: s, written: written, fail: fail}, 512<<10)
	if s.w, err = tsmux.New(s.bw, p.SPS != nil, p.Audio); err != nil {
		f.Close()
		os.Remove(path + ".part")
		return nil, err
	}
	return s, nil
}

// write puts one frame in the segment, at channel time pts and dts; flush hands it to the file.
func (s *segment) write(fr *demux.Frame, pts, dts int64) error {
	if len(fr.Data) == 0 {
		return nil
	}
	switch fr.Kind {
	case demux.Video:
		var sps, pps []byte
		if fr.Key && lacksParameterSets(fr.Data, s.params) {
			sps, pps = s.params.SPS, s.params.PPS
		}
		return s.w.WriteH264(pts, dts, sps, pps, fr.Data)
	case demux.Audio:
		return s.w.WriteAAC(pts, fr.Data)
	}
	return nil
}

// flush hands what was written to the file.
func (s *segment) flush() error { return s.bw.Flush() }

// close ends the segment: its last bytes written and synced, renamed to its closed name, and
// the folder synced so that the rename stays. On an error the .part is left, closed, for the
// next start to finish.
func (s *segment) close() error {
	err := s.bw.Flush()
	if err == nil {
		err = s.file.Sync()
	}
	if cerr := s.file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(s.path+".part", s.path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(s.path))
}

// abandon closes the file after a failed write, keeping what it has as a closed segment if it
// can: a full disk must not cost what was recorded before.
func (s *segment) abandon() {
	s.file.Close()
	closeLeftover(s.path + ".part")
	syncDir(filepath.Dir(s.path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// closeLeftovers closes the segments a crash left open in dir: each is cut to its last whole
// TS packet, synced and renamed; an empty one is removed. It returns the names it closed.
func closeLeftovers(dir string) ([]string, error) {
	segs, err := List(dir)
	if err != nil {
		return nil, err
	}
	var closed []string
	for _, s := range segs {
		if !s.Open {
			continue
		}
		name, err := closeLeftover(filepath.Join(dir, s.Name))
		if err != nil {
			return closed, err
		}
		if name != "" {
			closed = append(closed, name)
		}
	}
	if len(closed) > 0 {
		return closed, syncDir(dir)
	}
	return closed, nil
}

// closeLeftover closes one open segment at path (see closeLeftovers) and returns its new name,
// "" if it was empty and is gone.
func closeLeftover(path string) (string, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return "", err
	}
	info, err := f.Stat()
	if err == nil {
		if whole := info.Size() - info.Size()%tsPacket; whole != info.Size() {
			err = f.Truncate(whole)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	f.Close()
	if err != nil {
		return "", err
	}
	if info.Size() < tsPacket {
		return "", os.Remove(path)
	}
	target := strings.TrimSuffix(path, ".part")
	// a closed segment of that name would be overwritten: take the next counter
	if _, err := os.Stat(target); err == nil {
		seg, _ := ParseSegmentName(filepath.Base(path))
		for n := counter(filepath.Base(path)) + 1; ; n++ {
			target = filepath.Join(filepath.Dir(path), SegmentName(seg.Start, n))
			if _, err := os.Stat(target); errors.Is(err, fs.ErrNotExist) {
				break
			}
		}
	}
	if err := os.Rename(path, target); err != nil {
		return "", fmt.Errorf("closing %s: %w", path, err)
	}
	return filepath.Base(target), nil
}

// lacksParameterSets reports whether an IDR's access unit au lacks the SPS or the PPS and p has
// both: they go in front of it, so that each segment decodes from its first frame.
func lacksParameterSets(au [][]byte, p *demux.Params) bool {
	hasSPS, hasPPS := demux.ParameterSetsIn(au)
	return !(hasSPS && hasPPS) && p.SPS != nil && p.PPS != nil
}
