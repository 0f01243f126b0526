package benchrig

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Channel is a liveinject configuration with one channel whose source is an MPEG-TS file,
// passed through (encoder "copy") and played in a loop at its own pace.
type Channel struct {
	// FFmpeg is the ffmpeg that liveinject runs.
	FFmpeg string
	// Source is the MPEG-TS file.
	Source string
	// URLs are the channel's destinations.
	URLs []string
	// Record, when set, is the [record] folder: the channel records too, in 1-minute segments.
	Record string
}

// Write writes the configuration and its profile into dir and returns the configuration's path.
// The dashboard is off, so that the run takes no fixed port.
func (c Channel) Write(dir string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "profiles"), 0o755); err != nil {
		return "", err
	}
	profile := fmt.Sprintf("[source]\nkind = \"file\"\npath = %q\n[video]\nencoder = \"copy\"\n[audio]\nencoder = \"copy\"\n", c.Source)
	for _, u := range c.URLs {
		profile += fmt.Sprintf("[[destination]]\nurl = %q\n", u)
	}
	if c.Record != "" {
		profile += fmt.Sprintf("[record]\ndir = %q\n", c.Record)
	}
	config := filepath.Join(dir, "liveinject.toml")
	for path, text := range map[string]string{
		config: "ffmpeg = " + strconv.Quote(c.FFmpeg) + "\nprofiles = \"profiles\"\n[log]\nlevel = \"warn\"\n" +
			"[http]\nlisten = \"\"\n",
		filepath.Join(dir, "profiles", "c.toml"): profile,
	} {
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			return "", err
		}
	}
	return config, nil
}
