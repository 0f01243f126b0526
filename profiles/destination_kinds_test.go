package profiles

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// destTo returns a profile with one destination: url and the lines of keys.
func destTo(url, keys string) string {
	return "[source]\nkind = \"testsrc\"\n[[destination]]\nurl = \"" + url + "\"\n" + keys
}

// TestDestinationRTMP checks rtmp and rtmps destinations: the stream key read at load from
// key_file (relative to the profile) or key_env, TLS for rtmps, no transport, and the warning
// for a stream key written in the URL.
func TestDestinationRTMP(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIVEINJECT_TEST_KEY", "env-key-1234")
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":       "",
		"profiles/ca.pem":       testCA,
		"profiles/yt.key":       "file-key-abcd\n",
		"profiles/file.toml":    destTo("rtmp://a.rtmp.example/live2", "key_file = \"yt.key\"\n"),
		"profiles/env.toml":     destTo("rtmps://live.example:443/app", "key_env = \"LIVEINJECT_TEST_KEY\"\ntls_ca_file = \"ca.pem\"\n"),
		"profiles/inurl.toml":   destTo("rtmp://media.example/live/s3cr3t", ""),
		"profiles/local.toml":   destTo("rtmp://127.0.0.1:1935/live/stream", ""),
		"profiles/named.toml":   destTo("rtmp://media.example/live/{channel}", ""),
		"profiles/app.toml":     destTo("rtmp://media.example/live", "verify = false\n"),
		"profiles/insecr.toml":  destTo("rtmps://live.example/app", "key_file = \"yt.key\"\ntls_insecure = true\n"),
		"profiles/localh.toml":  destTo("rtmp://localhost/live/stream", ""),
		"profiles/twokeys.toml": destTo("rtmp://a.rtmp.example/live2", "key_env = \"LIVEINJECT_TEST_KEY\"\n"),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Destination{}
	for _, ch := range cfg.Channels {
		got[ch.Name] = ch.Destinations[0]
	}
	for name, want := range map[string]Destination{
		"file": {URL: "rtmp://a.rtmp.example/live2", KeyFile: "yt.key", StreamKey: "file-key-abcd", Verify: true},
		"env": {URL: "rtmps://live.example:443/app", KeyEnv: "LIVEINJECT_TEST_KEY", StreamKey: "env-key-1234",
			TLSCAFile: "ca.pem", TLSCA: strings.TrimRight(testCA, "\n"), Verify: true},
		"inurl": {URL: "rtmp://media.example/live/s3cr3t", Verify: true},
		"named": {URL: "rtmp://media.example/live/named", Verify: true},
		"app":   {URL: "rtmp://media.example/live"},
	} {
		if got[name] != want {
			t.Errorf("%s: destination\n%+v, want\n%+v", name, got[name], want)
		}
	}
	if got["file"].Kind() != KindRTMP || got["env"].Kind() != KindRTMP {
		t.Errorf("kinds %q, %q, want rtmp", got["file"].Kind(), got["env"].Kind())
	}
	var warnings []string
	for _, w := range cfg.Warnings {
		warnings = append(warnings, strings.TrimPrefix(w.Error(), dir+"/"))
	}
	want := []string{
		"profiles/insecr.toml:6: destination.tls_insecure: the server's certificate is not checked: whoever is on the way can pose as the server",
		"profiles/inurl.toml:4: destination.url: the stream after the application is the stream key of most RTMP servers, " +
			"and shows in the logs, /status, the dashboard and the metrics, as well as to anyone who can read this file: " +
			"if it is a key, leave it out of the URL and give it with key_file or key_env",
	}
	if !slices.Equal(warnings, want) {
		t.Errorf("warnings\n%s\nwant\n%s", strings.Join(warnings, "\n"), strings.Join(want, "\n"))
	}
	for _, w := range warnings {
		if strings.Contains(w, "s3cr3t") {
			t.Errorf("warning shows the key: %s", w)
		}
	}
}

// TestDestinationSRT checks srt destinations: latency, the passphrase read at load from
// passphrase_file or passphrase_env, and streamid with "{channel}".
func TestDestinationSRT(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIVEINJECT_TEST_PASS", "env passphrase 1")
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":    "",
		"profiles/srt.pass":  "file-passphrase\n",
		"profiles/file.toml": destTo("srt://srt.example:9000", "latency = \"250ms\"\npassphrase_file = \"srt.pass\"\nstreamid = \"publish:{channel}\"\n"),
		"profiles/env.toml":  destTo("srt://[::1]:9000/", "passphrase_env = \"LIVEINJECT_TEST_PASS\"\n"),
		"profiles/bare.toml": destTo("srt://srt.example:9001", ""),
	})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) != 0 {
		t.Errorf("warnings %v, want none", cfg.Warnings)
	}
	got := map[string]Destination{}
	for _, ch := range cfg.Channels {
		got[ch.Name] = ch.Destinations[0]
	}
	for name, want := range map[string]Destination{
		"file": {URL: "srt://srt.example:9000", Latency: Duration(250 * time.Millisecond), PassphraseFile: "srt.pass",
			Passphrase: "file-passphrase", StreamID: "publish:file", Verify: true},
		"env":  {URL: "srt://[::1]:9000/", PassphraseEnv: "LIVEINJECT_TEST_PASS", Passphrase: "env passphrase 1", Verify: true},
		"bare": {URL: "srt://srt.example:9001", Verify: true},
	} {
		if got[name] != want {
			t.Errorf("%s: destination\n%+v, want\n%+v", name, got[name], want)
		}
		if got[name].Kind() != KindSRT {
			t.Errorf("%s: kind %q, want srt", name, got[name].Kind())
		}
	}
}

// TestDestinationKindErrors checks each mistake of an rtmp or srt destination, and of a key of
// one kind on another kind's URL, at its file and line; secrets never show in the messages.
func TestDestinationKindErrors(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("LIVEINJECT_TEST_SHORT", "short")
	t.Setenv("LIVEINJECT_TEST_CTRL", "key\tkey")
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":  "[relay]\nlisten = \"127.0.0.1:7554\"\n",
		"profiles/ca.pem":  testCA,
		"profiles/k.key":   "key\n",
		"profiles/two.key": "line1\nline2\n",
		"profiles/short":   "tooshort\n",
		"profiles/long":    strings.Repeat("p", 80) + "\n",

		// rtmp
		"profiles/r01.toml": destTo("rtmp://user:pw-in-url@h.example/live", ""),
		"profiles/r02.toml": destTo("rtmp://h.example/live#k3y", ""),
		"profiles/r03.toml": destTo("rtmp://h.example/", ""),
		"profiles/r04.toml": destTo("rtmp://h.example:70000/live", ""),
		"profiles/r05.toml": destTo("rtmp://h.example/live", "user = \"me\"\npassword_file = \"k.key\"\n"),
		"profiles/r06.toml": destTo("rtmp://h.example/live", "key_file = \"missing.key\"\n"),
		"profiles/r07.toml": destTo("rtmp://h.example/live", "key_file = \"k.key\"\nkey_env = \"LIVEINJECT_TEST_SHORT\"\n"),
		"profiles/r08.toml": destTo("rtmp://h.example/live", "key_env = \"LIVEINJECT_TEST_UNSET\"\n"),
		"profiles/r09.toml": destTo("rtmp://h.example/live", "key_file = \"two.key\"\n"),
		"profiles/r10.toml": destTo("rtmp://h.example/live", "key_env = \"LIVEINJECT_TEST_CTRL\"\n"),
		"profiles/r11.toml": destTo("rtmp://h.example/live", "transport = \"tcp\"\nsession_name = \"x\"\nverify_url = \"rtsp://h.example/x.sdp\"\nverify_every = \"1m\"\n"),
		"profiles/r12.toml": destTo("rtmp://h.example/live", "latency = \"1s\"\nstreamid = \"x\"\npassphrase_env = \"X\"\n"),
		"profiles/r13.toml": destTo("rtmp://{relay}/live", ""),
		"profiles/r14.toml": destTo("rtmp://h.example/live", "tls_ca_file = \"ca.pem\"\n"),

		// srt
		"profiles/s01.toml":  destTo("srt://h.example", ""),
		"profiles/s02.toml":  destTo("srt://h.example:9000/live", ""),
		"profiles/s03.toml":  destTo("srt://h.example:9000?passphrase=hunter2hunter2&latency=200", ""),
		"profiles/s04.toml":  destTo("srt://h.example:9000?latency=200000", ""),
		"profiles/s05.toml":  destTo("srt://u:pw-in-url@h.example:9000", ""),
		"profiles/s06.toml":  destTo("srt://h.example:9000", "latency = \"10ms\"\n"),
		"profiles/s07.toml":  destTo("srt://h.example:9000", "latency = \"9s\"\n"),
		"profiles/s08.toml":  destTo("srt://h.example:9000", "latency = \"120500us\"\n"),
		"profiles/s08b.toml": destTo("srt://h.example:9000", "latency = \"0s\"\n"),
		"profiles/s08c.toml": destTo("srt://h.example:9000", "latency = 120\n"),
		"profiles/s09.toml":  destTo("srt://h.example:9000", "passphrase_file = \"short\"\n"),
		"profiles/s10.toml":  destTo("srt://h.example:9000", "passphrase_file = \"long\"\n"),
		"profiles/s11.toml":  destTo("srt://h.example:9000", "passphrase_env = \"LIVEINJECT_TEST_SHORT\"\n"),
		"profiles/s12.toml":  destTo("srt://h.example:9000", "passphrase_file = \"short\"\npassphrase_env = \"LIVEINJECT_TEST_SHORT\"\n"),
		"profiles/s13.toml":  destTo("srt://h.example:9000", "passphrase_env = \"LIVEINJECT_TEST_UNSET\"\n"),
		"profiles/s14.toml":  destTo("srt://h.example:9000", "streamid = \"a\\nb\"\n"),
		"profiles/s15.toml":  destTo("srt://h.example:9000", "streamid = \""+strings.Repeat("s", 513)+"\"\n"),
		// 512 characters with "channel", 518 with the channel's name
		"profiles/s16-long-name.toml": destTo("srt://h.example:9000", "streamid = \""+strings.Repeat("s", 505)+"{channel}\"\n"),
		"profiles/s17.toml":           destTo("srt://h.example:9000", "key_file = \"k.key\"\ntls_insecure = true\nuser = \"me\"\nverify_every = \"1m\"\n"),
		"profiles/s18.toml":           destTo("srt://h.example:9000", "transport = \"udp\"\n"),

		// one stream twice: the key in the URL and in a file; srt:// with and without "/"
		"profiles/d01.toml": destTo("rtmp://h.example/live/key", "") + "[[destination]]\nurl = \"rtmp://h.example/live\"\nkey_file = \"k.key\"\n",
		"profiles/d02.toml": destTo("srt://h.example:9000", "") + "[[destination]]\nurl = \"srt://h.example:9000/\"\n",

		// rtsp, and other schemes
		"profiles/t01.toml": destTo("rtsp://h.example/x.sdp", "latency = \"1s\"\nkey_env = \"X\"\n"),
		"profiles/t02.toml": destTo("http://h.example/x", ""),
		"profiles/t03.toml": destTo("rtsp://h.example/x.sdp", "verify_url = \"rtmp://h.example/live\"\n"),
	})
	got := loadErrors(t, dir)
	srtNoVal := "srt://h.example:9000: a passphrase in the URL is readable wherever the URL shows (logs, /status, metrics): " +
		"leave it out, and give it with passphrase_file or passphrase_env"
	want := []string{
		"profiles/d01.toml:6: destination.url: rtmp://h.example/live with the same stream key is already a destination of this channel",
		"profiles/d02.toml:6: destination.url: srt://h.example:9000/ is already a destination of this channel",
		"profiles/r01.toml:4: destination.url: rtmp://user:xxxxx@h.example/live: RTMP URLs take no user:password@ (" + rtmpNoCredentials + ")",
		"profiles/r02.toml:4: destination.url: rtmp://h.example/live#k3y has a fragment (#...): the RTMP library would take it for the stream key; give the key with key_file or key_env",
		"profiles/r03.toml:4: destination.url: rtmp://h.example/ names no application: want rtmp://host[:port]/app[/stream]",
		"profiles/r04.toml:4: destination.url: rtmp://h.example:70000/live: port 70000 is outside 1..65535",
		"profiles/r05.toml:5: destination.user: rtmp destinations take no user or password: " + rtmpNoCredentials,
		"profiles/r05.toml:6: destination.password_file: rtmp destinations take no user or password: " + rtmpNoCredentials,
		"profiles/r06.toml:5: destination.key_file: cannot read " + filepath.Join(dir, "profiles", "missing.key") + ": no such file or directory",
		"profiles/r07.toml:6: destination.key_env: the stream key given twice: use key_file or key_env",
		"profiles/r08.toml:5: destination.key_env: environment variable LIVEINJECT_TEST_UNSET is not set",
		"profiles/r09.toml:5: destination.key_file: " + filepath.Join(dir, "profiles", "two.key") + ": the stream key holds a control character",
		"profiles/r10.toml:5: destination.key_env: environment variable LIVEINJECT_TEST_CTRL: the stream key holds a control character",
		"profiles/r11.toml:5: destination.transport: applies to rtsp:// and rtsps:// URLs only, not to rtmp://",
		"profiles/r11.toml:6: destination.session_name: applies to rtsp:// and rtsps:// URLs only, not to rtmp://",
		"profiles/r11.toml:7: destination.verify_url: applies to rtsp:// and rtsps:// URLs only, not to rtmp://",
		"profiles/r11.toml:8: destination.verify_every: applies to rtsp:// and rtsps:// URLs only, not to rtmp://",
		"profiles/r12.toml:5: destination.latency: applies to srt:// URLs only, not to rtmp://",
		"profiles/r12.toml:6: destination.streamid: applies to srt:// URLs only, not to rtmp://",
		"profiles/r12.toml:7: destination.passphrase_env: applies to srt:// URLs only, not to rtmp://",
		"profiles/r13.toml:4: destination.url: rtmp://{relay}/live: {relay} is the built-in RTSP relay: it goes in rtsp:// URLs only",
		"profiles/r14.toml:5: destination.tls_ca_file: applies to rtsps:// and rtmps:// URLs only",

		"profiles/s01.toml:4: destination.url: srt://h.example has no port: want srt://host:port",
		"profiles/s02.toml:4: destination.url: srt://h.example:9000/live has a path: want srt://host:port (a listener that tells streams apart takes a streamid)",
		"profiles/s03.toml:4: destination.url: " + srtNoVal,
		"profiles/s04.toml:4: destination.url: srt://h.example:9000 has a query (?...): SRT's options are keys of the destination (latency, passphrase_file, passphrase_env, streamid)",
		"profiles/s05.toml:4: destination.url: srt://u:xxxxx@h.example:9000: SRT URLs take no user:password@ (a passphrase goes in passphrase_file or passphrase_env)",
		"profiles/s06.toml:5: destination.latency: 10ms is outside 20ms..8s",
		"profiles/s07.toml:5: destination.latency: 9s is outside 20ms..8s",
		"profiles/s08.toml:5: destination.latency: 120.5ms is not whole milliseconds, which SRT counts latency in",
		"profiles/s08b.toml:5: destination.latency: 0s is outside 20ms..8s",
		"profiles/s08c.toml:5: destination.latency: want a string, got integer 120",
		"profiles/s09.toml:5: destination.passphrase_file: " + filepath.Join(dir, "profiles", "short") + ": the passphrase has 8 characters: SRT takes 10 to 79",
		"profiles/s10.toml:5: destination.passphrase_file: " + filepath.Join(dir, "profiles", "long") + ": the passphrase has 80 characters: SRT takes 10 to 79",
		"profiles/s11.toml:5: destination.passphrase_env: environment variable LIVEINJECT_TEST_SHORT: the passphrase has 5 characters: SRT takes 10 to 79",
		"profiles/s12.toml:6: destination.passphrase_env: the passphrase given twice: use passphrase_file or passphrase_env",
		"profiles/s13.toml:5: destination.passphrase_env: environment variable LIVEINJECT_TEST_UNSET is not set",
		"profiles/s14.toml:5: destination.streamid: holds a control character",
		"profiles/s15.toml:5: destination.streamid: 513 characters: SRT takes at most 512",
		"profiles/s16-long-name.toml:5: destination.streamid: 518 characters: SRT takes at most 512",
		"profiles/s17.toml:5: destination.key_file: applies to rtmp:// and rtmps:// URLs only, not to srt://",
		"profiles/s17.toml:6: destination.tls_insecure: applies to rtsps:// and rtmps:// URLs only, not to srt://",
		"profiles/s17.toml:7: destination.user: applies to rtsp:// and rtsps:// URLs only, not to srt://",
		"profiles/s17.toml:8: destination.verify_every: applies to rtsp:// and rtsps:// URLs only, not to srt://",
		"profiles/s18.toml:5: destination.transport: applies to rtsp:// and rtsps:// URLs only, not to srt://",

		"profiles/t01.toml:5: destination.latency: applies to srt:// URLs only, not to rtsp://",
		"profiles/t01.toml:6: destination.key_env: applies to rtmp:// and rtmps:// URLs only, not to rtsp://",
		"profiles/t02.toml:4: destination.url: http://h.example/x: scheme must be rtsp, rtsps, rtmp, rtmps or srt",
		"profiles/t03.toml:5: destination.verify_url: rtmp://h.example/live: scheme must be rtsp or rtsps",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range got {
		for _, secret := range []string{"hunter2", "pw-in-url", "tooshort", "short\n", "pppppppppp"} {
			if strings.Contains(e, secret) {
				t.Errorf("message shows a secret (%q): %s", secret, e)
			}
		}
	}
}

// TestDefaultDestinationKinds checks that the main config's destination templates take the keys
// of every kind, read relative to the main config, with "{channel}" in the streamid; that
// channels may share an ingest URL with keys of their own, and not with the same key.
func TestDefaultDestinationKinds(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": `
[[defaults.destination]]
url = "rtmp://a.rtmp.example/live2"
key_file = "keys/shared.key"
[[defaults.destination]]
url = "srt://srt.example:9000"
latency = "500ms"
passphrase_file = "srt.pass"
streamid = "publish:{channel}"
`,
		"srt.pass":        "0123456789\n",
		"keys/shared.key": "shared-key\n",
		// A profile of its own pushes to the same ingest URL and server with its own key and
		// streamid.
		"profiles/hall.toml": "[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtmp://a.rtmp.example/live2\"\nkey_file = \"hall.key\"\n" +
			"[[destination]]\nurl = \"srt://srt.example:9000\"\nstreamid = \"publish:{channel}\"\n",
		"profiles/hall.key": "hall-key\n",
	})
	writeFiles(t, dir, map[string]string{"profiles/cam.toml": "[source]\nkind = \"testsrc\"\n"})
	cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
	if err != nil {
		t.Fatal(err)
	}
	cam, hall := cfg.Channels[0], cfg.Channels[1]
	wantCam := []Destination{
		{URL: "rtmp://a.rtmp.example/live2", KeyFile: "keys/shared.key", StreamKey: "shared-key", Verify: true},
		{URL: "srt://srt.example:9000", Latency: Duration(500 * time.Millisecond), PassphraseFile: "srt.pass",
			Passphrase: "0123456789", StreamID: "publish:cam", Verify: true},
	}
	if !slices.Equal(cam.Destinations, wantCam) {
		t.Errorf("cam's destinations\n%+v, want\n%+v", cam.Destinations, wantCam)
	}
	if hall.Destinations[0].StreamKey != "hall-key" || hall.Destinations[1].StreamID != "publish:hall" {
		t.Errorf("hall's destinations %+v", hall.Destinations)
	}

	// The same key and streamid in another profile: the same streams.
	writeFiles(t, dir, map[string]string{
		"profiles/hall2.toml": "name = \"hall2\"\n[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtmp://a.rtmp.example/live2\"\nkey_file = \"hall.key\"\n" +
			"[[destination]]\nurl = \"srt://srt.example:9000\"\nstreamid = \"publish:hall\"\n",
	})
	got := loadErrors(t, dir)
	want := []string{
		"profiles/hall2.toml:5: destination.url: rtmp://a.rtmp.example/live2 with the same stream key is pushed by " +
			filepath.Join(dir, "profiles", "hall.toml") + " too: two pushes of one stream replace each other at the server",
		"profiles/hall2.toml:8: destination.url: srt://srt.example:9000 streamid \"publish:hall\" is pushed by " +
			filepath.Join(dir, "profiles", "hall.toml") + " too: two pushes of one stream replace each other at the server",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDefaultDestinationKindErrors checks that the templates' keys are checked as a profile's.
func TestDefaultDestinationKindErrors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"liveinject.toml": `
[[defaults.destination]]
url = "rtmp://a.rtmp.example/live2"
transport = "tcp"
[[defaults.destination]]
url = "srt://srt.example:9000"
latency = "1h"
key_env = "X"
`,
		"profiles/cam.toml": "[source]\nkind = \"testsrc\"\n",
	})
	got := loadErrors(t, dir)
	want := []string{
		"liveinject.toml:4: defaults.destination.transport: applies to rtsp:// and rtsps:// URLs only, not to rtmp://",
		"liveinject.toml:7: defaults.destination.latency: 1h0m0s is outside 20ms..8s",
		"liveinject.toml:8: defaults.destination.key_env: applies to rtmp:// and rtmps:// URLs only, not to srt://",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestReloadRTMPAndSRT checks that a new stream key (the same key_file, rewritten), streamid or
// latency is a change of the destination alone: the channel is retargeted, its ffmpeg goes on.
func TestReloadRTMPAndSRT(t *testing.T) {
	dir := t.TempDir()
	profile := func(latency, streamid string) string {
		return "[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtmp://a.rtmp.example/live2\"\nkey_file = \"cam.key\"\n" +
			"[[destination]]\nurl = \"srt://srt.example:9000\"\nlatency = \"" + latency + "\"\nstreamid = \"" + streamid + "\"\n"
	}
	writeFiles(t, dir, map[string]string{
		"liveinject.toml":   "",
		"profiles/cam.key":  "key-1\n",
		"profiles/cam.toml": profile("200ms", "publish:cam"),
	})
	load := func() *Config {
		t.Helper()
		cfg, err := Load(filepath.Join(dir, "liveinject.toml"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	prev := load()
	for _, step := range []struct {
		name  string
		files map[string]string
		want  string // what Changed says
	}{
		{"key", map[string]string{"profiles/cam.key": "key-2\n"}, "destination ~rtmp://a.rtmp.example/live2"},
		{"latency", map[string]string{"profiles/cam.toml": profile("400ms", "publish:cam")}, "destination ~srt://srt.example:9000"},
		{"streamid", map[string]string{"profiles/cam.toml": profile("400ms", "publish:cam2")}, "destination ~srt://srt.example:9000"},
	} {
		writeFiles(t, dir, step.files)
		next := load()
		c := Diff(prev.Channels, next.Channels)
		if len(c.Retarget) != 1 || len(c.Restart) != 0 {
			t.Errorf("%s changed: %+v, want the channel retargeted and not restarted", step.name, c)
		}
		if changed := Changed(prev.Channels[0], next.Channels[0]); !slices.Equal(changed, []string{step.want}) {
			t.Errorf("%s changed: Changed says %q, want %q", step.name, changed, step.want)
		}
		prev = next
	}
}
