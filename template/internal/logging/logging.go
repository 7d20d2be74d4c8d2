// Code managed by copier-gin: take template improvements with `make update`.

// Package logging builds the service's structured logger.
package logging

import (
	"io"
	"log/slog"
)

// New returns a logger writing one JSON object per line (format "json") or
// logfmt-style text (format "text") at the given level.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
