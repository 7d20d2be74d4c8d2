// Code managed by copier-gin: take template improvements with `make update`.

package logging

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// Request is what the access line of one answered request says.
type Request struct {
	Time      time.Time // when it was answered
	Level     slog.Level
	Method    string
	Route     string // the route template; "unmatched" when none matched
	Path      string
	Status    int
	Latency   time.Duration
	ClientIP  string
	Bytes     int
	UserAgent string
}

// LogRequest writes r's access line (msg "request") to logger, with the request ID and
// trace ID ctx carries, as any line logged with ctx has them. It is one line per request,
// so it is made to be cheap: a logger New made with the json format gets the line encoded
// here, byte for byte as slog's JSON handler would encode it (a test holds them equal),
// without slog's cost per attribute (a float it formats with encoding/json, the caller's
// program counter it looks up, keys it escapes every time); any other logger gets it
// through slog.
func LogRequest(ctx context.Context, logger *slog.Logger, r Request) {
	if !logger.Enabled(ctx, r.Level) {
		return
	}
	h, ok := logger.Handler().(contextHandler)
	if !ok || h.json == nil {
		logger.Handler().Handle(ctx, r.record()) //nolint:errcheck,gosec // as slog.Logger does: a log line has nobody to report to
		return
	}
	buf := linePool.Get().(*[]byte)
	line := appendRequest(ctx, (*buf)[:0], r)
	_, _ = h.json.Write(line)
	if cap(line) <= maxPooledLine { // a line made huge by a long path is left to the GC
		*buf = line
		linePool.Put(buf)
	}
}

// record is r as a slog record, for handlers other than New's JSON one; its attributes
// are in the order appendRequest writes them.
func (r Request) record() slog.Record {
	rec := slog.NewRecord(r.Time, r.Level, "request", 0)
	rec.AddAttrs(
		slog.String("method", r.Method),
		slog.String("route", r.Route),
		slog.String("path", r.Path),
		slog.Int("status", r.Status),
		slog.Float64("latency_ms", float64(r.Latency.Microseconds())/1000),
		slog.String("client_ip", r.ClientIP),
		slog.Int("bytes", r.Bytes),
		slog.String("user_agent", r.UserAgent),
	)
	return rec
}

const maxPooledLine = 16 << 10

var linePool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// appendRequest appends r's line as slog.JSONHandler writes the record r.record() with
// contextHandler's request_id and trace_id.
func appendRequest(ctx context.Context, b []byte, r Request) []byte {
	b = append(b, `{"time":"`...)
	b = r.Time.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","level":"`...)
	b = append(b, r.Level.String()...)
	b = append(b, `","msg":"request","method":`...)
	b = appendJSONString(b, r.Method)
	b = append(b, `,"route":`...)
	b = appendJSONString(b, r.Route)
	b = append(b, `,"path":`...)
	b = appendJSONString(b, r.Path)
	b = append(b, `,"status":`...)
	b = strconv.AppendInt(b, int64(r.Status), 10)
	b = append(b, `,"latency_ms":`...)
	b = appendMillis(b, r.Latency.Microseconds())
	b = append(b, `,"client_ip":`...)
	b = appendJSONString(b, r.ClientIP)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, int64(r.Bytes), 10)
	b = append(b, `,"user_agent":`...)
	b = appendJSONString(b, r.UserAgent)
	if id := RequestID(ctx); id != "" {
		b = append(b, `,"`+RequestIDAttr+`":`...)
		b = appendJSONString(b, id)
	}
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		b = append(b, `,"`+TraceIDAttr+`":"`...)
		b = append(b, sc.TraceID().String()...)
		b = append(b, '"')
	}
	return append(b, "}\n"...)
}

// appendMillis appends us microseconds as milliseconds, the way encoding/json writes
// the float64 us/1000 (slog's JSON handler uses it): the shortest decimal, no trailing
// zeros ("1.5", "0.012", "3").
func appendMillis(b []byte, us int64) []byte {
	if us < 0 {
		b = append(b, '-')
		us = -us
	}
	b = strconv.AppendInt(b, us/1000, 10)
	frac := us % 1000
	if frac == 0 {
		return b
	}
	digits := [4]byte{'.', byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 4
	for digits[n-1] == '0' {
		n--
	}
	return append(b, digits[:n]...)
}

// appendJSONString appends s quoted and escaped as slog's JSON handler does: \" \\ \n
// \r \t, other control characters as \u00XX, invalid UTF-8 as \ufffd, U+2028 and U+2029
// escaped; <, > and & as they are.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
