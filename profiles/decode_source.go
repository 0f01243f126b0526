package profiles

import (
	"maps"
	"slices"
	"time"
)

// sourceKeyKind returns the source kind that uses key k (other than kind) of [source] or a
// [[backup]].
func sourceKeyKind(k string) string {
	switch k {
	case "device", "input_format", "size", "fps", "audio":
		return SourceV4L2
	case "url", "timeout":
		return SourceRTSP
	case "path":
		return SourceFile
	case "input_args":
		return SourceFFmpeg // of a [[backup]]: [source] has [ffmpeg] input_args instead
	}
	return ""
}

// exampleInputArgs is the example of input_args that the messages about them give.
const exampleInputArgs = `["-f", "lavfi", "-i", "testsrc2"]`

// source reads a [source] table, or a [[backup]] table when backup is set, over s. The keys of
// every kind are read, so that one set for another kind is named as such rather than as
// unknown. Keys whose zero value means "not set" are checked only when they hold something
// else.
func (d *decoder) source(t *table, s *Source, backup bool) {
	kindPath := d.str(t, "kind", &s.Kind)
	kindErr := checkSourceKind(s.Kind)
	d.check(kindPath, kindErr)

	if p := d.str(t, "device", &s.Device); s.Device != "" {
		d.check(p, checkDevicePath(s.Device))
	}
	d.str(t, "input_format", &s.InputFormat) // any format the device offers
	if p := d.text(t, "size", &s.Size, false); s.Size != (Size{}) {
		d.check(p, checkSize(s.Size))
	}
	if p := d.integer(t, "fps", &s.FPS); s.FPS != 0 {
		d.check(p, checkFPS(s.FPS))
	}
	if p := d.str(t, "audio", &s.Audio); s.Audio != "" {
		d.check(p, checkSourceAudio(s.Audio))
	}
	if p := d.str(t, "url", &s.URL); s.URL != "" {
		d.check(p, checkRTSPURL(s.URL))
	}
	if p := d.text(t, "timeout", &s.Timeout, false); s.Timeout != 0 {
		d.check(p, checkPositive(s.Timeout))
	}
	if d.str(t, "path", &s.Path); s.Path != "" {
		s.Path = d.relative(s.Path)
	}
	if backup {
		d.inputArgs(t, &s.InputArgs)
	} else {
		// One place for the source's hand-written input, as before backups had their own.
		t.hint("input_args", "in [source], input_args go in [ffmpeg]")
	}
	d.unknown(t)
	if kindErr != nil {
		return
	}

	for _, k := range slices.Sorted(maps.Keys(t.m)) {
		// (an unknown key is reported once, as unknown)
		if owner := sourceKeyKind(k); owner != "" && owner != s.Kind && t.used[k] {
			d.keyErrorf(t.path.key(k), "not used by source kind %q (it is a key of kind %q)", s.Kind, owner)
		}
	}
	switch {
	case s.Kind == SourceRTSP && s.URL == "":
		d.keyErrorf(t.path.key("url"), "missing: source kind \"rtsp\" pulls from a URL, e.g. \"rtsp://camera.example/stream1\"")
	case s.Kind == SourceFile && s.Path == "":
		d.keyErrorf(t.path.key("path"), "missing: source kind \"file\" plays a file")
	case backup && s.Kind == SourceFFmpeg && !t.has("input_args"):
		d.keyErrorf(kindPath, "kind \"ffmpeg\" needs input_args: the whole input part, e.g. %s", exampleInputArgs)
	}
}

// inputArgs reads the input_args of t, which must name an input.
func (d *decoder) inputArgs(t *table, dst *[]string) {
	before := len(d.errs)
	p := d.strs(t, "input_args", dst)
	if t.has("input_args") && len(d.errs) == before && !slices.Contains(*dst, "-i") {
		d.keyErrorf(p, `has no "-i": give the whole input part, e.g. %s`, exampleInputArgs)
	}
}

// ffmpeg reads an [ffmpeg] table over f.
func (d *decoder) ffmpeg(t *table, f *FFmpeg) {
	d.inputArgs(t, &f.InputArgs)
	d.strs(t, "extra_output_args", &f.ExtraOutputArgs)
	d.check(d.text(t, "stop_grace", &f.StopGrace, false), checkAtLeast(f.StopGrace, 100*time.Millisecond))
	d.check(d.text(t, "stall_timeout", &f.StallTimeout, false), checkAtLeast(f.StallTimeout, time.Second))
	d.unknown(t)
}

// checkVideoEncoderKeys reports keys of a [video] table that do not suit the encoder, whether
// the table sets it or inherits it. An inherited preset is blamed on this table only when the
// table sets the encoder.
func (d *decoder) checkVideoEncoderKeys(t *table, v Video) {
	if v.Encoder == EncoderCopy {
		d.refuseWithCopy(t, "preset", "profile", "bitrate", "gop", "size", "fps", "vaapi_device")
		return
	}
	if t.has("vaapi_device") && v.Encoder != EncoderVAAPI {
		d.keyErrorf(t.path.key("vaapi_device"), "used by encoder %q only, not %q", EncoderVAAPI, v.Encoder)
	}
	switch {
	case t.has("preset") && v.Preset != "":
		d.check(t.path.key("preset"), checkPreset(v.Encoder, v.Preset))
	case t.has("encoder") && v.Preset != "" && defaultPreset(v.Encoder) != "":
		if err := checkPreset(v.Encoder, v.Preset); err != nil {
			d.keyErrorf(t.path.key("encoder"), "the preset of the defaults: %v; set preset here too", err)
		}
	}
}

// refuseWithCopy reports the keys of t that encoder "copy" has no use for.
func (d *decoder) refuseWithCopy(t *table, keys ...string) {
	for _, k := range keys {
		if t.has(k) {
			d.keyErrorf(t.path.key(k), "not used by encoder \"copy\", which passes the source's stream on as it is")
		}
	}
}

// checkSourceFits reports settings of different tables that do not go together: encoder "copy"
// of an input that is not encoded yet, input_args for a source of another kind. backups are
// the tables of ch.Backups.
func (d *decoder) checkSourceFits(ch *Channel, source, video, audio, ff *table, backups []*table) {
	if kind := ch.Source.Kind; checkSourceKind(kind) == nil {
		switch {
		case kind == SourceFFmpeg && !ff.has("input_args"):
			d.keyErrorf(source.path.key("kind"), "kind \"ffmpeg\" needs [ffmpeg] input_args")
		case kind != SourceFFmpeg && ff.has("input_args"):
			d.keyErrorf(ff.path.key("input_args"), "used by source kind \"ffmpeg\" only, not %q", kind)
		}
		// The encoder's line when this profile sets it, else the source kind's.
		blame := func(t *table) keyPath {
			if t.has("encoder") {
				return t.path.key("encoder")
			}
			return source.path.key("kind")
		}
		d.checkCopy(ch, ch.Source, source, blame(video), blame(audio))
	}
	// [video] and [audio] apply to every input; a backup's mismatch is the backup's to fix.
	for i, b := range ch.Backups {
		if checkSourceKind(b.Kind) == nil {
			kind := backups[i].path.key("kind")
			d.checkCopy(ch, b, backups[i], kind, kind)
		}
	}
}

// checkCopy reports encoder "copy" of input s, read from t, when s is not encoded yet, at the
// lines given.
func (d *decoder) checkCopy(ch *Channel, s Source, t *table, videoBlame, audioBlame keyPath) {
	if ch.Video.Encoder == EncoderCopy {
		switch {
		case s.Kind == SourceTestsrc:
			d.keyErrorf(videoBlame, "video encoder \"copy\" passes H.264 on, but a testsrc source is raw video: choose an encoder such as libx264")
		case s.Kind == SourceV4L2 && s.InputFormat != "h264":
			d.keyErrorf(videoBlame, "video encoder \"copy\" passes H.264 on: it needs %s = \"h264\" (a camera that encodes), else choose an encoder such as libx264",
				t.path.key("input_format").name())
		}
	}
	if ch.Audio.Encoder == EncoderCopy && (s.Kind == SourceTestsrc || s.Kind == SourceV4L2) {
		d.keyErrorf(audioBlame, "audio encoder \"copy\" passes AAC on, but a %s source's sound is raw: use \"aac\"", s.Kind)
	}
}
