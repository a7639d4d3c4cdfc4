"""Entrypoints layer: the embedded AWS emulator (moto server), shielded where it misreads S3 PUTs.

moto's server treats a body sent as `application/x-www-form-urlencoded` as an AWS query-protocol
form, whatever the method: its dispatcher reads the whole body to look for `Action=` and decodes
it as UTF-8 (`DomainDispatcherApplication._get_body`); when the bytes are not UTF-8 the decode
fails and the body it consumed is never put back, so werkzeug then waits on the socket for
`Content-Length` bytes the client already sent — the request hangs until the client gives up.
A UTF-8 body fares no better: werkzeug's form parser swallows it and S3 stores nothing (500).
Real S3 stores the bytes of a PUT whatever its Content-Type (Python's urllib sends the form type by
default with a body), so this wrapper hands moto such PUTs as `application/octet-stream` and puts
the client's Content-Type back on the stored object afterwards. POSTs (presigned POST forms, the
query protocol of SQS and friends) are left alone.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")
NEUTRAL_MEDIA_TYPE = "application/octet-stream"
_PART_PARAMETERS = ("uploadId", "partNumber")

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class ShieldedS3Puts:
    """WSGI middleware: PUT bodies reach moto as bytes, never as a form."""

    def __init__(self, app: WsgiApp) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request, shielding a form-typed PUT's body from moto's form parsing."""
        original = str(environ.get("CONTENT_TYPE") or "")
        if environ.get("REQUEST_METHOD") != "PUT" or not is_form_media_type(original):
            return self._app(environ, start_response)
        environ["CONTENT_TYPE"] = NEUTRAL_MEDIA_TYPE
        statuses: list[str] = []

        def recording(status: str, headers: Any, exc_info: Any = None) -> Any:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        result = self._app(environ, recording)
        if statuses and statuses[0].startswith("200") and _is_object_put(environ):
            _set_stored_content_type(str(environ.get("PATH_INFO") or ""), original)
        return result


def is_form_media_type(content_type: str) -> bool:
    """Whether moto/werkzeug would parse a body of this Content-Type as a form."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    return media_type in FORM_MEDIA_TYPES


def _is_object_put(environ: dict[str, Any]) -> bool:
    """A PutObject (not an UploadPart, whose Content-Type S3 ignores, nor a copy)."""
    query = parse_qs(str(environ.get("QUERY_STRING") or ""), keep_blank_values=True)
    if any(name in query for name in _PART_PARAMETERS):
        return False
    return "HTTP_X_AMZ_COPY_SOURCE" not in environ


def _set_stored_content_type(path: str, content_type: str) -> None:
    """Give the object just stored (path-style `/bucket/key`) the Content-Type the client sent."""
    from moto.core.models import DEFAULT_ACCOUNT_ID  # noqa: PLC0415 - moto is only needed locally
    from moto.s3.models import s3_backends  # noqa: PLC0415

    bucket, _, key = path.lstrip("/").partition("/")
    if not bucket or not key:
        return
    stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, key)
    if stored is not None:
        stored.set_metadata({"Content-Type": content_type})


class Emulator:
    """moto's server on loopback in a thread of this process, behind `ShieldedS3Puts`."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Bind and serve (port 0 picks a free port)."""
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server  # noqa: PLC0415

        from entrypoints.local import transactions  # noqa: PLC0415 - loads moto

        transactions.install()
        app = ShieldedS3Puts(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._host, self._port, app, threaded=True, request_handler=MotoRequestHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="kumocms-emulator", daemon=True
        )
        self._thread.start()

    @property
    def endpoint(self) -> str:
        """`http://<host>:<port>`, what boto3 and the AWS CLI are pointed at."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
