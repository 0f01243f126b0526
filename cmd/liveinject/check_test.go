package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestCheckSources checks a camera and an IP camera that this machine does not have: check
// warns about the missing device, naming channel and file, hides the camera's password in the
// command it shows, and passes, since configs are often checked on another machine.
func TestCheckSources(t *testing.T) {
	config := writeConfig(t, httpAnyPort+"[[defaults.destination]]\nurl = \"rtsp://127.0.0.1:8554/{channel}.sdp\"\n")
	dir := filepath.Dir(config)
	device := filepath.Join(dir, "video0")
	for name, profile := range map[string]string{
		"cam.toml": "[source]\nkind = \"v4l2\"\ndevice = \"" + device + "\"\ninput_format = \"mjpeg\"\naudio = \"alsa:hw:1,0\"\n",
		"ipcam.toml": "[source]\nkind = \"rtsp\"\nurl = \"rtsp://admin:s3cret@192.0.2.10/stream1\"\n" +
			"[video]\nencoder = \"copy\"\n[audio]\nencoder = \"copy\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "profiles", name), []byte(profile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var stdout, stderr fftest.Buffer
	code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"check", "-c", config})
	if code != exitOK {
		t.Fatalf("check exited %d:\n%s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{
		"-f v4l2 -thread_queue_size 512 -input_format mjpeg -i " + device + " -f alsa -thread_queue_size 512 -i hw:1,0",
		`  warning: channel "cam" (` + filepath.Join(dir, "profiles", "cam.toml") + `): v4l2 device ` + device +
			` not found: is the camera plugged in?`,
		"-rtsp_transport tcp -timeout 5000000 -i rtsp://admin:xxxxx@192.0.2.10/stream1 -map 0:v:0 -c:v copy",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "warning:"); n != 1 {
		t.Errorf("%d warnings, want the device's only:\n%s", n, out)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("check shows the camera's password:\n%s", out)
	}
}

// TestCheckDSSWarnings checks what check says of destinations that Darwin Streaming Server would
// refuse or serve badly, and how it shows their metadata.
func TestCheckDSSWarnings(t *testing.T) {
	config := writeConfig(t, httpAnyPort)
	dir := filepath.Dir(config)
	profile := "[source]\nkind = \"testsrc\"\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/live/a\"\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/b.sdp\"\ntransport = \"udp\"\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/c.sdp\"\nsession_name = \"Lobby\"\nsession_info = \"North\"\n" +
		"session_author = \"Facilities\"\nsession_copyright = \"© 2026\"\nsession_comment = \"hi\"\n" +
		"[record]\ndir = \"/srv/rec\"\nkeep = \"30d\"\n"
	if err := os.WriteFile(filepath.Join(dir, "profiles", "test.toml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := checkOK(t, config)
	for _, want := range []string{
		"  record: /srv/rec/test (segment 1m0s, keep 30d, no max_size, min_free 5%)\n",
		"  -> rtsp://127.0.0.1:8554/live/a (tcp)\n     warning: the path does not end in .sdp: Darwin Streaming " +
			"Server takes the ANNOUNCE, then refuses SETUP (415)\n",
		// the SSRC stays over udp as over tcp: no warning
		"  -> rtsp://127.0.0.1:8554/b.sdp (udp)\n  -> rtsp://127.0.0.1:8554/c.sdp",
		"  -> rtsp://127.0.0.1:8554/c.sdp (tcp, session name \"Lobby\", info \"North\", author \"Facilities\", " +
			"copyright \"© 2026\", comment \"hi\")\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "warning:"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, out)
	}
}

// TestCheckRTMPAndSRT checks what check says of rtmp and srt destinations: their kind and
// options, where the stream key and the passphrase come from (never either), no DSS warning,
// and the warning of a stream key written in the URL.
func TestCheckRTMPAndSRT(t *testing.T) {
	config := writeConfig(t, httpAnyPort)
	dir := filepath.Dir(config)
	t.Setenv("LIVEINJECT_TEST_TWITCH", "live_123_s3cr3tkey")
	for name, content := range map[string]string{
		"yt.key":   "yt-s3cr3t-key\n",
		"srt.pass": "p4ssphr4se-s3cr3t\n",
		"test.toml": "[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtmp://127.0.0.1:1935/live2\"\nkey_file = \"yt.key\"\n" +
			"[[destination]]\nurl = \"rtmps://127.0.0.1:443/app\"\nkey_env = \"LIVEINJECT_TEST_TWITCH\"\ntls_insecure = true\n" +
			"[[destination]]\nurl = \"rtmp://media.example/live/in-url-key\"\n" +
			"[[destination]]\nurl = \"srt://127.0.0.1:9000\"\nlatency = \"250ms\"\npassphrase_file = \"srt.pass\"\n" +
			"streamid = \"publish:{channel}\"\n" +
			"[[destination]]\nurl = \"srt://127.0.0.1:9001\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, "profiles", name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := checkOK(t, config)
	for _, want := range []string{
		"  -> rtmp://127.0.0.1:1935/live2 (rtmp: H.264 and AAC in FLV, key from yt.key (13 characters), " +
			"not played back (the return check plays RTSP only))\n",
		"  -> rtmps://127.0.0.1:443/app (rtmp: H.264 and AAC in FLV, key from $LIVEINJECT_TEST_TWITCH (18 characters), " +
			"certificate not checked (tls_insecure), not played back (the return check plays RTSP only))\n",
		"  -> rtmp://media.example/live/in-url-key (rtmp: H.264 and AAC in FLV, no key: the URL names the stream, " +
			"not played back (the return check plays RTSP only))\n",
		"  -> srt://127.0.0.1:9000 (srt: MPEG-TS, latency 250ms, passphrase from srt.pass, streamid \"publish:test\", " +
			"not played back (the return check plays RTSP only))\n",
		"  -> srt://127.0.0.1:9001 (srt: MPEG-TS, latency 120ms (libsrt's), not encrypted, " +
			"not played back (the return check plays RTSP only))\n",
		"warning: " + filepath.Join(dir, "profiles", "test.toml") + ":11: destination.url: the stream after the application " +
			"is the stream key of most RTMP servers",
		"warning: " + filepath.Join(dir, "profiles", "test.toml") + ":9: destination.tls_insecure: the server's certificate is not checked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "warning:"); n != 2 {
		t.Errorf("%d warnings, want 2 (no DSS warning for rtmp or srt):\n%s", n, out)
	}
	for _, secret := range []string{"yt-s3cr3t", "live_123", "p4ssphr4se"} {
		if strings.Contains(out, secret) {
			t.Errorf("check shows a secret (%s):\n%s", secret, out)
		}
	}
}

// TestCheckVerifyAndWebhooks checks what check says of the return check's settings and of the
// webhooks: their names (never a URL that may carry a token), events and signature.
func TestCheckVerifyAndWebhooks(t *testing.T) {
	main := httpAnyPort + "[[webhook]]\nurl = \"http://127.0.0.1:9/hook?token=t0ken\"\nsecret_file = \"hook.secret\"\n" +
		"[[webhook]]\nname = \"pager\"\nurl = \"http://127.0.0.1:9/t0ken\"\nevents = [\"channel.*\"]\n"
	config := writeConfig(t, main)
	dir := filepath.Dir(config)
	if err := os.WriteFile(filepath.Join(dir, "hook.secret"), []byte("s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	profile := "[source]\nkind = \"testsrc\"\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/a.sdp\"\nverify = false\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/b.sdp\"\nverify_url = \"rtsp://127.0.0.1:8555/b.sdp\"\nverify_every = \"1m\"\n" +
		"[[destination]]\nurl = \"rtsp://127.0.0.1:8554/c.sdp\"\n"
	if err := os.WriteFile(filepath.Join(dir, "profiles", "test.toml"), []byte(profile), 0o644); err != nil {
		t.Fatal(err)
	}
	out := checkOK(t, config)
	for _, want := range []string{
		"webhook http://127.0.0.1:9/hook: every event, signed with hook.secret, timeout 10s\n",
		"webhook pager: channel.*, unsigned, timeout 10s\n",
		"  -> rtsp://127.0.0.1:8554/a.sdp (tcp, not played back (verify = false))\n",
		"  -> rtsp://127.0.0.1:8554/b.sdp (tcp, played back from rtsp://127.0.0.1:8555/b.sdp, played back every 1m0s)\n",
		"  -> rtsp://127.0.0.1:8554/c.sdp (tcp)\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("check output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "t0ken") {
		t.Errorf("check shows a webhook's token:\n%s", out)
	}
}

// TestCheckDeepAndHugeFiles gives check a main config and a profile nested far too deep, and a
// main config of 4 MB, which the TOML library alone (looking whether -c was given a profile)
// cannot take without overflowing its stack: each is an error naming its file, not a crash.
func TestCheckDeepAndHugeFiles(t *testing.T) {
	for _, tt := range []struct {
		name, main, profile, want string
	}{
		{"deep profile", httpAnyPort, "a = " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n",
			"deep.toml:1: nested more than 32 levels deep"},
		{"deep main config", httpAnyPort + "[log]\nlevel = " + strings.Repeat("[", 30_000) + strings.Repeat("]", 30_000) + "\n", "",
			"liveinject.toml:4: nested more than 32 levels deep"},
		{"huge main config", "a = " + strings.Repeat("[", 4<<20) + "\n", "",
			"liveinject.toml: larger than 1048576 bytes (1 MiB)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			config := writeConfig(t, tt.main)
			if tt.profile != "" {
				if err := os.WriteFile(filepath.Join(filepath.Dir(config), "profiles", "deep.toml"), []byte(tt.profile), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr fftest.Buffer
			code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"check", "-c", config})
			if code != exitConfig || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("check exited %d, want %d with %q:\n%s", code, exitConfig, tt.want, stderr.String())
			}
		})
	}
}

// TestCheckInputs checks a channel with backups and an image slate, and one without a slate:
// check prints one command per input, named as the operator counts them, with every password
// hidden; it warns about a backup's missing file and about a slate image that does not decode
// (it starts as a PNG file does, which is all the profile's check reads), naming the channel,
// its profile and the image.
func TestCheckInputs(t *testing.T) {
	fftest.Require(t)
	config := writeConfig(t, httpAnyPort+"[[defaults.destination]]\nurl = \"rtsp://127.0.0.1:8554/{channel}.sdp\"\n")
	dir := filepath.Join(filepath.Dir(config), "profiles")
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	slate := filepath.Join(dir, "slate.png")
	if b, err := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "color=c=white:size=800x600", "-frames:v", "1", "-y", slate).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg making a slate image: %v\n%s", err, b)
	}
	png, err := os.ReadFile(slate)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(slate, png[:len(png)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "gone.mp4")
	for name, profile := range map[string]string{
		"cam.toml": "[source]\nkind = \"rtsp\"\nurl = \"rtsp://admin:s3cret@192.0.2.10/stream1\"\n" +
			"[[backup]]\nkind = \"rtsp\"\nurl = \"rtsp://op:t0ps3cret@192.0.2.11/stream1\"\n" +
			"[[backup]]\nkind = \"file\"\npath = \"gone.mp4\"\n" +
			"[[backup]]\nkind = \"ffmpeg\"\ninput_args = [\"-f\", \"lavfi\", \"-i\", \"smptebars\"]\n" +
			"[slate]\nimage = \"slate.png\"\n",
		"plain.toml": "slate = \"off\"\n[source]\nkind = \"testsrc\"\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(profile), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := checkOK(t, config)
	// Channels come in name order: cam, plain, test.
	cam, plain, _ := strings.Cut(out[strings.Index(out, "\nchannel cam "):], "\nchannel plain ")
	plain, _, _ = strings.Cut(plain, "\nchannel ")
	for _, want := range []string{
		"\n  source: ffmpeg -hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 -rtsp_transport tcp -timeout 5000000 -i rtsp://admin:xxxxx@192.0.2.10/stream1 -map 0:v:0 ",
		"\n  backup 1: ffmpeg -hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 -rtsp_transport tcp -timeout 5000000 -i rtsp://op:xxxxx@192.0.2.11/stream1 -map 0:v:0 ",
		"\n  backup 2: ffmpeg -hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 -re -stream_loop -1 -i " + missing + " -map 0:v:0 ",
		"\n  backup 3: ffmpeg -hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 -f lavfi -i smptebars -map 0:v:0 ",
		// the image in a lavfi graph, escaped for it, then quoted for the shell
		"\n  slate: ffmpeg -hide_banner -nostdin -loglevel warning -progress pipe:2 -stats_period 1 -re -f lavfi -i 'movie=filename=\\'\\''" + slate + "\\'\\'',",
		"-re -f lavfi -i anullsrc=channel_layout=stereo:sample_rate=48000 -map 0:v ",
		"\n  warning: channel \"cam\" (" + filepath.Join(dir, "cam.toml") + "): file " + missing + " not found",
		"\n  warning: channel \"cam\" (" + filepath.Join(dir, "cam.toml") + "): slate image " + slate + " does not decode (",
	} {
		if !strings.Contains(cam, want) {
			t.Errorf("check output of channel cam lacks %q:\n%s", want, cam)
		}
	}
	if n := strings.Count(cam, "warning:"); n != 2 {
		t.Errorf("%d warnings for channel cam, want 2:\n%s", n, cam)
	}
	if n := strings.Count(cam, "-c:v libx264 -preset veryfast"); n != 5 {
		t.Errorf("%d of 5 inputs encode with the channel's settings:\n%s", n, cam)
	}
	if strings.Contains(out, "s3cret") {
		t.Errorf("check shows a camera's password:\n%s", out)
	}
	if !strings.Contains(plain, "\n  source: ffmpeg ") || strings.Contains(plain, "slate:") || strings.Contains(plain, "warning:") {
		t.Errorf("channel plain: want its source's command, no slate, no warning:\n%s", plain)
	}
}

// checkOK runs liveinject check on config, requires it to pass, and returns what it printed.
func checkOK(t *testing.T, config string) string {
	t.Helper()
	var stdout, stderr fftest.Buffer
	if code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(t.Context(), []string{"check", "-c", config}); code != exitOK {
		t.Fatalf("check exited %d:\n%s", code, stderr.String())
	}
	return stdout.String()
}
