package profiles

import "strings"

// decodeChannel reads the profile of channel name from src, the contents of file. relayListen
// is the main config's relay.listen, which "{relay}" in a destination URL needs. The channel
// is returned even with errors, filled as far as the file allowed.
func decodeChannel(file, name string, src []byte, relayListen string) (Channel, Errors) {
	d := &decoder{file: file}
	ch := defaultChannel(name, file)
	if err := checkChannelName(name); err != nil {
		d.errorf(nil, "%v", err)
	}
	root := d.parse(src)
	if root == nil {
		return ch, d.errs
	}

	source := d.table(root, "source")
	d.check(d.str(source, "kind", &ch.Source.Kind), checkSourceKind(ch.Source.Kind))
	d.unknown(source)

	video := d.table(root, "video")
	v := &ch.Video
	d.check(d.str(video, "encoder", &v.Encoder), checkVideoEncoder(v.Encoder))
	d.check(d.text(video, "bitrate", &v.Bitrate, true), checkBitrate(v.Bitrate))
	d.check(d.text(video, "gop", &v.GOP, false), checkGOP(v.GOP))
	d.check(d.text(video, "size", &v.Size, false), checkSize(v.Size))
	d.check(d.integer(video, "fps", &v.FPS), checkFPS(v.FPS))
	d.unknown(video)

	audio := d.table(root, "audio")
	a := &ch.Audio
	d.check(d.str(audio, "encoder", &a.Encoder), checkAudioEncoder(a.Encoder))
	d.check(d.text(audio, "bitrate", &a.Bitrate, true), checkBitrate(a.Bitrate))
	d.check(d.integer(audio, "sample_rate", &a.SampleRate), checkSampleRate(a.SampleRate))
	d.check(d.integer(audio, "channels", &a.Channels), checkAudioChannels(a.Channels))
	d.unknown(audio)

	before := len(d.errs)
	dests := d.tables(root, "destination")
	if len(dests) == 0 && len(d.errs) == before {
		d.errorf(root.path.key("destination"), "no [[destination]]: a channel needs at least one")
	}
	for _, t := range dests {
		dest := defaultDestination()
		p := d.str(t, "url", &dest.URL)
		if dest.URL == "" {
			d.keyErrorf(p, "missing")
		} else {
			dest.URL = strings.ReplaceAll(dest.URL, "{channel}", name)
			d.check(p, checkDestinationURL(dest.URL, relayListen))
		}
		d.check(d.str(t, "transport", &dest.Transport), checkTransport(dest.Transport))
		d.unknown(t)
		ch.Destinations = append(ch.Destinations, dest)
	}

	d.unknown(root)
	d.errs.sortByLine()
	return ch, d.errs
}
