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
// watcher reloads once the new file is in place; a profile that cannot be read (a symlink
// pointing nowhere, a directory or a FIFO named NAME.toml, a file over 1 MiB) is a mistake of
// that file.
//
// Mistakes in the files are returned together as Errors, so that one run shows all of them.
// Other failures, such as an unreadable config file or a missing profile directory, are
// returned as plain errors wrapping the cause. A profile directory without profiles is no
// error: the config then has no channels.
func Load(path string) (*Config, error) {
	cfg, errs, err := readConfig(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if cfg == nil {
		return nil, errs
	}
	files, err := readProfiles(cfg)
	if err != nil {
		// A mistake in the config may be why the directory is not there.
		if len(errs) > 0 {
			return nil, errs
		}
		return nil, fmt.Errorf("profile directory %s: %w", cfg.ProfileDir(), err)
	}
	if errs = append(errs, merge(cfg, files, nil)...); len(errs) > 0 {
		return nil, errs
	}
	cfg.sort()
	return cfg, nil
}

// LoadRunnable reads the config as Load does, but leaves the profiles with mistakes out instead
// of failing: their mistakes are returned beside a Config of every good channel, so that run
// starts those and reports the others. As Load, it fails when the main config file has
// mistakes or cannot be read, or when the profile directory cannot be read.
func LoadRunnable(path string) (*Config, Errors, error) {
	cfg, errs, err := readConfig(path)
	if err != nil {
		return nil, nil, fmt.Errorf("config: %w", err)
	}
	if cfg == nil || len(errs) > 0 {
		return nil, nil, errs
	}
	files, err := readProfiles(cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("profile directory %s: %w", cfg.ProfileDir(), err)
	}
	errs = merge(cfg, files, nil)
	cfg.sort()
	return cfg, errs, nil
}

// add puts a good profile into the config: its channel, or its name among the disabled ones,
// and its warnings.
func (c *Config) add(f profileFile) {
	if f.disabled {
		c.Disabled = append(c.Disabled, f.channel.Name)
	} else {
		c.Channels = append(c.Channels, f.channel)
	}
	c.Warnings = append(c.Warnings, f.warnings...)
}

// profileFile is one profile of the profile directory as it was read. Load needs every file
// right; the Watcher keeps each wrong one at its last good version.
type profileFile struct {
	file string
	channelFile
	err error // the file could not be read
}

// readConfig reads the main config file at path. It returns an error only when the file cannot
// be read, and a nil Config when the file is not TOML at all (see decodeConfig).
func readConfig(path string) (*Config, Errors, error) {
	src, err := readFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, errs := decodeConfig(path, src)
	return cfg, errs, nil
}

// readProfiles reads every profile of cfg's profile directory, in the order of the file names.
// Profiles that vanish while they are read are left out. It returns an error only when the
// directory cannot be read.
func readProfiles(cfg *Config) ([]profileFile, error) {
	dir := cfg.ProfileDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []profileFile
	for _, e := range entries {
		name, ok := profileName(e.Name())
		if !ok {
			continue
		}
		file := filepath.Join(dir, e.Name())
		src, ok, err := readProfile(file)
		if err != nil {
			files = append(files, profileFile{file: file, err: err})
			continue
		}
		if !ok {
			continue
		}
		files = append(files, profileFile{file: file, channelFile: decodeChannel(file, name, src, cfg)})
	}
	return files, nil
}

// sort orders the channels and disabled names by name, and the warnings by file and line.
func (c *Config) sort() {
	slices.SortFunc(c.Channels, func(a, b Channel) int { return cmp.Compare(a.Name, b.Name) })
	slices.Sort(c.Disabled)
	slices.SortStableFunc(c.Warnings, func(a, b *Error) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line))
	})
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

// readProfile reads a profile file, following symlinks, as readFile does. It returns false, and
// no error, when the file is gone. A symlink left pointing nowhere is an error, not a file gone:
// a ConfigMap whose target vanished is broken, and its channel keeps its last good version as
// for any other mistake. So is an entry that is not a regular file, or is too large.
func readProfile(file string) ([]byte, bool, error) {
	src, err := readFile(file)
	if errors.Is(err, fs.ErrNotExist) {
		if target, lerr := os.Readlink(file); lerr == nil {
			return nil, false, fmt.Errorf("a symlink to %s, which does not exist", target)
		}
		return nil, false, nil
	}
	return src, err == nil, err
}
