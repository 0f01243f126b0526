package fftest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// Child is the test binary run again as a helper process (os/exec's TestHelperProcess pattern),
// such as a receiver whose work must not count as the benchmark's. It prints one line when it is
// ready, then answers each line written to it with one line of JSON, until its stdin closes:
// see Serve.
type Child struct {
	// Ready is the line it printed first, such as the address it listens on.
	Ready string
	in    io.WriteCloser
	out   *bufio.Reader
}

// StartChild runs the test binary with args and with env ("KEY=value") added to its environment,
// and waits for its first line. It is stopped when the test ends.
func StartChild(t testing.TB, env string, args ...string) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		in.Close()
		cmd.Wait() //nolint:errcheck // it ends when stdin closes
	})
	c := &Child{in: in, out: bufio.NewReader(out)}
	line, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatalf("helper process %s: %v", env, err)
	}
	c.Ready = strings.TrimSpace(line)
	return c
}

// Ask writes a line to the child and decodes its answer into v.
func (c *Child) Ask(t testing.TB, line string, v any) {
	t.Helper()
	if _, err := fmt.Fprintln(c.in, line); err != nil {
		t.Fatal(err)
	}
	answer, err := c.out.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(answer), v); err != nil {
		t.Fatal(err)
	}
}

// Serve is the child's side: it prints ready, then answers each line on stdin with answer's
// result as JSON, until stdin closes.
func Serve(ready string, answer func() any) error {
	fmt.Println(ready)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		b, err := json.Marshal(answer())
		if err != nil {
			return err
		}
		fmt.Println(string(b))
	}
	return in.Err()
}
