package supervisor

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/liveinject/liveinject/profiles"
)

// sourceSlate is the source kind of a channel's slate input: not one a profile can name, the
// supervisor makes it from the profile's [slate].
const sourceSlate = "slate"

// slateProfile returns channel ch as its slate runs it: the slate's picture and silence through
// the channel's own encoder settings, so that its SPS and AudioSpecificConfig are the
// channel's. A channel that passes its source's H.264 on (encoder "copy") has no settings of
// its own: its slate is encoded at the built-in ones, and the destinations announce it anew.
func slateProfile(ch profiles.Channel) profiles.Channel {
	ch.Source = profiles.Source{Kind: sourceSlate}
	ch.Backups = nil
	// The slate is the channel's own picture and silence, black or still by design: no alarms.
	ch.Alarms = profiles.Alarms{Off: true}
	if ch.Video.Encoder == profiles.EncoderCopy {
		ch.Video = slateVideo
	}
	if ch.Audio.Encoder == profiles.EncoderCopy {
		ch.Audio = slateAudio
	}
	return ch
}

// slateVideo and slateAudio encode the slate of a channel that copies its source's streams.
var (
	slateVideo = profiles.Video{Encoder: profiles.EncoderX264, Preset: "veryfast", Profile: "high",
		Bitrate: 1_000_000, GOP: profiles.Duration(2 * time.Second), Size: profiles.Size{Width: 1280, Height: 720}, FPS: 25}
	slateAudio = profiles.Audio{Encoder: "aac", Bitrate: 128_000, SampleRate: 48000, Channels: 2}
)

// slateInput returns the input part of the slate's command line: the profile's image, or a
// card with the channel's name, the slate's text and the time, at the channel's size and rate;
// and silence at its sample rate.
func slateInput(ch profiles.Channel) input {
	v := ch.Video
	graph := slateCard(ch)
	if ch.Slate.Image != "" {
		graph = slateImage(ch)
	}
	in := input{video: "0:v", size: v.Size, fps: v.FPS, args: []string{"-re", "-f", "lavfi", "-i", graph}}
	if ch.Audio.Encoder != "none" {
		layout := "stereo"
		if ch.Audio.Channels == 1 {
			layout = "mono"
		}
		in.args = append(in.args, "-re", "-f", "lavfi", "-i",
			fmt.Sprintf("anullsrc=channel_layout=%s:sample_rate=%d", layout, ch.Audio.SampleRate))
		in.audio = "1:a"
	}
	return in
}

// slateImage is the lavfi graph of an image slate: the image, of any size, fitted to the
// channel's as normalize fits an input of unknown size, once, then the same picture at the
// channel's rate. Looping the image file instead (image2's -loop 1) decodes and fits it again
// for every frame: a fifth of a core for a 1080p PNG at 25 fps.
func slateImage(ch profiles.Channel) string {
	v := ch.Video
	fit := normalize(v, input{fps: v.FPS})
	// The output's own normalize uploads to the GPU, where the encoder needs it.
	fit = slices.DeleteFunc(fit, func(f string) bool { return f == "hwupload" })
	return "movie=filename=" + escapeGraph(escapeOption(ch.Slate.Image)) + "," + strings.Join(fit, ",") +
		fmt.Sprintf(",loop=loop=-1:size=1,setpts=N/%d/TB", v.FPS)
}

// slateCard is the lavfi graph of the generated card: a dark background, the channel's name,
// the slate's text under it, and the local time at the bottom.
func slateCard(ch profiles.Channel) string {
	v := ch.Video
	h := v.Size.Height
	big, small := max(12, h/12), max(10, h/24)
	card := fmt.Sprintf("color=c=0x202830:size=%s:rate=%d", v.Size, v.FPS) +
		"," + drawText(ch.Name, big, "(h-text_h)/2-"+strconv.Itoa(big))
	if ch.Slate.Text != "" { // drawtext refuses an empty text
		card += "," + drawText(ch.Slate.Text, small, "(h+text_h)/2+"+strconv.Itoa(small))
	}
	return card + "," + drawClock(small)
}

// drawClock is a drawtext filter that draws the local time, HH:MM:SS, at the bottom. Its text
// is expanded at every frame: every colon is escaped for the option parser, those of the time
// format also for drawtext's function arguments, and the quotes keep the filtergraph parser
// off the backslashes.
func drawClock(size int) string {
	return fmt.Sprintf(`drawtext=text='%%{localtime\:%%H\\\:%%M\\\:%%S}':fontcolor=0xa0a8b0:fontsize=%d:x=(w-text_w)/2:y=h-2*text_h`, size)
}

// drawText is a drawtext filter that draws text as it is, centred, at y: the text is escaped
// for the option parser (quoted) and the filtergraph parser, and expansion is off so that a
// '%' stays a '%'.
func drawText(text string, size int, y string) string {
	return fmt.Sprintf("drawtext=expansion=none:text=%s:fontcolor=white:fontsize=%d:x=(w-text_w)/2:y=%s",
		escapeGraph(escapeOption(text)), size, y)
}

// escapeOption quotes a filter option's value for ffmpeg's option parser: within '…' nothing
// is special but the quote itself, which ends the quoting, is written as \' outside it.
func escapeOption(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// escapeGraph escapes a filter's arguments for the filtergraph parser, which reads backslash,
// quote, brackets, comma and semicolon itself.
func escapeGraph(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`\'[],;`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// CheckSlate returns the problem of channel ch's slate image with ffmpeg, or nil: a picture
// that does not decode. Loading the profile reads only the image's first bytes, and a damaged
// or truncated file would otherwise show only when the slate is needed, in an outage. ffmpeg
// is told to stop at the first damage, which it would otherwise draw over.
func CheckSlate(ctx context.Context, ch profiles.Channel, ffmpeg string) *Problem {
	if ch.Slate.Off || ch.Slate.Image == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error",
		"-xerror", "-err_detect", "explode", "-i", ch.Slate.Image, "-frames:v", "1", "-f", "null", "-")
	cmd.Stderr = &stderr
	err := cmd.Run()
	var msg string
	switch {
	case ctx.Err() != nil:
		msg = fmt.Sprintf("cannot decode slate image %s: %v", ch.Slate.Image, context.Cause(ctx))
	case err != nil:
		msg = fmt.Sprintf("slate image %s does not decode (%s): replace it with a PNG or JPEG file that opens",
			ch.Slate.Image, lastLine(stderr.String(), err))
	default:
		return nil
	}
	return &Problem{Channel: ch.Name, File: ch.File, Msg: msg}
}

// lastLine returns ffmpeg's last line of stderr, which says what failed, without the name and
// address of the part that said it ("[png @ 0x55…] "); or err when ffmpeg said nothing.
func lastLine(stderr string, err error) string {
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	if who, rest, ok := strings.Cut(last, "] "); ok && strings.HasPrefix(who, "[") && strings.Contains(who, " @ ") {
		last = rest
	}
	if last == "" {
		return err.Error()
	}
	return last
}
