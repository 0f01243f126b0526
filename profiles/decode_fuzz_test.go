package profiles

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

// FuzzDecodeProfile feeds the profile decoder arbitrary files. Profiles come from operators and
// config management, and a reload must never bring the daemon down, so the decoder must not
// panic, must place every error on a line of the file, and must only pass channels that hold up.
func FuzzDecodeProfile(f *testing.F) {
	example, err := os.ReadFile("../examples/profiles/test.toml")
	if err != nil {
		f.Fatal(err)
	}
	for _, seed := range []string{
		string(example),
		validProfile,
		"",
		"[source]\nkind = \"testsrc\"\n[video]\nbitrate = \"2.5M\"\nsize = \"1x1\"\ngop = 5\n",
		"destination = [{ url = \"rtsp://{relay}/{channel}.sdp\" }, { url = \"rtsp://u:p@h/x\", transport = \"udp\" }]\n",
		"[[destination]]\n[[destination.x]]\ny = 1\n[[destination]]\nurl = '''\n{chan'''\n",
		"a.b.c = { d = [1, { e = \"\"\"\n]\"\"\" }] }\n\"[0]\" = 1\n",
		"[video\nfps = 1",
		"[source]\nkind = \"v4l2\"\ninput_format = \"h264\"\nsize = \"640x480\"\naudio = \"alsa:hw:1,0\"\n[video]\nencoder = \"copy\"\n",
		"[source]\nkind = \"rtsp\"\nurl = \"rtsp://u:p@cam/x\"\n[video]\nencoder = \"h264_nvenc\"\npreset = \"p1\"\n[audio]\nencoder = \"copy\"\n",
		"[source]\nkind = \"ffmpeg\"\n[ffmpeg]\ninput_args = [\"-i\", \"x\"]\nextra_output_args = [\"-vf\", \"yadif\"]\n",
		"failover_after = \"1s\"\nslate_after = \"2s\"\n[source]\nkind = \"v4l2\"\naudio = \"alsa:hw:1,0\"\n[[backup]]\nkind = \"v4l2\"\n" +
			"device = \"/dev/video1\"\naudio = \"alsa:hw:1,0\"\n[[backup]]\nkind = \"ffmpeg\"\ninput_args = [\"-i\", \"x\"]\n[slate]\ntext = \"Soon\"\n",
		"backup = [{ kind = \"rtsp\", url = \"rtsp://u:p@cam/x\" }, { kind = \"file\", path = \"x.mp4\" }]\nslate = \"off\"\n[source]\nkind = \"testsrc\"\n" +
			"[[destination]]\nurl = \"rtsp://h/{channel}.sdp\"\n",
		"slate = { image = \"/nonexistent.png\", text = \"x\" }\n",
		"destination = [{ url = \"rtmp://h/live/{channel}\", key_env = \"X\", tls_insecure = true }, " +
			"{ url = \"srt://h:9000\", latency = \"200ms\", streamid = \"publish:{channel}\", transport = \"udp\" }]\n",
	} {
		f.Add(seed, "127.0.0.1:0")
	}
	f.Fuzz(func(t *testing.T, src, relay string) {
		// The scanner is meant for valid TOML only, but must not hang or panic on anything.
		scanKeyLines(src)

		ch, errs := decodeTest("f.toml", "f", []byte(src), relay)
		lines := strings.Count(src, "\n") + 1
		for _, e := range errs {
			if e.File != "f.toml" || e.Line < 0 || e.Line > lines || e.Msg == "" {
				t.Errorf("bad error %#v in a file of %d lines", e, lines)
			}
		}
		if len(errs) == 0 {
			checkLoadedChannel(t, ch, relay)
		}

		var m map[string]any
		md, err := toml.Decode(src, &m)
		if err != nil {
			return
		}
		// Every key toml found, the scanner found too (keys needing quotes aside: the scanner
		// and toml may spell their escapes differently).
		index := regexp.MustCompile(`\[[0-9]+\]`)
		found := map[string]bool{}
		for k := range scanKeyLines(src) {
			found[index.ReplaceAllString(k, "")] = true
		}
		for _, k := range md.Keys() {
			if s := k.String(); !strings.ContainsAny(s, `"'`) && !found[s] {
				t.Errorf("scanner missed key %s", s)
			}
		}
	})
}

// checkLoadedChannel fails t unless ch is a channel the rest of liveinject can run.
func checkLoadedChannel(t *testing.T, ch Channel, relay string) {
	t.Helper()
	v, a := ch.Video, ch.Audio
	for _, err := range []error{
		checkSourceKind(ch.Source.Kind),
		checkVideoEncoder(v.Encoder), checkVideoBitrate(v.Bitrate), checkPositive(v.GOP), checkSize(v.Size), checkFPS(v.FPS),
		checkAudioEncoder(a.Encoder), checkAudioBitrate(a.Bitrate), checkSampleRate(a.SampleRate), checkAudioChannels(a.Channels),
	} {
		if err != nil {
			t.Errorf("loaded channel %+v: %v", ch, err)
		}
	}
	for i, s := range append([]Source{ch.Source}, ch.Backups...) {
		inputArgs := s.InputArgs
		if i == 0 {
			inputArgs = ch.FFmpeg.InputArgs
		}
		if err := checkSourceKind(s.Kind); err != nil {
			t.Errorf("loaded channel %+v: %s: %v", ch, InputName(i), err)
		}
		switch {
		case s.Kind == SourceV4L2 && checkDevicePath(s.Device) != nil,
			s.Kind == SourceRTSP && (checkRTSPURL(s.URL) != nil || s.Timeout <= 0),
			s.Kind == SourceFile && s.Path == "",
			s.Kind == SourceFFmpeg && !slices.Contains(inputArgs, "-i"),
			v.Encoder == EncoderCopy && (s.Kind == SourceTestsrc || s.Kind == SourceV4L2 && s.InputFormat != "h264"),
			a.Encoder == EncoderCopy && (s.Kind == SourceTestsrc || s.Kind == SourceV4L2):
			t.Errorf("loaded channel whose %s cannot run: %+v", InputName(i), ch)
		}
		for j, o := range ch.Backups[:max(i-1, 0)] {
			if s.Kind == SourceV4L2 && o.Kind == SourceV4L2 && (s.Device == o.Device || strings.HasPrefix(s.Audio, "alsa:") && s.Audio == o.Audio) {
				t.Errorf("loaded channel whose %s shares a device with %s: %+v", InputName(i), InputName(j+1), ch)
			}
		}
		if i > 0 && ch.Source.Kind == SourceV4L2 && s.Kind == SourceV4L2 && s.Device == ch.Source.Device {
			t.Errorf("loaded channel whose %s shares the source's device: %+v", InputName(i), ch)
		}
	}
	switch {
	case defaultPreset(v.Encoder) != "" && checkPreset(v.Encoder, v.Preset) != nil,
		v.Encoder == EncoderVAAPI && checkDevicePath(v.VAAPIDevice) != nil:
		t.Errorf("loaded channel that cannot run: %+v", ch)
	}
	if len(ch.Backups) > MaxBackups || ch.FailoverAfter.Std() < minFailoverAfter || ch.ReturnAfter.Std() < minReturnAfter ||
		ch.SlateAfter.Std() < minSlateAfter || len(ch.Backups) > 0 && !ch.Slate.Off && ch.SlateAfter < ch.FailoverAfter {
		t.Errorf("loaded channel with wrong backups or timings: %+v", ch)
	}
	if sl := ch.Slate; sl.Off && sl != (Slate{Off: true}) || sl.Image != "" && (sl.Text != "" || checkImage(sl.Image) != nil) ||
		checkSlateText(sl.Text) != nil {
		t.Errorf("loaded slate %+v", sl)
	}
	if len(ch.Destinations) == 0 {
		t.Errorf("loaded channel without destinations")
	}
	for _, d := range ch.Destinations {
		if strings.Contains(d.URL, "{channel}") || checkDestinationURL(d.URL, relay) != nil ||
			(d.Kind() == KindRTSP) != (checkTransport(d.Transport) == nil) {
			t.Errorf("loaded destination %+v", d)
		}
		if d.Latency != 0 && checkSRTLatency(d.Latency) != nil || d.Passphrase != "" && checkPassphrase(d.Passphrase) != nil ||
			strings.Contains(d.StreamID, "{channel}") || checkStreamID(d.StreamID) != nil {
			t.Errorf("loaded SRT settings %+v", d)
		}
	}
}
