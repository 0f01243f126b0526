package benchrig

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
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

// NginxRTMPModule is where Debian's libnginx-mod-rtmp puts nginx's RTMP module.
const NginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// WriteNginxRTMPConf writes dir/nginx.conf, the configuration of nginx with its RTMP module that
// the benchmarks and the tests run (see NginxRTMPCommand): in the foreground, a master and one
// worker, the pid file and the error log (dir/error.log, level info: connections, publishes,
// plays) in dir, listening on 127.0.0.1:port. Its application "live" takes any stream name (live
// on) and drops a publisher that sent nothing for 10 s (drop_idle_publisher); apps are more
// application blocks beside it, as nginx.conf writes them.
func WriteNginxRTMPConf(dir string, port int, apps string) error {
	conf := fmt.Sprintf(`load_module %s;
daemon off; master_process on; worker_processes 1;
pid %s; error_log %s info;
events { worker_connections 256; }
rtmp {
  server {
    listen 127.0.0.1:%d; chunk_size 4096;
    application live { live on; record off; drop_idle_publisher 10s; }
    %s
  }
}
`, NginxRTMPModule, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "error.log"), port, apps)
	return os.WriteFile(filepath.Join(dir, "nginx.conf"), []byte(conf), 0o600)
}

// NginxRTMPCommand returns the command that runs nginx with the configuration in dir (see
// WriteNginxRTMPConf), not started: in a process group of its own, so that its worker goes with
// it when the group is signalled.
func NginxRTMPCommand(dir string) *exec.Cmd {
	cmd := exec.Command("nginx", "-c", filepath.Join(dir, "nginx.conf"), "-p", dir, "-e", filepath.Join(dir, "error.log"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
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
	if err := WriteNginxRTMPConf(dir, port, ""); err != nil {
		return nil, err
	}
	p := &Peer{URL: fmt.Sprintf("rtmp://127.0.0.1:%d/live/bench", port), cmd: NginxRTMPCommand(dir)}
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
		if Bound(network, port) {
			return nil
		}
	}
	p.Close()
	return fmt.Errorf("%s did not bind %s port %d within 5 s: %s", p.cmd.Path, network, port, p.stderr.String())
}

// Close stops the peer, with its children (nginx's worker) when it leads a process group, and
// reaps it.
func (p *Peer) Close() {
	if a := p.cmd.SysProcAttr; a != nil && a.Setpgid {
		syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) //nolint:errcheck // it may have ended
	}
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

// Bound tells whether a TCP socket listens on port (network "tcp"), or a UDP socket is bound to
// it ("udp"), on any local address, IPv4 or IPv6, as ss -ltn or ss -lun would: from the
// kernel's tables in /proc/net. A probe would not do: a connection to a server counts as its
// client (a one-publisher receiver takes it for its publisher), and a packet to an SRT listener
// begins a handshake.
func Bound(network string, port int) bool {
	want := fmt.Sprintf(":%04X", port)
	for _, table := range []string{network, network + "6"} {
		b, err := os.ReadFile("/proc/net/" + table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			// sl local_address rem_address st ...: the address in hex, then the port
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], want) && (network != "tcp" || f[3] == "0A") {
				return true
			}
		}
	}
	return false
}
