package profiles

import (
	"net"
	"path/filepath"
	"testing"
)

// mediaMTXPorts are MediaMTX's default ports (RTSP 8554, RTP/RTCP 8000/8001, RTSPS 8322,
// RTMP 1935, HLS 8888, WebRTC 8889, SRT 8890, pprof 9996, API 9997, metrics 9998, playback
// 9999) and its multicast RTP/RTCP pair. liveinject pushes to MediaMTX, often on the same box.
var mediaMTXPorts = map[string]bool{
	"8554": true, "8000": true, "8001": true, "8002": true, "8003": true, "8322": true,
	"1935": true, "8888": true, "8889": true, "8890": true, "9996": true, "9997": true,
	"9998": true, "9999": true,
}

// TestPortsStayClearOfMediaMTX checks the default HTTP address and every listen address of the
// examples against MediaMTX's defaults, and that the examples use liveinject's own ports.
func TestPortsStayClearOfMediaMTX(t *testing.T) {
	want := map[string]string{"relay": "7554", "udp_rtp": "7556", "udp_rtcp": "7557", "http": "7580"}
	if _, port, _ := net.SplitHostPort(DefaultHTTPListen); port != want["http"] {
		t.Errorf("DefaultHTTPListen %q, want port %s", DefaultHTTPListen, want["http"])
	}
	configs, err := filepath.Glob("../examples/*/liveinject.toml")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range append(configs, "../examples/liveinject.toml") {
		cfg, err := Load(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		for what, addr := range map[string]string{
			"relay": cfg.Relay.Listen, "udp_rtp": cfg.Relay.UDPRTPAddress,
			"udp_rtcp": cfg.Relay.UDPRTCPAddress, "http": cfg.HTTP.Listen,
		} {
			if addr == "" {
				continue
			}
			_, port, err := net.SplitHostPort(addr)
			if err != nil {
				t.Fatalf("%s: %s %q: %v", path, what, addr, err)
			}
			if mediaMTXPorts[port] || port != want[what] {
				t.Errorf("%s: %s listens on %s, want liveinject's port %s", path, what, addr, want[what])
			}
		}
	}
}
