// Code managed by copier-gin: take template improvements with `make update`.

package tracing

import (
	"net/http"
	"net/url"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Transport makes a client span, child of the request context's span, for every request
// next sends, and passes the trace on in the request's headers (W3C traceparent). With
// tracing off (no OTEL_* variable) it only asks the no-op provider, which costs nothing.
func Transport(client string, next http.RoundTripper) http.RoundTripper {
	return transport{client: client, next: next}
}

type transport struct {
	client string
	next   http.RoundTripper
}

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, span := otel.Tracer(Name).Start(req.Context(), req.Method+" "+t.client,
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			semconv.HTTPRequestMethodKey.String(req.Method),
			semconv.ServerAddress(req.URL.Hostname()),
			// Without the query or credentials, which may hold secrets.
			semconv.URLFull((&url.URL{Scheme: req.URL.Scheme, Host: req.URL.Host, Path: req.URL.Path}).String()),
			semconv.PeerService(t.client),
		))
	defer span.End()
	if span.SpanContext().IsValid() {
		req = req.Clone(ctx)
		otel.GetTextMapPropagator().Inject(ctx, propagation.HeaderCarrier(req.Header))
	}
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "no response")
		return resp, err
	}
	span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	if resp.StatusCode >= http.StatusInternalServerError {
		span.SetStatus(codes.Error, resp.Status)
	}
	return resp, nil
}

// CloseIdleConnections closes next's idle connections (http.Client.CloseIdleConnections).
func (t transport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
