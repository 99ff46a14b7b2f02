// Package logging makes the logr.Logger that pkgindex's commands write
// through (slog underneath, text or JSON), and logs at warning level, which
// logr has no call for.
package logging

import (
	"context"
	"io"
	"log/slog"

	"github.com/go-logr/logr"
)

// Levels are the names --log-level takes.
var Levels = []string{"debug", "info", "warn", "error"}

// New returns a logger writing to w in format ("text" or "json") from level
// up ("debug", "info", "warn" or "error"; anything else is info). Every
// verbosity of logr's V(n) is shown as DEBUG: slog would print V(1) as
// "DEBUG+3", which reads as a level of its own.
func New(w io.Writer, format, level string) logr.Logger {
	var lv slog.Level
	switch level {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.LevelKey && len(groups) == 0 {
			if l, ok := a.Value.Any().(slog.Level); ok && l < slog.LevelInfo {
				a.Value = slog.StringValue(slog.LevelDebug.String())
			}
		}
		return a
	}}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if format == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return logr.FromSlogHandler(h)
}

// Warn logs msg at warning level: what an operator or a log watcher
// (fail2ban and the like) should act on, but that is not the server's own
// failure.
func Warn(log logr.Logger, msg string, keysAndValues ...any) {
	h := logr.ToSlogHandler(log)
	if !h.Enabled(context.Background(), slog.LevelWarn) {
		return
	}
	slog.New(h).Warn(msg, keysAndValues...)
}
