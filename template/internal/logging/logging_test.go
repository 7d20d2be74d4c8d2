// Code managed by copier-gin: take template improvements with `make update`.

package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/trace"
)

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not one JSON object: %q", line)
		}
		out = append(out, rec)
	}
	return out
}

func TestRequestIDOnEveryRequestScopedLine(t *testing.T) {
	var buf bytes.Buffer
	base := New(&buf, "json", slog.LevelInfo)
	ctx := WithRequest(context.Background(), "req-7", base)

	From(ctx).Info("from the context")
	base.InfoContext(ctx, "with the context")
	From(ctx).InfoContext(ctx, "both") // bound and given the context: the ID once
	base.Info("no request")

	got := lines(t, &buf)
	for _, rec := range got[:3] {
		if rec["request_id"] != "req-7" {
			t.Fatalf("line without the request ID: %v", rec)
		}
	}
	if strings.Count(buf.String(), `"request_id"`) != 3 {
		t.Fatalf("the request ID must appear once per request line:\n%s", buf.String())
	}
	if _, ok := got[3]["request_id"]; ok {
		t.Fatalf("a line outside a request has a request ID: %v", got[3])
	}
}

func TestFromWithoutARequestIsTheDefault(t *testing.T) {
	if From(context.Background()) != slog.Default() {
		t.Fatal("outside a request From must return slog.Default()")
	}
	if RequestID(context.Background()) != "" {
		t.Fatal("no request ID outside a request")
	}
}

func TestTraceIDFromTheContextsSpan(t *testing.T) {
	var buf bytes.Buffer
	logger := New(&buf, "json", slog.LevelInfo)
	traceID, _ := trace.TraceIDFromHex("4bf92f3577b34da6a3ce929d0e0e4736")
	spanID, _ := trace.SpanIDFromHex("00f067aa0ba902b7")
	ctx := trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{TraceID: traceID, SpanID: spanID}))
	logger.InfoContext(ctx, "in a span")
	logger.InfoContext(context.Background(), "outside")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if !strings.Contains(lines[0], `"trace_id":"4bf92f3577b34da6a3ce929d0e0e4736"`) || strings.Contains(lines[1], "trace_id") {
		t.Fatalf("lines = %q", lines)
	}
}
