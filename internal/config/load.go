package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/BurntSushi/toml"
)

// Load reads the config file at path over Default(), applies the
// environment overrides and validates the result.
//
// path "" means $BANGER_CONFIG if set, else DefaultPath. Only DefaultPath
// reached that way may be missing (the defaults are used); a file named
// explicitly, by path or by $BANGER_CONFIG, must exist. Errors name the
// offending key and wrap ErrUnknownKey or ErrInvalid.
func Load(path string) (Config, error) {
	return load(path, DefaultPath, os.Getenv)
}

func load(path, defaultPath string, getenv func(string) string) (Config, error) {
	optional := false
	if path == "" {
		path = getenv(EnvConfig)
	}
	if path == "" {
		path, optional = defaultPath, true
	}
	data, err := os.ReadFile(path)
	switch {
	case optional && errors.Is(err, fs.ErrNotExist):
		data = nil
	case err != nil:
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	c, err := Parse(data)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	c, err = applyEnv(c, getenv)
	if err != nil {
		return Config{}, err
	}
	return c, nil
}

// Parse decodes TOML over Default() and validates it, without reading the
// environment. Unknown keys are errors (wrapping ErrUnknownKey).
func Parse(data []byte) (Config, error) {
	c := Default()
	md, err := toml.NewDecoder(bytes.NewReader(data)).Decode(&c)
	if err != nil {
		return Config{}, fmt.Errorf("parsing TOML: %w", err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return Config{}, fmt.Errorf("%w: %s", ErrUnknownKey, strings.Join(keys, ", "))
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// applyEnv lays the environment overrides over c and validates again, so a
// bad override is reported under the variable's name.
func applyEnv(c Config, getenv func(string) string) (Config, error) {
	overrides := []struct {
		env, key string
		field    *string
	}{
		{EnvSocket, "socket", &c.Socket},
		{EnvStateDir, "state_dir", &c.StateDir},
	}
	for _, o := range overrides {
		v := getenv(o.env)
		if v == "" {
			continue
		}
		*o.field = v
		if err := absPath(o.key, v); err != nil {
			return Config{}, fmt.Errorf("environment %s: %w", o.env, err)
		}
	}
	return c, nil
}
