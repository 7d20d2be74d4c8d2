// Code managed by copier-gin: take template improvements with `make update`.

// Package logging builds the service's structured logger and carries request-scoped
// values (the request ID) in context.Context, so that every line logged while serving
// a request says which request it belongs to.
//
// In a handler, log through the context:
//
//	logging.From(ctx).Info("order placed", slog.String("order", id))
//
// or through any *slog.Logger with a Context method (slog.InfoContext(ctx, ...)):
// the handler New returns adds "request_id" from ctx to every record, and "trace_id"
// when tracing is on (internal/tracing) and ctx carries a span. Stray log.Printf
// and slog.Info calls are JSON too, because the service makes this logger the default.
package logging

import (
	"context"
	"io"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/trace"
)

// RequestIDAttr is the attribute every request-scoped line carries; TraceIDAttr the one
// a line logged within a span carries.
const (
	RequestIDAttr = "request_id"
	TraceIDAttr   = "trace_id"
)

// New returns a logger writing one JSON object per line (format "json") or
// logfmt-style text (format "text") at the given level. Records logged with a
// context carrying a request ID get a "request_id" attribute.
func New(w io.Writer, format string, level slog.Level) *slog.Logger {
	lines := &lineWriter{w: w}
	opts := &slog.HandlerOptions{Level: level}
	if format == "text" {
		return slog.New(contextHandler{Handler: slog.NewTextHandler(lines, opts)})
	}
	return slog.New(contextHandler{Handler: slog.NewJSONHandler(lines, opts), json: lines})
}

// lineWriter gives w one line at a time, whoever writes it: slog's handler, or
// LogRequest's own encoder, which writes past slog.
type lineWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

type ctxKey struct{}

// scope is a request's context: its parent, with the request ID and the logger. One
// type rather than context.WithValue and a value: one allocation per request.
type scope struct {
	context.Context
	id     string
	logger *slog.Logger
}

func (s *scope) Value(key any) any {
	if key == (ctxKey{}) {
		return s
	}
	return s.Context.Value(key)
}

// WithRequest returns ctx carrying the request ID id and logger, the base of what From
// returns (nil: slog.Default()).
func WithRequest(ctx context.Context, id string, logger *slog.Logger) context.Context {
	return &scope{Context: ctx, id: id, logger: logger}
}

// WithRequestID returns ctx carrying the request ID id (for tests and background work
// started on behalf of a request).
func WithRequestID(ctx context.Context, id string) context.Context {
	return WithRequest(ctx, id, nil)
}

// RequestID returns the request ID ctx carries, or "".
func RequestID(ctx context.Context) string {
	if s, ok := ctx.Value(ctxKey{}).(*scope); ok {
		return s.id
	}
	return ""
}

// From returns the logger for ctx: while serving a request, the service's logger with
// the request's ID bound to every line; otherwise slog.Default(). The binding is made
// here, when a handler asks, not for every request.
func From(ctx context.Context) *slog.Logger {
	s, ok := ctx.Value(ctxKey{}).(*scope)
	if !ok {
		return slog.Default()
	}
	logger := s.logger
	if logger == nil {
		logger = slog.Default()
	}
	if s.id == "" {
		return logger
	}
	return forRequest(logger, s.id)
}

// forRequest returns base with the request ID bound, marked so that the request ID is
// not added a second time from a context.
func forRequest(base *slog.Logger, id string) *slog.Logger {
	h := base.Handler()
	if ch, ok := h.(contextHandler); ok {
		return slog.New(contextHandler{Handler: ch.Handler.WithAttrs([]slog.Attr{slog.String(RequestIDAttr, id)}), bound: true})
	}
	return base.With(slog.String(RequestIDAttr, id))
}

// contextHandler adds the request ID from the record's context, unless the logger
// already has it bound (forRequest), and the trace ID of the context's span.
type contextHandler struct {
	slog.Handler
	bound bool
	// json is where the JSON handler New made writes, as long as no attribute or group
	// was added to it: LogRequest may then write that handler's lines itself.
	json *lineWriter
}

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if ctx != nil {
		if !h.bound {
			if id := RequestID(ctx); id != "" {
				r.AddAttrs(slog.String(RequestIDAttr, id))
			}
		}
		if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
			r.AddAttrs(slog.String(TraceIDAttr, sc.TraceID().String()))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return contextHandler{Handler: h.Handler.WithAttrs(attrs), bound: h.bound}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{Handler: h.Handler.WithGroup(name), bound: h.bound}
}
