package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/liveinject/liveinject/internal/fftest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestReaderPipe reads a pipe as the supervisor reads ffmpeg's: what is written, in order, then
// io.EOF once the writer is gone; a read waits in the poller, so its deadline holds.
func TestReaderPipe(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, ok := Conn(pr); !ok {
		t.Fatal("a pipe from os.Pipe is not read raw: its descriptor is not non-blocking")
	}
	r := NewReader(pr)

	pr.SetReadDeadline(time.Now().Add(20 * time.Millisecond)) //nolint:errcheck // a pipe takes one
	if _, err := r.Read(make([]byte, 10)); !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "read |0") {
		t.Fatalf("read of an empty pipe past its deadline: %v, want os.ErrDeadlineExceeded", err)
	}
	pr.SetReadDeadline(time.Time{}) //nolint:errcheck // as above

	want := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // more than the pipe holds
	go func() {
		pw.Write(want) //nolint:errcheck // checked by what arrives
		pw.Close()
	}()
	got, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %d bytes, not the %d written", len(got), len(want))
	}
	if n, err := r.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("read after the end: %d, %v", n, err)
	}
	// As exec.Cmd.Wait closes a child's stdout: the error is the file's own.
	pr.Close()
	var pe *os.PathError
	if _, err := r.Read(make([]byte, 1)); !errors.Is(err, os.ErrClosed) || !errors.As(err, &pe) {
		t.Fatalf("read of a closed pipe: %v, want os.ErrClosed in an *os.PathError", err)
	}
}

// TestReaderBlockingFile falls back to the file's own Read for a descriptor the poller does not
// take: a raw read of it would hold a thread.
func TestReaderBlockingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, ok := Conn(f); ok {
		t.Fatal("a regular file taken as non-blocking")
	}
	got, err := io.ReadAll(NewReader(f))
	if err != nil || string(got) != "data" {
		t.Fatalf("read %q, %v", got, err)
	}
	if _, ok := Conn(bytes.NewReader(nil)); ok {
		t.Fatal("a bytes.Reader taken as a descriptor")
	}
}

// TestWriteTCP writes more than the socket buffers hold to a reader that takes its time, so
// that Write waits in the poller and goes on; then its deadline and a closed connection end it.
func TestWriteTCP(t *testing.T) {
	c, peer := fftest.TCPPair(t)
	rc, ok := Conn(c)
	if !ok {
		t.Fatal("a TCP connection is not written raw")
	}

	want := make([]byte, 16<<20)
	for i := range want {
		want[i] = byte(i * 7)
	}
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(want))))
		got <- b
	}()
	n, err := Write(rc, want)
	if n != len(want) || err != nil {
		t.Fatalf("Write: %d of %d bytes, %v", n, len(want), err)
	}
	if b := <-got; !bytes.Equal(b, want) {
		t.Fatalf("the peer read %d bytes, not the %d written in order", len(b), len(want))
	}

	// Nobody reads now: the buffers fill and the deadline ends the write.
	c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)) //nolint:errcheck // TCP takes one
	n, err = Write(rc, want)
	if !errors.Is(err, os.ErrDeadlineExceeded) || n == 0 || n == len(want) {
		t.Fatalf("write to a full connection past its deadline: %d bytes, %v", n, err)
	}
	c.Close()
	if _, err := Write(rc, []byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write to a closed connection: %v, want net.ErrClosed", err)
	}
}
