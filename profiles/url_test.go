package profiles

import "testing"

func TestRedact(t *testing.T) {
	tests := []struct{ url, want string }{
		{"rtsp://user:secret@host/live/a.sdp", "rtsp://user:xxxxx@host/live/a.sdp"},
		{"rtsp://user:secret@host:554/a.sdp", "rtsp://user:xxxxx@host:554/a.sdp"},
		{"rtsps://user:s3cr3t@[::1]:322/a.sdp", "rtsps://user:xxxxx@[::1]:322/a.sdp"},
		{"rtsp://user@host/a.sdp", "rtsp://user@host/a.sdp"},
		{"rtsp://user:@host/a.sdp", "rtsp://user:@host/a.sdp"},
		{"rtsp://host/a.sdp", "rtsp://host/a.sdp"},
		{"rtsp://host:554/a.sdp", "rtsp://host:554/a.sdp"},
		{"rtsp://host/a@b.sdp", "rtsp://host/a@b.sdp"},
		{"rtsp://u:p@host/a@b.sdp", "rtsp://u:xxxxx@host/a@b.sdp"},
		{"rtsp://u:p:q@host/a.sdp", "rtsp://u:xxxxx@host/a.sdp"},
		{"rtsp://u:p@q@host/a.sdp", "rtsp://u:xxxxx@host/a.sdp"},
		// Raw '/', '?' or '#' in a password: not a valid URL, but the password must still go.
		{"rtsp://u:pa/ss@host/a.sdp", "rtsp://u:xxxxx@host/a.sdp"},
		{"rtsp://u:pa?ss@host/a.sdp", "rtsp://u:xxxxx@host/a.sdp"},
		{"rtsp://u:pa#ss@host/a.sdp", "rtsp://u:xxxxx@host/a.sdp"},
		// In doubt, too much is hidden rather than too little.
		{"rtsp://host:554/a@b.sdp", "rtsp://host:xxxxx@b.sdp"},
		{"rtsp://{relay}/{channel}.sdp", "rtsp://{relay}/{channel}.sdp"},
		{"not a url", "not a url"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := Redact(tt.url); got != tt.want {
			t.Errorf("Redact(%q) = %q, want %q", tt.url, got, tt.want)
		}
	}
}

func TestExpandRelay(t *testing.T) {
	tests := []struct{ url, relay, want string }{
		{"rtsp://{relay}/lobby.sdp", "127.0.0.1:7554", "rtsp://127.0.0.1:7554/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", "127.0.0.1:41234", "rtsp://127.0.0.1:41234/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", ":7554", "rtsp://127.0.0.1:7554/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", "0.0.0.0:7554", "rtsp://127.0.0.1:7554/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", "[::]:7554", "rtsp://[::1]:7554/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", "[::1]:7554", "rtsp://[::1]:7554/lobby.sdp"},
		{"rtsp://{relay}/lobby.sdp", "relay.local:7554", "rtsp://relay.local:7554/lobby.sdp"},
		{"rtsp://u:p@{relay}/{relay}.sdp", "127.0.0.1:7554", "rtsp://u:p@127.0.0.1:7554/127.0.0.1:7554.sdp"},
		{"rtsp://dss.example/lobby.sdp", "127.0.0.1:7554", "rtsp://dss.example/lobby.sdp"},
	}
	for _, tt := range tests {
		if got := ExpandRelay(tt.url, tt.relay); got != tt.want {
			t.Errorf("ExpandRelay(%q, %q) = %q, want %q", tt.url, tt.relay, got, tt.want)
		}
	}
}
