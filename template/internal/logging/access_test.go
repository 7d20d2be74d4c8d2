// Code managed by copier-gin: take template improvements with `make update`.

package logging

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
)

// viaSlog is the line slog's JSON handler writes for r: LogRequest through a logger
// without New's shortcut.
func viaSlog(ctx context.Context, r Request) string {
	var buf bytes.Buffer
	logger := slog.New(contextHandler{Handler: slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})})
	LogRequest(ctx, logger, r)
	return buf.String()
}

func viaNew(ctx context.Context, r Request) string {
	var buf bytes.Buffer
	LogRequest(ctx, New(&buf, "json", slog.LevelDebug), r)
	return buf.String()
}

func TestAccessLineIsTheLineSlogWrites(t *testing.T) {
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	contexts := map[string]context.Context{
		"no request":   context.Background(),
		"request ID":   WithRequestID(context.Background(), "req-7"),
		"request+span": trace.ContextWithSpanContext(WithRequestID(context.Background(), "abc"), trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID})),
	}
	strs := []string{"", "/livez", `q"u\o"te`, "tab\tnl\nCR\r", "ctl\x00\x01\x1f\x7f", "<&>", "é ü 日本", "bad\xff\xfeutf8",
		"\u2028\u2029", strings.Repeat("x", 1500)}
	latencies := []time.Duration{0, time.Microsecond, 12 * time.Microsecond, 999 * time.Microsecond, time.Millisecond,
		1500 * time.Microsecond, 1234567 * time.Microsecond, 90 * time.Second, 1500 * time.Nanosecond}
	at := time.Date(2026, 1, 2, 3, 4, 5, 600700800, time.UTC)
	checked := 0
	for name, ctx := range contexts {
		for i, s := range strs {
			r := Request{
				Time: at.Add(time.Duration(i) * time.Hour).In(time.FixedZone("X", 3600*i)), Level: slog.Level(4 * (i%3 - 1)),
				Method: "GET", Route: "/x/:id", Path: s, Status: 200 + 100*(i%4), Latency: latencies[i%len(latencies)],
				ClientIP: "192.0.2.1", Bytes: i * 1000, UserAgent: strs[len(strs)-1-i],
			}
			if got, want := viaNew(ctx, r), viaSlog(ctx, r); got != want {
				t.Fatalf("%s, %q:\n got %s\nwant %s", name, s, got, want)
			}
			checked++
		}
	}
	for _, d := range latencies {
		r := Request{Time: at, Level: slog.LevelInfo, Latency: d}
		if got, want := viaNew(context.Background(), r), viaSlog(context.Background(), r); got != want {
			t.Fatalf("latency %s:\n got %s\nwant %s", d, got, want)
		}
	}
	if checked == 0 {
		t.Fatal("nothing checked")
	}
}

func FuzzAccessLineIsTheLineSlogWrites(f *testing.F) {
	f.Add("/api/v1/products", "curl/8.0", int64(1234))
	f.Add("bad\xff\u2028\"\\", "\x00", int64(-5))
	f.Fuzz(func(t *testing.T, path, agent string, us int64) {
		r := Request{Time: time.Unix(1700000000, 0).UTC(), Level: slog.LevelWarn, Method: "POST", Route: "unmatched",
			Path: path, Status: 404, Latency: time.Duration(us % (1 << 40) * 1000), ClientIP: "::1", UserAgent: agent}
		ctx := WithRequestID(context.Background(), path)
		if got, want := viaNew(ctx, r), viaSlog(ctx, r); got != want {
			t.Fatalf("\n got %s\nwant %s", got, want)
		}
	})
}

func TestAccessLineBelowTheLevelIsNotWritten(t *testing.T) {
	var buf bytes.Buffer
	LogRequest(context.Background(), New(&buf, "json", slog.LevelWarn), Request{Time: time.Now(), Level: slog.LevelInfo})
	LogRequest(context.Background(), New(&buf, "text", slog.LevelWarn), Request{Time: time.Now(), Level: slog.LevelInfo})
	if buf.Len() != 0 {
		t.Fatalf("written: %s", buf.String())
	}
}

func TestAccessLineInTextFormatAndThroughAttributes(t *testing.T) {
	var buf bytes.Buffer
	r := Request{Time: time.Now(), Level: slog.LevelInfo, Method: "GET", Path: "/p", Status: 200}
	LogRequest(WithRequestID(context.Background(), "t-1"), New(&buf, "text", slog.LevelInfo), r)
	if line := buf.String(); !strings.Contains(line, "msg=request") || !strings.Contains(line, "request_id=t-1") || !strings.Contains(line, "status=200") {
		t.Fatalf("text line = %q", line)
	}
	buf.Reset()
	// A logger with attributes of its own goes through slog, attributes included.
	LogRequest(context.Background(), New(&buf, "json", slog.LevelInfo).With("component", "edge"), r)
	if !strings.Contains(buf.String(), `"component":"edge"`) || !strings.Contains(buf.String(), `"path":"/p"`) {
		t.Fatalf("line = %q", buf.String())
	}
}
