package benchrig

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Peer is a receiver of another kind than RTSP, run as a process of its own for a benchmark:
// nginx with its RTMP module, or srt-live-transmit as an SRT listener. Close stops it.
type Peer struct {
	// URL is where a liveinject destination pushes to it.
	URL    string
	cmd    *exec.Cmd
	stderr bytes.Buffer
}

// StartNginxRTMP starts nginx with its RTMP module (Debian: nginx-light libnginx-mod-rtmp) in
// the foreground on a free loopback port, its files in dir, taking pushes at rtmp://…/live/NAME.
func StartNginxRTMP(dir string) (*Peer, error) {
	port, err := freePort("tcp")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off; master_process off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/error.log warn;
events { worker_connections 256; }
rtmp { server { listen 127.0.0.1:%[2]d; chunk_size 4096;
  application live { live on; record off; } } }
`, dir, port)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	p := &Peer{URL: fmt.Sprintf("rtmp://127.0.0.1:%d/live/bench", port),
		cmd: exec.Command("nginx", "-c", path, "-p", dir, "-e", filepath.Join(dir, "error.log"))}
	return p, p.start("tcp", port)
}

// StartSRTListener starts srt-live-transmit (Debian: srt-tools) as an SRT listener on a free
// loopback port, throwing away what it gets.
func StartSRTListener() (*Peer, error) {
	port, err := freePort("udp")
	if err != nil {
		return nil, err
	}
	p := &Peer{URL: fmt.Sprintf("srt://127.0.0.1:%d", port),
		cmd: exec.Command("srt-live-transmit", "-q", fmt.Sprintf("srt://127.0.0.1:%d?mode=listener", port),
			"file://con")}
	return p, p.start("udp", port)
}

// start runs the peer and waits up to 5 s for it to bind port.
func (p *Peer) start(network string, port int) error {
	p.cmd.Stderr = &p.stderr
	if err := p.cmd.Start(); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if bound(network, port) {
			return nil
		}
	}
	p.Close()
	return fmt.Errorf("%s did not bind %s port %d within 5 s: %s", p.cmd.Path, network, port, p.stderr.String())
}

// Close stops the peer and reaps it.
func (p *Peer) Close() {
	p.cmd.Process.Kill() //nolint:errcheck // it may have ended
	p.cmd.Wait()         //nolint:errcheck // killed
}

// freePort returns a loopback port that was free a moment ago.
func freePort(network string) (int, error) {
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port, nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// bound tells whether a loopback port is bound, from /proc/net/{tcp,udp} (a connection to
// see would count as a publisher).
func bound(network string, port int) bool {
	b, err := os.ReadFile("/proc/net/" + network)
	if err != nil {
		return false
	}
	// the local address, 127.0.0.1:PORT or 0.0.0.0:PORT, in hex
	return bytes.Contains(b, fmt.Appendf(nil, " 0100007F:%04X ", port)) ||
		bytes.Contains(b, fmt.Appendf(nil, " 00000000:%04X ", port))
}
