package config

import _ "embed"

// Example is a commented config file that sets every key to its default.
//
//go:embed example.toml
var Example string
