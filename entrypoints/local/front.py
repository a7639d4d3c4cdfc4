"""Entrypoints layer: the local HTTP front — a threaded HTTP/1.1 server in front of the gateway."""

from __future__ import annotations

import json
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from entrypoints.http.problems import problem_document
from entrypoints.local.gateway import MAX_REQUEST_BYTES, Gateway, GatewayResponse

Observer = Callable[[str, str, int], None]
DISCARD_LIMIT = 64 * 1024 * 1024
"""Oversized bodies up to this size are read and dropped before the 413; larger ones are
answered at once and the connection closed."""


class _FrontHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "KumoCMS-local"
    sys_version = ""
    gateway: Gateway
    observer: Observer | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Quiet: the handlers log every request as JSON already."""

    def _serve(self) -> None:
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            self._send(
                GatewayResponse(
                    413,
                    {"Content-Type": "application/problem+json"},
                    json.dumps(
                        problem_document(
                            413,
                            "payload_too_large",
                            "requests carry at most 10 MB; use a presigned upload",
                        )
                    ).encode(),
                ),
                close=True,
            )
            return
        response = self.gateway.handle(
            self.command,
            url.path or "/",
            query=parse_qsl(url.query, keep_blank_values=True),
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
        )
        self._send(response)
        if self.observer is not None:
            self.observer(self.command, url.path, response.status)

    def _read_body(self) -> bytes | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    return None
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._discard(length)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _discard(self, length: int) -> None:
        """Read and drop an oversized body (up to a bound) so the client sees the 413."""
        remaining = min(length, DISCARD_LIMIT)
        while remaining > 0:
            chunk = self.rfile.read(min(remaining, 1024 * 1024))
            if not chunk:
                break
            remaining -= len(chunk)

    def _send(self, response: GatewayResponse, *, close: bool = False) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            if name.lower() not in ("content-length", "connection"):
                self.send_header(name, value)
        if response.status not in (204, 304):  # RFC 9110 §8.6: neither carries a length
            self.send_header("Content-Length", str(len(response.body)))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD" and response.status not in (204, 304):
            self.wfile.write(response.body)

    def __getattr__(self, name: str) -> Any:
        # BaseHTTPRequestHandler dispatches on `do_<METHOD>`: every method reaches the gateway,
        # which answers the ones no route has with 405 and an Allow header.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)


class Front(ThreadingHTTPServer):
    """The HTTP server; `base_url` is what clients use."""

    daemon_threads = True
    allow_reuse_address = True

    @property
    def base_url(self) -> str:
        """`http://<host>:<port>`."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode("ascii")
        return f"http://{host}:{port}"


def make_front(
    gateway: Gateway, host: str, port: int, *, observer: Observer | None = None
) -> Front:
    """Bind the front (port 0 picks a free port)."""
    handler = type("Handler", (_FrontHandler,), {"gateway": gateway, "observer": observer})
    return Front((host, port), handler)
