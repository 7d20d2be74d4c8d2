// Code managed by copier-gin: take template improvements with `make update`.

package config

import (
	"bufio"
	"fmt"
	"os"
	"strings"
)

// ReadEnvFile reads a KEY=value file (the format of .env.example and of compose's and
// systemd's env files): blank lines and lines starting with # are skipped, an optional
// "export " prefix is dropped, and a value wrapped in matching single or double quotes
// is unwrapped (no escapes, no expansion). It returns "KEY=value" pairs in file order.
// Errors name the file and line.
func ReadEnvFile(path string) ([]string, error) {
	f, err := os.Open(path) //nolint:gosec // the path is the operator's -env-file flag
	if err != nil {
		return nil, fmt.Errorf("env file: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, value, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		key = strings.TrimSpace(key)
		if !ok || key == "" || strings.ContainsAny(key, " \t\"'") {
			return nil, fmt.Errorf("%s:%d: want KEY=value, got %q", path, n, line)
		}
		value = strings.TrimSpace(value)
		if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
			value = value[1 : len(value)-1]
		}
		out = append(out, key+"="+value)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
