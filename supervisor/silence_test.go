package supervisor

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"

	"github.com/liveinject/liveinject/internal/fftest"
)

// TestSilentAAC makes a frame of silence for configs a channel has, and decodes a second of it
// with ffmpeg: it is AAC in that config, and silent.
func TestSilentAAC(t *testing.T) {
	fftest.Require(t)
	for _, cfg := range []mpeg4audio.AudioSpecificConfig{
		{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 48000, ChannelCount: 2},
		{Type: mpeg4audio.ObjectTypeAACLC, SampleRate: 44100, ChannelCount: 1},
	} {
		frame, err := silentAAC(t.Context(), "ffmpeg", &cfg)
		if err != nil {
			t.Fatal(err)
		}
		var adts mpeg4audio.ADTSPackets
		for range 47 {
			adts = append(adts, &mpeg4audio.ADTSPacket{Type: cfg.Type, SampleRate: cfg.SampleRate, ChannelCount: cfg.ChannelCount, AU: frame})
		}
		b, err := adts.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(t.TempDir(), "silence.aac")
		if err := os.WriteFile(file, b, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command("ffmpeg", "-hide_banner", "-nostdin", "-i", file, "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if !bytes.Contains(out, []byte("max_volume: -91.0 dB")) || !strings.Contains(string(out), "aac (LC)") {
			t.Errorf("%+v: ffmpeg says:\n%s", cfg, out)
		}
	}
	if _, err := silentAAC(t.Context(), "ffmpeg", &mpeg4audio.AudioSpecificConfig{Type: mpeg4audio.ObjectTypeSBR}); err == nil {
		t.Errorf("silence for HE-AAC: no error")
	}
}
