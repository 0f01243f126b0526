package profiles

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Load reads the main config file at path and every profile of its profile directory.
//
// The profile directory is read without descending: each "NAME.toml" in it is channel NAME.
// Hidden files (editors' ".NAME.toml.swp", Kubernetes' "..data") and anything not ending in
// ".toml" ("NAME.toml~") are ignored; symlinks are followed, as ConfigMaps are made of them.
// A profile that vanishes while it is read is skipped, since editors save by renaming and the
// watcher reloads once the new file is in place.
//
// Mistakes in the files are returned together as Errors, so that one run shows all of them.
// Other failures, such as an unreadable config file or a missing profile directory, are
// returned as plain errors wrapping the cause. A profile directory without profiles is no
// error: the config then has no channels.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	cfg, errs := decodeConfig(path, src)
	if cfg == nil {
		return nil, errs
	}

	dir := cfg.ProfileDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		// A mistake in the config may be why the directory is not there.
		if len(errs) > 0 {
			return nil, errs
		}
		return nil, fmt.Errorf("profile directory %s: %w", dir, err)
	}
	for _, e := range entries {
		name, ok := profileName(e.Name())
		if !ok {
			continue
		}
		file := filepath.Join(dir, e.Name())
		src, ok, err := readProfile(file)
		if err != nil {
			return nil, fmt.Errorf("profile: %w", err)
		}
		if !ok {
			continue
		}
		ch, chErrs := decodeChannel(file, name, src, cfg.Relay.Listen)
		errs = append(errs, chErrs...)
		cfg.Channels = append(cfg.Channels, ch)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	slices.SortFunc(cfg.Channels, func(a, b Channel) int { return cmp.Compare(a.Name, b.Name) })
	return cfg, nil
}

// ProfileDir returns the profile directory: Profiles, taken relative to the directory of the
// config file unless it is absolute, so that the config works from any working directory.
func (c *Config) ProfileDir() string {
	if filepath.IsAbs(c.Profiles) {
		return c.Profiles
	}
	return filepath.Join(filepath.Dir(c.Path), c.Profiles)
}

// profileName returns the channel name of a profile directory entry, and whether the entry is
// a profile at all.
func profileName(fileName string) (string, bool) {
	name, ok := strings.CutSuffix(fileName, ".toml")
	if !ok || name == "" || strings.HasPrefix(fileName, ".") {
		return "", false
	}
	return name, true
}

// readProfile reads a profile file, following symlinks. It returns false, and no error, when
// the file is gone or is not a regular file (a directory named "NAME.toml" is no profile).
func readProfile(file string) ([]byte, bool, error) {
	info, err := os.Stat(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if !info.Mode().IsRegular() {
		return nil, false, nil
	}
	src, err := os.ReadFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return src, err == nil, err
}
