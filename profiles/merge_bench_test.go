package profiles

import (
	"fmt"
	"testing"
)

// BenchmarkMerge8000Destinations gives every channel name and stream of 2,000 profiles with 4
// destinations each (8,000 streams) to its file, as a reload does, with every channel running.
func BenchmarkMerge8000Destinations(b *testing.B) {
	const channels, perChannel = 2000, 4
	files := make([]profileFile, channels)
	running := make(map[string]Channel, channels)
	for i := range files {
		ch := Channel{Name: fmt.Sprintf("ch%04d", i), File: fmt.Sprintf("/etc/liveinject/profiles/ch%04d.toml", i)}
		for j := range perChannel {
			ch.Destinations = append(ch.Destinations, Destination{URL: fmt.Sprintf("rtsp://dss%d.example/%s.sdp", j, ch.Name)})
		}
		files[i] = profileFile{file: ch.File, channelFile: channelFile{channel: ch, urlLines: []int{5, 7, 9, 11}}}
		running[ch.File] = ch
	}
	for b.Loop() {
		cfg := &Config{}
		if errs := merge(cfg, files, running); len(errs) != 0 || len(cfg.Channels) != channels {
			b.Fatalf("%d errors, %d channels", len(errs), len(cfg.Channels))
		}
	}
}

// BenchmarkDecode8000Destinations decodes one profile of 8,000 destinations, each checked against
// the others.
func BenchmarkDecode8000Destinations(b *testing.B) {
	src := []byte("[source]\nkind = \"testsrc\"\n")
	for i := range 8000 {
		src = fmt.Appendf(src, "[[destination]]\nurl = \"rtsp://dss%d.example/x.sdp\"\n", i)
	}
	cfg, errs := decodeConfig("c.toml", nil) // the defaults
	if len(errs) != 0 {
		b.Fatal(errs)
	}
	for b.Loop() {
		if f := decodeChannel("p.toml", "p", src, cfg); len(f.errs) != 0 || len(f.channel.Destinations) != 8000 {
			b.Fatalf("%d errors (%v), %d destinations", len(f.errs), f.errs, len(f.channel.Destinations))
		}
	}
}
