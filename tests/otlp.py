"""A tiny OTLP/HTTP trace receiver for the tests: what a collector would see of a service.

It listens on loopback, accepts ``POST /v1/traces`` with an ExportTraceServiceRequest in
protobuf (``application/x-protobuf``, what OpenTelemetry's Go exporter sends; gzip or not) or
in OTLP's JSON encoding, decodes it with the official definitions (``opentelemetry-proto``)
and records every span. It also counts every TCP connection it accepts, so that a test can
assert that a service made none. ``ConnectionCounter`` is the same count for a port that
speaks nothing (the OTLP/gRPC default 4317, say).

    with OTLPReceiver() as otlp:                        # a free port
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = otlp.endpoint   # http://127.0.0.1:PORT
        ...
        spans = otlp.wait_for(lambda spans: any(s.name == "GET /x" for s in spans))
        otlp.trace(trace_id)                            # the spans of one trace
        otlp.connections                                # TCP connections accepted
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span as PbSpan
from opentelemetry.proto.trace.v1.trace_pb2 import Status

HOST = "127.0.0.1"
TRACES_PATH = "/v1/traces"
# SpanKind numbers of the protocol, by the names tests use.
KINDS = {v: k.removeprefix("SPAN_KIND_") for k, v in PbSpan.SpanKind.items()}


def _value(any_value) -> Any:
    """A Python value of an OTLP AnyValue."""
    which = any_value.WhichOneof("value")
    if which is None:
        return None
    if which == "array_value":
        return [_value(v) for v in any_value.array_value.values]
    if which == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in any_value.kvlist_value.values}
    return getattr(any_value, which)


def _attributes(kvs) -> dict[str, Any]:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass(frozen=True)
class Span:
    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # 16 hex digits, "" for a root span
    name: str
    kind: str  # SERVER, CLIENT, INTERNAL, PRODUCER, CONSUMER, UNSPECIFIED
    attributes: dict[str, Any] = field(hash=False)
    resource: dict[str, Any] = field(hash=False)
    scope: str
    status_code: str  # UNSET, OK, ERROR
    start_ns: int
    end_ns: int

    @property
    def service_name(self) -> str | None:
        return self.resource.get("service.name")


def decode(body: bytes, content_type: str) -> list[Span]:
    """The spans of one export request body."""
    request = ExportTraceServiceRequest()
    if content_type.startswith("application/json"):
        json_format.Parse(body, request)
    else:
        request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append(Span(
                    trace_id=s.trace_id.hex(), span_id=s.span_id.hex(), parent_span_id=s.parent_span_id.hex(),
                    name=s.name, kind=KINDS.get(s.kind, str(s.kind)), attributes=_attributes(s.attributes),
                    resource=resource, scope=scope_spans.scope.name,
                    status_code=Status.StatusCode.Name(s.status.code).removeprefix("STATUS_CODE_"),
                    start_ns=s.start_time_unix_nano, end_ns=s.end_time_unix_nano,
                ))
    return spans


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, receiver: OTLPReceiver, address):
        self.receiver = receiver
        super().__init__(address, _Handler)

    def verify_request(self, request, client_address) -> bool:
        with self.receiver._lock:
            self.receiver.connections += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as exporters use it
    server: _Server

    def log_message(self, format, *args):  # noqa: A002 - quiet
        pass

    def do_POST(self):  # noqa: N802 - http.server's name
        receiver = self.server.receiver
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        content_type = (self.headers.get("Content-Type") or "").lower()
        receiver._record_request(self.command, self.path, dict(self.headers))
        if self.path != TRACES_PATH:
            return self._reply(404, b"not found", "text/plain")
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            spans = decode(body, content_type)
        except Exception as exc:  # noqa: BLE001 - a bad request is recorded and answered 400
            receiver._record_error(f"{type(exc).__name__}: {exc}")
            return self._reply(400, str(exc).encode(), "text/plain")
        receiver._record_spans(spans)
        if content_type.startswith("application/json"):
            return self._reply(200, b"{}", "application/json")
        return self._reply(200, ExportTraceServiceResponse().SerializeToString(), "application/x-protobuf")

    def do_GET(self):  # noqa: N802
        self.server.receiver._record_request(self.command, self.path, dict(self.headers))
        self._reply(405, b"method not allowed", "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class OTLPReceiver:
    """An OTLP/HTTP traces endpoint on (host, port); port 0 picks a free one."""

    def __init__(self, host: str = HOST, port: int = 0):
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self.connections = 0
        self.requests: list[tuple[str, str, dict]] = []  # (method, path, headers)
        self.errors: list[str] = []
        self._spans: list[Span] = []
        self._server = _Server(self, (host, port))
        self.host, self.port = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"otlp-{self.port}", daemon=True)
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """For OTEL_EXPORTER_OTLP_ENDPOINT (the exporter appends /v1/traces)."""
        return f"http://{self.host}:{self.port}"

    @property
    def traces_endpoint(self) -> str:
        """For OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (used as is)."""
        return self.endpoint + TRACES_PATH

    # --- recording (the handler's threads)
    def _record_request(self, method: str, path: str, headers: dict) -> None:
        with self._lock:
            self.requests.append((method, path, headers))

    def _record_error(self, error: str) -> None:
        with self._lock:
            self.errors.append(error)

    def _record_spans(self, spans: list[Span]) -> None:
        with self._changed:
            self._spans.extend(spans)
            self._changed.notify_all()

    # --- reading
    @property
    def spans(self) -> list[Span]:
        with self._lock:
            return list(self._spans)

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.spans if s.trace_id == trace_id]

    def wait_for(self, predicate: Callable[[list[Span]], Any], timeout: float = 15) -> Any:
        """Wait until predicate(all spans so far) is truthy; return its value. Fails with
        what arrived (span names) when it never is."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                result = predicate(list(self._spans))
                if result:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    names = [(s.name, s.kind, s.trace_id[:8]) for s in self._spans]
                    raise AssertionError(f"OTLP receiver: condition not met within {timeout} s; "
                                         f"{self.connections} connection(s), {len(self.requests)} request(s), "
                                         f"errors {self.errors}, spans {names}")
                self._changed.wait(min(left, 0.5))

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> OTLPReceiver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class ConnectionCounter:
    """A listener that accepts and counts TCP connections and closes them: for a port where
    any connection at all is the finding (the OTLP/gRPC default port, say)."""

    def __init__(self, host: str = HOST, port: int = 0, family: int = socket.AF_INET):
        self.connections = 0
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(64)
        self._sock.settimeout(0.1)
        self.host, self.port = self._sock.getsockname()[:2]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"count-{self.port}", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.connections += 1
            with contextlib.suppress(OSError):
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def __enter__(self) -> ConnectionCounter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
