package testpeers

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/benchrig"
	"github.com/liveinject/liveinject/internal/fftest"
)

// nginxPackages is what to install for Nginx.
const nginxPackages = "nginx-light libnginx-mod-rtmp"

// Nginx is nginx with its RTMP module, run in the foreground on a loopback port with a
// configuration of its own in a test's temporary directory. Its application "live" takes any
// stream name (live on) and drops a publisher that sent nothing for 10 s (drop_idle_publisher).
type Nginx struct {
	// Port is where it listens, on 127.0.0.1; the same across Stop and Start.
	Port int
	t    testing.TB
	dir  string
	cmd  *exec.Cmd
	done chan struct{} // closed once cmd is reaped
}

// StartNginx starts nginx, with apps (more application blocks, as nginx.conf writes them) in its
// rtmp server beside "live", and waits until it listens. It is killed when the test ends. Its
// configuration is the benchmarks' (see benchrig.WriteNginxRTMPConf).
func StartNginx(t testing.TB, apps string) *Nginx {
	t.Helper()
	Need(t, nginxPackages, "nginx")
	if _, err := os.Stat(benchrig.NginxRTMPModule); err != nil {
		// nginx is there without its RTMP module: as Need says it
		msg := benchrig.NginxRTMPModule + " not found: apt-get install -y " + nginxPackages + " (.ci/run installs it)"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	n := &Nginx{t: t, dir: t.TempDir(), Port: fftest.FreePort(t)}
	if err := benchrig.WriteNginxRTMPConf(n.dir, n.Port, apps); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.kill)
	n.Start()
	return n
}

// URL returns the rtmp URL of path (app/name) at n.
func (n *Nginx) URL(path string) string {
	return fmt.Sprintf("rtmp://127.0.0.1:%d/%s", n.Port, strings.TrimPrefix(path, "/"))
}

// Addr is where n listens.
func (n *Nginx) Addr() string { return "127.0.0.1:" + strconv.Itoa(n.Port) }

// Start starts nginx again, on the same port, and waits until it listens (asked of the kernel:
// a connection would be a client of nginx's).
func (n *Nginx) Start() {
	n.t.Helper()
	if n.cmd != nil {
		n.t.Fatal("nginx already runs")
	}
	// its own process group: its worker goes with it when it is killed
	cmd := benchrig.NginxRTMPCommand(n.dir)
	var out fftest.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	n.cmd, n.done = cmd, make(chan struct{})
	done := n.done
	go func() {
		cmd.Wait() //nolint:errcheck // an exit before listening is reported below
		close(done)
	}()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !benchrig.Bound("tcp", n.Port) {
		select {
		case <-done:
			n.cmd = nil
			n.t.Fatalf("nginx exited: %v\n%s\n%s", cmd.ProcessState, out.String(), n.Log())
		case <-deadline:
			n.t.Fatalf("nginx does not listen on %d after 10 s:\n%s", n.Port, n.Log())
		case <-tick.C:
		}
	}
}

// Stop stops nginx (a fast shutdown: its connections are closed) and waits until it has exited.
func (n *Nginx) Stop() {
	n.t.Helper()
	if n.cmd == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM) //nolint:errcheck // it may have exited
	select {
	case <-n.done:
	case <-time.After(10 * time.Second):
		n.t.Errorf("nginx did not stop within 10 s of SIGTERM: killed")
		syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck
		<-n.done
	}
	n.cmd = nil
}

// kill kills nginx and its worker, and reaps nginx.
func (n *Nginx) kill() {
	if n.cmd == nil {
		return
	}
	syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may have exited
	<-n.done
	n.cmd = nil
}

func (n *Nginx) logPath() string { return filepath.Join(n.dir, "error.log") }

// Log returns nginx's error log so far (at level info: connections, publishes, plays).
func (n *Nginx) Log() string {
	b, _ := os.ReadFile(n.logPath())
	return string(b)
}

// probeArgs are ffprobe's for a live RTMP stream: with its default probe sizes it may report
// only the audio.
var probeArgs = []string{"-v", "error", "-analyzeduration", "3M", "-probesize", "5M"}

// ProbeRTMP plays url with ffprobe and returns the codecs of its streams (h264, aac), within
// timeout.
func ProbeRTMP(t testing.TB, url string, timeout time.Duration) ([]string, error) {
	t.Helper()
	out, err := ffprobe(t, timeout, append(probeArgs, "-show_entries", "stream=codec_name", "-of", "csv=p=0", url)...)
	if err != nil {
		return nil, err
	}
	return strings.Fields(out), nil
}

// Packets plays url with ffprobe for stream time span and returns the times of the packets it
// got, in seconds, by codec type (video, audio).
func Packets(t testing.TB, url string, span time.Duration) (map[string][]float64, error) {
	t.Helper()
	out, err := ffprobe(t, span+30*time.Second, append(probeArgs, "-read_intervals", fmt.Sprintf("%%+%g", span.Seconds()),
		"-show_entries", "packet=stream_index,pts_time:stream=index,codec_type", "-of", "json", url)...)
	if err != nil {
		return nil, err
	}
	var res struct {
		Streams []struct {
			Index     int    `json:"index"`
			CodecType string `json:"codec_type"`
		} `json:"streams"`
		Packets []struct {
			StreamIndex int    `json:"stream_index"`
			PTSTime     string `json:"pts_time"`
		} `json:"packets"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		return nil, fmt.Errorf("ffprobe's output: %w", err)
	}
	kinds := map[int]string{}
	for _, st := range res.Streams {
		kinds[st.Index] = st.CodecType
	}
	times := map[string][]float64{}
	for _, p := range res.Packets {
		v, err := strconv.ParseFloat(p.PTSTime, 64)
		if err != nil {
			return nil, fmt.Errorf("ffprobe's pts_time %q", p.PTSTime)
		}
		times[kinds[p.StreamIndex]] = append(times[kinds[p.StreamIndex]], v)
	}
	return times, nil
}

// ffprobe runs ffprobe with args, within timeout, and returns what it wrote.
func ffprobe(t testing.TB, timeout time.Duration, args ...string) (string, error) {
	t.Helper()
	Need(t, "ffmpeg", "ffprobe")
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "ffprobe", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("ffprobe %s: %w: %s", args[len(args)-1], err, stderr.String())
	}
	return string(out), nil
}
