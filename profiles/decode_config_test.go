package profiles

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	defHTTP = HTTP{Listen: "127.0.0.1:7580"}
	defLog  = Log{Level: "info", Format: "text"}
	defDefs = builtinDefaults()
)

func TestDecodeConfig(t *testing.T) {
	t.Setenv("LIVEINJECT_TEST_DSS1", "pw1")
	pwFile := filepath.Join(t.TempDir(), "http.password")
	if err := os.WriteFile(pwFile, []byte("pw0\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		src  string
		want Config
	}{{
		name: "empty file: defaults",
		src:  "",
		want: Config{Path: "c.toml", FFmpeg: "ffmpeg", Profiles: "profiles", HTTP: defHTTP, Log: defLog, Defaults: defDefs},
	}, {
		name: "everything",
		src: `ffmpeg = "/opt/ffmpeg/bin/ffmpeg"
profiles = "/etc/liveinject/profiles"
[relay]
listen = ":7554"
udp_rtp_address = ":7556"
udp_rtcp_address = ":7557"
user = "pub"
password_file = "PWFILE"
[http]
listen = "0.0.0.0:7580"
user = "ops"
password_file = "PWFILE"
hosts = ["encoder1.example.net", "Encoder1", "192.0.2.7", "[2001:db8::7]"]
[log]
level = "debug"
format = "json"
[defaults.video]
bitrate = "4M"
gop = "1s"
size = "1920x1080"
fps = 30
[defaults.audio]
bitrate = "96k"
sample_rate = 44100
channels = 1
[[defaults.destination]]
url = "rtsp://dss1.example/{channel}.sdp"
user = "broadcaster"
password_env = "LIVEINJECT_TEST_DSS1"
[[defaults.destination]]
url = "rtsp://dss2.example:8554/live/{channel}.sdp"
transport = "udp"
session_name = "Lobby"
`,
		want: Config{
			Path: "c.toml", FFmpeg: "/opt/ffmpeg/bin/ffmpeg", Profiles: "/etc/liveinject/profiles",
			Relay: Relay{Listen: ":7554", UDPRTPAddress: ":7556", UDPRTCPAddress: ":7557", User: "pub", PasswordFile: "PWFILE", Password: "pw0"},
			HTTP: HTTP{Listen: "0.0.0.0:7580", User: "ops", PasswordFile: "PWFILE", Password: "pw0",
				Hosts: []string{"encoder1.example.net", "Encoder1", "192.0.2.7", "[2001:db8::7]"}},
			Log: Log{Level: "debug", Format: "json"},
			Defaults: Defaults{
				Video: Video{Encoder: "libx264", Profile: "high", Bitrate: 4_000_000, GOP: Duration(time.Second), Size: Size{1920, 1080}, FPS: 30},
				Audio: Audio{Encoder: "aac", Bitrate: 96_000, SampleRate: 44100, Channels: 1},
				Destinations: []Destination{
					{URL: "rtsp://dss1.example/{channel}.sdp", Transport: "tcp", User: "broadcaster", Password: "pw1",
						PasswordEnv: "LIVEINJECT_TEST_DSS1", Verify: true},
					{URL: "rtsp://dss2.example:8554/live/{channel}.sdp", Transport: "udp", SessionName: "Lobby", Verify: true},
				},
			},
		},
	}, {
		name: "http off",
		src:  "[http]\nlisten = \"\"\n",
		want: Config{Path: "c.toml", FFmpeg: "ffmpeg", Profiles: "profiles", Log: defLog, Defaults: defDefs},
	}, {
		name: "relay on a free port",
		src:  "[relay]\nlisten = \"127.0.0.1:0\"\n",
		want: Config{
			Path: "c.toml", FFmpeg: "ffmpeg", Profiles: "profiles", Relay: Relay{Listen: "127.0.0.1:0"},
			HTTP: defHTTP, Log: defLog, Defaults: defDefs,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, errs := decodeConfig("c.toml", []byte(strings.ReplaceAll(tt.src, "PWFILE", pwFile)))
			if len(errs) > 0 {
				t.Fatal(errs)
			}
			if tt.want.HTTP.PasswordFile == "PWFILE" {
				tt.want.HTTP.PasswordFile = pwFile
			}
			if tt.want.Relay.PasswordFile == "PWFILE" {
				tt.want.Relay.PasswordFile = pwFile
			}
			if !reflect.DeepEqual(*cfg, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *cfg, tt.want)
			}
		})
	}
}

func TestDecodeWebhooks(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("k3y\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	src := `[[webhook]]
url = "https://ops:pw@hooks.example/liveinject?token=t"
secret_file = "hook.secret"
events = ["channel.*", "destination.failed"]
timeout = "3s"
[[webhook]]
name = "pager"
url = "http://127.0.0.1:9/"
`
	cfg, errs := decodeConfig(filepath.Join(dir, "c.toml"), []byte(src))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	want := []Webhook{{
		Name: "https://hooks.example/liveinject", URL: "https://ops:pw@hooks.example/liveinject?token=t",
		SecretFile: "hook.secret", Secret: "k3y", Events: []string{"channel.*", "destination.failed"},
		Timeout: Duration(3 * time.Second),
	}, {Name: "pager", URL: "http://127.0.0.1:9/", Timeout: Duration(10 * time.Second)}}
	if !reflect.DeepEqual(cfg.Webhooks, want) {
		t.Errorf("got  %+v\nwant %+v", cfg.Webhooks, want)
	}
}

func TestDecodeConfigErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string
	}{{
		name: "syntax",
		src:  "ffmpeg = \"ffmpeg\"\nprofiles = profiles\n",
		want: []string{`c.toml:2: expected value but found "profiles" instead`},
	}, {
		name: "unknown keys",
		src:  "ffmpg = \"x\"\n[relay]\nlisten = \"127.0.0.1:7554\"\nport = 7554\n[htp]\nlisten = \":8080\"\n",
		want: []string{`c.toml:1: unknown key "ffmpg" (did you mean "ffmpeg"?)`, `c.toml:4: unknown key "relay.port"`, `c.toml:5: unknown key "htp" (did you mean "http"?)`},
	}, {
		name: "http reachable from other hosts without credentials",
		src:  "[http]\nlisten = \":7580\"\n",
		want: []string{`c.toml:2: http.listen: ":7580" is reachable from other hosts: set http.user and http.password_file, or listen on 127.0.0.1`},
	}, {
		name: "http credentials half set",
		src:  "[http]\nlisten = \"127.0.0.1:7580\"\nuser = \"ops\"\n",
		want: []string{`c.toml:3: http.user: set without http.password_file: set both or neither`},
	}, {
		name: "http listen invalid",
		src:  "[http]\nlisten = \"7580\"\n",
		want: []string{`c.toml:2: http.listen: "7580" is not host:port`},
	}, {
		name: "http hosts",
		src: "[http]\nhosts = [\"encoder1.example.net:7580\", \"http://encoder1/\", \"\",\n" +
			"  \"encoder 1\"]\n",
		want: []string{
			`c.toml:2: http.hosts: "encoder1.example.net:7580" has a port: give the name alone ("encoder1.example.net"); any port is taken`,
			`c.toml:2: http.hosts: "http://encoder1/" is not a host name: give the name alone, as in "encoder1.example.net"`,
			`c.toml:2: http.hosts: must not be empty`,
			`c.toml:3: http.hosts: "encoder 1" is not a host name: ' ' is neither a letter, a digit, '.', '-' nor '_'`,
		},
	}, {
		name: "http hosts not strings",
		src:  "[http]\nhosts = \"encoder1\"\n",
		want: []string{`c.toml:2: http.hosts: want an array of strings, got string "encoder1"`},
	}, {
		name: "relay user with a quote",
		src:  "[relay]\nlisten = \"127.0.0.1:7554\"\nuser = 'a\"b'\n",
		want: []string{
			`c.toml:3: relay.user: set without relay.password_file: set both or neither`,
			`c.toml:3: relay.user: holds '"': a Digest user name is sent between quotes, as it is`,
		},
	}, {
		name: "log",
		src:  "[log]\nlevel = \"verbose\"\nformat = \"xml\"\n",
		want: []string{`c.toml:2: log.level: "verbose" is not one of debug, info, warn, error`, `c.toml:3: log.format: "xml" is not one of text, json`},
	}, {
		name: "types",
		src:  "ffmpeg = 5\nprofiles = [\"a\"]\nrelay = \":7554\"\n",
		want: []string{
			`c.toml:1: ffmpeg: want a string, got integer 5`,
			`c.toml:2: profiles: want a string, got an array`,
			`c.toml:3: relay: want a table, got string ":7554"`,
		},
	}, {
		name: "empty",
		src:  "ffmpeg = \"\"\nprofiles = \"\"\n",
		want: []string{`c.toml:1: ffmpeg: must not be empty`, `c.toml:2: profiles: must not be empty`},
	}, {
		name: "listen",
		src:  "[relay]\nlisten = \"7554\"\n",
		want: []string{`c.toml:2: relay.listen: "7554" is not host:port`},
	}, {
		name: "relay for other hosts without credentials",
		src:  "[relay]\nlisten = \"0.0.0.0:7554\"\n",
		want: []string{`c.toml:2: relay.listen: "0.0.0.0:7554" is reachable from other hosts: set relay.user and relay.password_file, or listen on 127.0.0.1`},
	}, {
		name: "listen port",
		src:  "[relay]\nlisten = \":rtsp\"\n",
		want: []string{`c.toml:2: relay.listen: ":rtsp" has no valid port`},
	}, {
		name: "rtp without rtcp",
		src:  "[relay]\nlisten = \"127.0.0.1:7554\"\nudp_rtp_address = \":7556\"\n",
		want: []string{`c.toml:3: relay.udp_rtp_address: set without relay.udp_rtcp_address: set both or neither`},
	}, {
		name: "rtcp without rtp",
		src:  "[relay]\nlisten = \"127.0.0.1:7554\"\nudp_rtcp_address = \":7557\"\n",
		want: []string{`c.toml:3: relay.udp_rtcp_address: set without relay.udp_rtp_address: set both or neither`},
	}, {
		name: "rtp port odd",
		src:  "[relay]\nudp_rtp_address = \":7557\"\nudp_rtcp_address = \":7558\"\n",
		want: []string{`c.toml:2: relay.udp_rtp_address: port 7557 must be even`},
	}, {
		name: "rtcp not next",
		src:  "[relay]\nudp_rtp_address = \":7556\"\nudp_rtcp_address = \":7558\"\n",
		want: []string{`c.toml:3: relay.udp_rtcp_address: port 7558 must be the RTP port + 1 (7557)`},
	}, {
		name: "udp port 0",
		src:  "[relay]\nudp_rtp_address = \":0\"\nudp_rtcp_address = \":1\"\n",
		want: []string{`c.toml:2: relay.udp_rtp_address: ":0" needs a fixed port, not 0`},
	}, {
		name: "udp addresses bad",
		src:  "[relay]\nudp_rtp_address = \"x\"\nudp_rtcp_address = \":99999\"\n",
		want: []string{
			`c.toml:2: relay.udp_rtp_address: "x" is not host:port`,
			`c.toml:3: relay.udp_rtcp_address: ":99999" has no valid port`,
		},
	}, {
		name: "webhooks",
		src: "[[webhook]]\nurl = \"ftp://h/x\"\nevents = [\"channel.*\",\n \"channel.start\"]\ntimeout = \"0s\"\nsecret_file = \"/nonexistent/s\"\n" +
			"[[webhook]]\nevents = []\nretries = 3\n" +
			"[[webhook]]\nurl = \"http://127.0.0.1:1/h\"\n[[webhook]]\nurl = \"http://127.0.0.1:1/h\"\ntimeout = \"2m\"\n",
		want: []string{
			`c.toml:2: webhook.url: ftp://h/x: want an http:// or https:// URL`,
			`c.toml:4: webhook.events: "channel.start" is not an event: want one of channel.started, channel.stopped, channel.holding, channel.live, input.switched, destination.recording, destination.failed, destination.verified, destination.unverified, alarm.raised, alarm.cleared, profile.error, or a family such as "channel.*"`,
			`c.toml:5: webhook.timeout: 0s: want more than 0 and at most 1m0s`,
			`c.toml:6: webhook.secret_file: cannot read /nonexistent/s: no such file or directory`,
			`c.toml:7: webhook.url: required: the receiver's http:// or https:// URL`,
			`c.toml:8: webhook.events: empty: leave it out for every event`,
			`c.toml:9: unknown key "webhook.retries"`,
			`c.toml:13: webhook.url: http://127.0.0.1:1/h is already a webhook: each event goes to it once`,
			`c.toml:14: webhook.timeout: 2m0s: want more than 0 and at most 1m0s`,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, errs := decodeConfig("c.toml", []byte(tt.src))
			if got := errorStrings(errs); !slices.Equal(got, tt.want) {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}
