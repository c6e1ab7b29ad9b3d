package redisstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// SetLibraryLogger sends go-redis' own log lines (failed dials, dropped
// connections) to l at warn level, with the server's other logs, instead
// of go-redis' unstructured lines on stderr. go-redis keeps one logger per
// process, so this applies to every Store; call it once, at start.
func SetLibraryLogger(l *slog.Logger) { redis.SetLogger(libraryLogger{l}) }

// libraryLogger adapts slog to go-redis' logging interface.
type libraryLogger struct{ l *slog.Logger }

func (g libraryLogger) Printf(ctx context.Context, format string, v ...any) {
	msg := strings.TrimPrefix(fmt.Sprintf(format, v...), "redis: ")
	g.l.Log(ctx, slog.LevelWarn, msg, "component", "go-redis")
}
