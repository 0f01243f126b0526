package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"time"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/mpeg4audio"
)

// silentAAC returns one AAC frame of silence in config cfg, as the channel's hold sends it,
// encoded by ffmpeg (a few hundred milliseconds, once per config). Only AAC-LC with 1024-sample
// frames, what liveinject's encoder makes, is made: an HE-AAC source passed through gets none.
func silentAAC(ctx context.Context, ffmpeg string, cfg *mpeg4audio.AudioSpecificConfig) ([]byte, error) {
	if cfg.Type != mpeg4audio.ObjectTypeAACLC || cfg.ExtensionType != 0 || cfg.FrameLengthFlag {
		return nil, fmt.Errorf("no silence for AAC object type %d (only AAC-LC)", cfg.Type)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rate, channels := strconv.Itoa(cfg.SampleRate), strconv.Itoa(cfg.ChannelCount)
	out, err := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-f", "lavfi", "-i", "anullsrc=r="+rate+":cl=mono", "-t", "0.5", "-ac", channels, "-ar", rate,
		"-c:a", "aac", "-b:a", "64k", "-f", "adts", "pipe:1").Output()
	if err != nil {
		return nil, fmt.Errorf("encoding silence with %s: %w", ffmpeg, err)
	}
	var pkts mpeg4audio.ADTSPackets
	if err := pkts.Unmarshal(out); err != nil || len(pkts) < 3 {
		return nil, fmt.Errorf("encoding silence: %d ADTS frames (%v)", len(pkts), err)
	}
	// one from the middle: the first ones carry the encoder's priming
	p := pkts[len(pkts)/2]
	if p.Type != cfg.Type || p.SampleRate != cfg.SampleRate || p.ChannelCount != cfg.ChannelCount {
		return nil, fmt.Errorf("encoding silence: got %d Hz, %d channels, want %d Hz, %d channels",
			p.SampleRate, p.ChannelCount, cfg.SampleRate, cfg.ChannelCount)
	}
	return bytes.Clone(p.AU), nil
}
