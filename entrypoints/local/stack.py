"""Entrypoints layer: all of KumoCMS on one machine — moto, provisioning, handlers, pumps.

The real handlers and adapters run in this process against the embedded moto server (over
loopback HTTP, as boto3 would reach AWS). An API-Gateway-like front serves the HTTP API; a
worker thread plays the event source mapping (ingest queue -> ingest handler), releases
simulated Glacier restores, and runs the DLQ-retry and reconcile handlers on timers.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from typing import Any

import attrs

from entrypoints.bootstrap import Runtime, build_runtime, fixed
from entrypoints.functions.authorizer import make_authorizer
from entrypoints.functions.dlq_retry import make_dlq_retry_handler
from entrypoints.functions.ingest import make_ingest_handler
from entrypoints.functions.reconcile import make_reconcile_handler
from entrypoints.functions.transfer import make_transfer_handler
from entrypoints.http.api import make_http_handler
from entrypoints.http.routes import FUNCTIONS as HTTP_FUNCTIONS
from entrypoints.local import glacier
from entrypoints.local.emulator import Emulator
from entrypoints.local.front import Front, make_front
from entrypoints.local.gateway import Gateway, LambdaContext
from entrypoints.local.provision import Resources, provision
from entrypoints.local.pump import QueuePump
from entrypoints.manifest import FUNCTIONS
from entrypoints.observability import get_logger
from entrypoints.settings import EnvSettings
from kumocms.usecases.users import bootstrap_admin

log = get_logger("kumocms.local")
FAKE_KEY_ID = "testing"
FAKE_SECRET = "testing"  # noqa: S105 - the emulator accepts any credentials


@attrs.frozen(kw_only=True)
class StackOptions:
    """How the local stack runs."""

    host: str = "127.0.0.1"
    port: int = 8080
    admin_key: str | None = None
    restore_delay: float = 5.0
    region: str = "eu-west-1"
    authorizer_cache_ttl: float = 60.0
    dlq_retry_every: float = 30.0
    reconcile_every: float = 60.0
    cors_allowed_origins: tuple[str, ...] = ("*",)
    ingest_visibility_timeout: int = 30
    max_receive_count: int = 5
    environment: Mapping[str, str] = attrs.field(factory=dict)
    """Extra function environment (e.g. MULTIPART_THRESHOLD, DLQ_MAX_RETRIES) for tests."""


class LocalStack:
    """Start with `start()`, stop with `stop()`; `base_url` and `admin_key` once started."""

    def __init__(self, options: StackOptions) -> None:
        self.options = options
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._moto: Emulator | None = None
        self.emulator_endpoint = ""
        self.front: Front | None = None
        self.resources: Resources | None = None
        self.runtimes: dict[str, Runtime] = {}
        self.gateway: Gateway | None = None
        self.admin_key = ""
        self.pump: QueuePump | None = None
        self.transfer_pump: QueuePump | None = None
        self._sqs: Any = None

    @property
    def base_url(self) -> str:
        """The API's base URL."""
        assert self.front is not None
        return self.front.base_url

    def start(self) -> None:
        """Bring everything up; raises (and cleans up) when a part cannot start."""
        try:
            self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> None:
        import boto3  # noqa: PLC0415

        options = self.options
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        glacier.install(options.restore_delay)
        self._moto = Emulator("127.0.0.1", 0)
        self._moto.start()
        endpoint = self.emulator_endpoint = self._moto.endpoint
        session = boto3.Session(
            region_name=options.region,
            aws_access_key_id=FAKE_KEY_ID,
            aws_secret_access_key=FAKE_SECRET,
        )
        self.resources = provision(
            session,
            endpoint_url=endpoint,
            visibility_timeout=options.ingest_visibility_timeout,
            max_receive_count=options.max_receive_count,
        )
        environ = {
            **self.resources.environment(),
            "KUMOCMS_AWS_ENDPOINT_URL": endpoint,
            "RESTORE_POLL_SECONDS": str(max(1, math.ceil(options.restore_delay))),
            "DLQ_RETRY_DELAY_SECONDS": "5",
            "CORS_ALLOWED_ORIGINS": ",".join(options.cors_allowed_origins),
            **options.environment,
        }
        for name, function in FUNCTIONS.items():
            settings = EnvSettings.from_environ(
                environ, required=function.needs.required_settings()
            )
            self.runtimes[name] = build_runtime(settings, function.needs, session)
        issued = bootstrap_admin(
            self.runtimes["users"].ports, name="admin", api_key=options.admin_key
        )
        self.admin_key = issued.api_key
        handlers = {n: make_http_handler(n, fixed(self.runtimes[n])) for n in HTTP_FUNCTIONS}
        self.gateway = Gateway(
            handlers,
            make_authorizer(fixed(self.runtimes["authorizer"])),
            region=options.region,
            cache_ttl_seconds=options.authorizer_cache_ttl,
            cors_allowed_origins=options.cors_allowed_origins,
        )
        sqs = self._sqs = session.client("sqs", endpoint_url=endpoint)
        queue_arn = sqs.get_queue_attributes(
            QueueUrl=self.resources.ingest_queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.pump = QueuePump(
            sqs,
            self.resources.ingest_queue_url,
            make_ingest_handler(fixed(self.runtimes["ingest"])),
            queue_arn=queue_arn,
            region=options.region,
        )
        self.transfer_pump = QueuePump(
            sqs,
            self.resources.transfer_queue_url,
            make_transfer_handler(fixed(self.runtimes["transfer"])),
            queue_arn=sqs.get_queue_attributes(
                QueueUrl=self.resources.transfer_queue_url, AttributeNames=["QueueArn"]
            )["Attributes"]["QueueArn"],
            region=options.region,
            batch_size=1,
            function="transfer",
            timeout_seconds=900,
        )
        self.front = make_front(self.gateway, options.host, options.port, observer=self._observe)
        self._spawn("front", self.front.serve_forever)
        self._spawn("worker", self._work)
        log.info("local_stack_started", api=self.base_url, emulator=endpoint)

    def _observe(self, method: str, path: str, status: int) -> None:
        """Changes to users take effect at once locally (AWS: within the cache TTL)."""
        if path.startswith("/users") and method != "GET" and status < 400 and self.gateway:
            self.gateway.flush_cache()

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=f"kumocms-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _work(self) -> None:
        assert self.pump is not None
        dlq_retry = make_dlq_retry_handler(fixed(self.runtimes["dlq_retry"]))
        reconcile = make_reconcile_handler(fixed(self.runtimes["reconcile"]))
        next_dlq = time.monotonic() + self.options.dlq_retry_every
        next_reconcile = time.monotonic() + self.options.reconcile_every
        while not self._stop.is_set():
            try:
                glacier.release_due()
                busy = self.pump.pump_once() > 0
                if self.transfer_pump is not None:
                    busy = self.transfer_pump.pump_once() > 0 or busy
                now = time.monotonic()
                if now >= next_dlq:
                    dlq_retry({}, LambdaContext("dlq_retry", timeout_seconds=60))
                    next_dlq = now + self.options.dlq_retry_every
                if now >= next_reconcile:
                    reconcile({}, LambdaContext("reconcile", timeout_seconds=60))
                    next_reconcile = now + self.options.reconcile_every
            except Exception:
                log.exception("local_worker_failed")
                busy = False
            if not busy:
                self._stop.wait(0.1)

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until the ingest queue and held restores are empty (for tests)."""
        assert self.resources is not None
        sqs = self._sqs
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            attributes = sqs.get_queue_attributes(
                QueueUrl=self.resources.ingest_queue_url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                ],
            )["Attributes"]
            if attributes == {
                "ApproximateNumberOfMessages": "0",
                "ApproximateNumberOfMessagesNotVisible": "0",
            }:
                return
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop the front, the worker and the emulator; safe to call twice."""
        self._stop.set()
        if self.front is not None:
            self.front.shutdown()
            self.front.server_close()
            self.front = None
        for thread in self._threads:
            thread.join(timeout=5)
        self._threads.clear()
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
            # The emulator's state is process-wide: forget it, so another stack can start here.
            from moto.moto_api._internal.models import moto_api_backend  # noqa: PLC0415

            moto_api_backend.reset()
        glacier.uninstall()
