"""Benchmarks: `python -m bench` (what `nox -s bench` runs) — every figure, a table, a JSON file.

Starts a moto server on 127.0.0.1, provisions it with `entrypoints.local.provision`, seeds what
each figure needs, measures, prints the table and writes `bench-results.json` at the repository
root. Exits 1 when a baseline makes other AWS requests than ours (always) or, with `--strict`,
when a figure misses its target.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import attrs

from bench import cold, imports, ingest, listing, package, requests, warm
from bench.aws import (
    CREDENTIALS,
    REGION,
    ROOT,
    MotoServer,
    OperationsDifferError,
    child_environment,
    install_recorder,
    use_environment,
)
from bench.events import proxy_event, sqs_batch
from bench.report import Figure, notes, table, write_json

MS = 1000.0
MiB_ = 1024**2
ADMIN_KEY = "kumo_bench-admin-key-0000000000000000000000"


@attrs.frozen(kw_only=True)
class Sizes:
    """How long each figure runs (the defaults fit `nox -s bench` in five minutes)."""

    cold_runs: int = 15
    cold_runs_without_bytecode: int = 5
    warm_iterations: int = 60
    warm_list_iterations: int = 12
    consumable: int = 27
    ingest_batches: int = 8
    list_iterations: int = 1
    """Pages per side beyond the recorded one: a page of 16 x 51 items takes moto seconds."""
    list_sizes: tuple[int, ...] = (1_000, 10_000)
    search_sizes: tuple[int, ...] = (1_000, 100_000)
    """Documents per table for §10's filtered pages (bench.search)."""


QUICK = Sizes(
    cold_runs=5,
    cold_runs_without_bytecode=3,
    warm_iterations=15,
    warm_list_iterations=5,
    consumable=8,
    ingest_batches=3,
    list_iterations=0,
    list_sizes=(1_000, 2_000),
    search_sizes=(1_000, 5_000),
)


def _log(message: str) -> None:
    sys.stderr.write(f"[bench {time.strftime('%H:%M:%S')}] {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def _stack() -> Iterator[tuple[Any, MotoServer, dict[str, str], warm.Stack]]:
    import boto3  # noqa: PLC0415

    from entrypoints.local.provision import provision  # noqa: PLC0415
    from entrypoints.observability import configure_logging  # noqa: PLC0415

    os.environ.update(CREDENTIALS)
    with (
        MotoServer() as server,
        tempfile.TemporaryDirectory(prefix="kumocms-bench-pyc-") as bytecode,
        Path(os.devnull).open("w", encoding="utf-8") as devnull,
    ):
        session = boto3.Session(region_name=REGION)
        resources = provision(session, endpoint_url=server.endpoint)
        environment = {
            **child_environment(server.endpoint, resources.environment()),
            "PYTHONPYCACHEPREFIX": bytecode,
        }
        use_environment(
            {**CREDENTIALS, **resources.environment(), "KUMOCMS_AWS_ENDPOINT_URL": server.endpoint}
        )
        configure_logging("INFO", stream=devnull)  # handlers log as usual, to /dev/null
        from bench.plain import Plain  # noqa: PLC0415

        stack = warm.Stack(
            environment=environment,
            dynamodb=session.client("dynamodb", endpoint_url=server.endpoint),
            s3=session.client("s3", endpoint_url=server.endpoint),
            plain=Plain(session, endpoint=server.endpoint, environment=environment),
        )
        yield session, server, environment, stack


def _timing_figure(name: str, timing: warm.Timing, target: float, note: str) -> Figure:
    return Figure(
        name=name,
        value=timing.ours * MS,
        unit="ms",
        baseline=timing.baseline * MS,
        target=target,
        note=f"{note}; requests: {timing.operations.summary()}; median of {timing.iterations}",
    )


def _handler_events(stack: warm.Stack, session: Any) -> dict[str, list[Mapping[str, Any]]]:
    """A representative set of requests for each function (for the unused-import finding)."""
    from entrypoints.bootstrap import build_runtime  # noqa: PLC0415
    from entrypoints.manifest import FUNCTIONS  # noqa: PLC0415
    from entrypoints.settings import EnvSettings  # noqa: PLC0415
    from kumocms.usecases.users import bootstrap_admin  # noqa: PLC0415

    needs = FUNCTIONS["users"].needs
    settings = EnvSettings.from_environ(stack.environment, required=needs.required_settings())
    admin = bootstrap_admin(
        build_runtime(settings, needs, session).ports, name="bench admin", api_key=ADMIN_KEY
    ).user
    caller = {"user_id": admin.id.value, "name": admin.name, "role": "admin"}
    shown, patched, archived, deleted = stack.seed_active(4)
    (restored,) = stack.seed_archived(1)

    def at(method: str, resource: str, document_id: str = "", body: object = None) -> Any:
        path = resource.replace("{id}", document_id)
        parameters = {"id": document_id} if document_id else None
        return proxy_event(
            method, resource, path, path_parameters=parameters, body=body, caller=caller
        )

    upload = {"file_name": "a.pdf", "content_type": "application/pdf", "size": 10}
    direct = {"file_name": "b.txt", "content": "aGVsbG8gd29ybGQ="}
    pending, redriven = ingest.pending_documents(stack, 2)
    # One failed event waits in the dead-letter queue, so the re-drive has work to do.
    session.client("sqs", endpoint_url=stack.environment["KUMOCMS_AWS_ENDPOINT_URL"]).send_message(
        QueueUrl=stack.environment["INGEST_DLQ_URL"],
        MessageBody=json.dumps(ingest.confirming_events(stack, [redriven])[0]),
    )
    authorizer = {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:{REGION}:000000000000:api/prod/GET/documents",
        "resource": "/documents",
        "path": "/documents",
        "httpMethod": "GET",
        "headers": {"Authorization": f"Bearer {ADMIN_KEY}"},
        "multiValueHeaders": {"Authorization": [f"Bearer {ADMIN_KEY}"]},
        "requestContext": {"stage": "prod", "identity": {"sourceIp": "203.0.113.7"}},
    }
    return {
        "documents_read": [
            at("GET", "/documents/{id}", shown.id.value),
            at("GET", "/documents/{id}/content", shown.id.value),
            at("GET", "/documents"),
        ],
        "documents_write": [
            at("POST", "/documents", body=upload),
            at("POST", "/documents", body=direct),
            at("PATCH", "/documents/{id}", patched.id.value, {"x": 1}),
            at("POST", "/documents/{id}/archive", archived.id.value),
            at("POST", "/documents/{id}/restore", restored.id.value),
            at("DELETE", "/documents/{id}", deleted.id.value),
        ],
        "meta": [at("GET", "/healthcheck"), at("GET", "/me")],
        "users": [
            at("GET", "/users"),
            at("GET", "/users/{id}", admin.id.value),
            at("POST", "/users", body={"name": "reader", "role": "reader"}),
        ],
        "authorizer": [authorizer],
        "ingest": [sqs_batch(ingest.confirming_events(stack, [pending]))],
        "dlq_retry": [{}],
        "reconcile": [{}],
    }


def _cold_figures(
    environment: Mapping[str, str], stack: warm.Stack, sizes: Sizes, built: package.ZipSize
) -> list[Figure]:
    """1. Cold start: python3.13 from the zip (the headline), then from the source tree."""
    (shown,) = stack.seed_active(1)
    figures = []
    if built.path is None:
        _log(f"cold start from the zip: not measured, there is no zip ({built.how})")
    else:
        _log("cold start: python3.13 from the zip")
        on_lambda, on_lambda_off = cold.cold_start_from_zip(
            environment, shown.id.value, runs=sizes.cold_runs, zip_path=built.path
        )
        figures += [
            Figure(
                name="cold start: GET /documents/{id}, python3.13 from the zip",
                value=on_lambda.ours * MS,
                unit="ms",
                baseline=on_lambda.baseline * MS,
                target=1.15,
                note=(
                    "where Lambda runs it: the built zip unpacked, a fresh python3.13 to the "
                    "first response, vs plain boto3 on the same python3.13 and boto3, median "
                    f"of {on_lambda.runs} interleaved runs; CPU {on_lambda.ours_cpu * MS:.0f} ms "
                    f"vs {on_lambda.baseline_cpu * MS:.0f} ms; requests: "
                    f"{on_lambda.operations.summary()}"
                ),
            ),
            Figure(
                name="cold start, python3.13 from the zip, collector off on both sides",
                value=on_lambda_off.ours * MS,
                unit="ms",
                baseline=on_lambda_off.baseline * MS,
                note=(
                    "our code and libraries' own cost on the runtime's Python; CPU "
                    f"{on_lambda_off.ours_cpu * MS:.0f} ms vs "
                    f"{on_lambda_off.baseline_cpu * MS:.0f} ms"
                ),
            ),
        ]
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    _log(f"cold start: {here} from the source tree")
    started = cold.cold_start(environment, shown.id.value, runs=sizes.cold_runs)
    collector_off = cold.cold_start_collector_off(
        environment, shown.id.value, runs=sizes.cold_runs, operations=started.operations
    )
    unpacked = cold.cold_start_without_zip_bytecode(
        environment,
        shown.id.value,
        runs=sizes.cold_runs_without_bytecode,
        operations=started.operations,
    )
    return [
        *figures,
        Figure(
            name=f"cold start: GET /documents/{{id}}, {here} from the source tree",
            value=started.ours * MS,
            unit="ms",
            baseline=started.baseline * MS,
            target=1.15,
            note=(
                f"fresh interpreter to first response, median of {started.runs} interleaved "
                f"runs; CPU {started.ours_cpu * MS:.0f} ms vs {started.baseline_cpu * MS:.0f}"
                f" ms; requests: {started.operations.summary()}"
            ),
        ),
        Figure(
            name=f"cold start, {here} source tree, collector off on both sides",
            value=collector_off.ours * MS,
            unit="ms",
            baseline=collector_off.baseline * MS,
            note=(
                "our code and libraries' own cost: the headline run pauses the garbage "
                "collector while it imports and builds (entrypoints.coldstart), the plain "
                "script does not; here neither side collects; CPU "
                f"{collector_off.ours_cpu * MS:.0f} ms vs {collector_off.baseline_cpu * MS:.0f} ms"
            ),
        ),
        Figure(
            name=f"cold start, {here} source tree without bytecode",
            value=unpacked.ours * MS,
            unit="ms",
            baseline=unpacked.baseline * MS,
            note=(
                "ours compiling our packages and the bundled dependencies in every start, "
                "as a zip without .pyc files would on Lambda (read-only /var/task); "
                f"CPU {unpacked.ours_cpu * MS:.0f} ms vs {unpacked.baseline_cpu * MS:.0f} ms"
            ),
        ),
    ]


def _warm_figures(stack: warm.Stack, sizes: Sizes, counts: list[requests.Count]) -> list[Figure]:
    """2. Warm requests and 5. ingest (3. their requests go into `counts`)."""
    figures = []
    for case in warm.cases(stack, consumable=sizes.consumable):
        _log(f"warm: {case.name}")
        iterations = {
            "list page (limit 50)": sizes.warm_list_iterations,
            "archive": sizes.consumable - 2,
            "restore": sizes.consumable - 2,
        }.get(case.name, sizes.warm_iterations)
        timing = warm.measure(case, iterations=iterations, warmup=1)
        figures.append(
            _timing_figure(
                f"warm: {case.name}",
                timing,
                1.15,
                "handler(event, context) as Lambda calls it vs plain boto3",
            )
        )
        counts.append(requests.count(case.name, timing.operations))
    _log("ingest")
    ingested = ingest.measure(stack, batches=sizes.ingest_batches)
    figures.append(
        _timing_figure(
            "ingest: per event, batch of 10",
            ingested,
            1.2,
            "SQS batches of EventBridge Object Created events confirming presigned uploads",
        )
    )
    counts.append(
        requests.count("ingest: confirm a presigned upload (per event)", ingested.operations)
    )
    return figures


def _request_figures(stack: warm.Stack, counts: list[requests.Count]) -> list[Figure]:
    """3. Requests per use case, next to their minimum."""
    counts = [
        *counts,
        requests.count("ingest: sidecar written (per event)", ingest.sidecar_requests(stack)),
        *requests.count_other_use_cases(stack),
    ]
    return [
        Figure(
            name=f"requests: {found.name}",
            value=found.operations.count,
            unit="requests",
            baseline=len(found.minimum),
            exact=True,
            matches=found.matches,
            note=found.operations.summary()
            + (f"; above the minimum: {', '.join(found.extra)}" if found.extra else ""),
        )
        for found in requests.order(counts)
    ]


def _list_and_zip_figures(
    session: Any,
    server: MotoServer,
    environment: Mapping[str, str],
    stack: warm.Stack,
    sizes: Sizes,
    *,
    built: package.ZipSize,
) -> list[Figure]:
    """6. List cost growth and 4. the zip's size."""
    from entrypoints.local.provision import provision  # noqa: PLC0415

    _log("list cost growth: seeding")
    grown = {}
    for size in sizes.list_sizes:
        resources = provision(session, prefix=f"kumolist{size}", endpoint_url=server.endpoint)
        grown[size] = {**environment, **resources.environment()}
        listing.seed_documents(stack.dynamodb, resources.documents_table, size)
    costs = []
    for size, grown_environment in grown.items():
        _log(f"list cost growth: a page at {size:,} documents")
        costs.append(
            listing.page_cost(
                session,
                endpoint=server.endpoint,
                environment=grown_environment,
                documents=size,
                iterations=sizes.list_iterations,
            )
        )
    minimum = requests.MINIMUMS["list page (limit 50)"]
    return [
        *(
            Figure(
                name=f"list page: requests at {cost.documents:,} documents",
                value=cost.operations.count,
                unit="requests",
                baseline=len(minimum),
                exact=True,
                matches=sorted(cost.operations.names) == sorted(minimum),
                note=cost.operations.summary(),
            )
            for cost in costs
        ),
        *(
            Figure(
                name=f"list page: time at {cost.documents:,} documents",
                value=cost.ours * MS,
                unit="ms",
                baseline=cost.baseline * MS,
                note=(
                    f"vs plain boto3 on the same table, median of {sizes.list_iterations + 1}; "
                    "the emulator serialises the 16 x 51 items a full page reads slowly, "
                    "DynamoDB does not"
                ),
            )
            for cost in costs
        ),
        Figure(
            name="Lambda zip size",
            value=built.size / 1024**2,
            unit="MiB",
            target=3.0,
            note=built.how
            + (f"; bundles {', '.join(built.dependencies)}" if built.dependencies else ""),
        ),
    ]


def _import_figures(
    session: Any, environment: Mapping[str, str], stack: warm.Stack
) -> tuple[list[Figure], list[str]]:
    """4. Each handler module's import time, and what it imports and never uses."""
    _log("import times")
    figures = []
    findings = []
    for function, events in _handler_events(stack, session).items():
        measured = imports.handler_imports(function, events, environment)
        figures.append(
            Figure(
                name=f"import: entrypoints.functions.{function}",
                value=measured.import_ms,
                unit="ms",
                note=f"{measured.modules} modules; -X importtime, median of 3",
            )
        )
        findings.append(imports.describe(measured))
    return figures, findings


def run(sizes: Sizes) -> tuple[list[Figure], list[str]]:
    """Measure everything; the figures and the findings."""
    install_recorder()
    # Built first and alone: the headline cold start runs from it, and a build running beside
    # a timed figure would take CPU from it.
    _log("building the zip (nox -s package)")
    built = package.ZipBuild().result()
    with _stack() as (session, server, environment, stack):
        counts: list[requests.Count] = []
        figures = [
            *_cold_figures(environment, stack, sizes, built),
            *_warm_figures(stack, sizes, counts),
        ]
        figures.extend(_request_figures(stack, counts))
        figures.extend(
            _list_and_zip_figures(session, server, environment, stack, sizes, built=built)
        )
        import_figures, findings = _import_figures(session, environment, stack)
        figures.extend(import_figures)
    figures.extend(_transfer_figures())
    figures.extend(_search_figures(sizes.search_sizes))
    return figures, findings


def _search_figures(search_sizes: tuple[int, ...]) -> list[Figure]:
    """Requests and items read per filtered page, per table size (flat is the target)."""
    from bench import search  # noqa: PLC0415

    costs, plain, indexed = search.measure(search_sizes)
    figures = []
    for cost in costs:
        requests = ", ".join(f"{n} {name}" for name, n in sorted(cost.requests.items()))
        figures.append(
            Figure(
                name=f"search page at {cost.documents:,}: {cost.query}",
                value=float(sum(cost.requests.values())),
                unit="requests",
                note=(
                    f"{requests}; {cost.items_read} items read, {cost.returned} returned; "
                    f"{cost.seconds:.2f} s on moto (which filters whole tables)"
                ),
            )
        )
    figures.append(
        Figure(
            name=f"upload with {len(search.FIELDS)} indexed values: items written",
            value=float(indexed.items),
            unit="items",
            baseline=float(plain.items),
            note=f"{indexed.requests} request(s) (one transaction); without fields "
            f"{plain.requests} request(s)",
        )
    )
    return figures


def _transfer_figures() -> list[Figure]:
    """Large archives on a simulated S3 and Lambda clock (bench.transfer states the numbers)."""
    from bench import transfer  # noqa: PLC0415

    _log(transfer.report())
    figures = []
    for name, run in transfer.figures():
        note = (
            f"{run.parts} parts of {run.part_size // MiB_} MiB, {run.invocations} invocations, "
            f"{run.total_seconds:.0f} s in all (simulated)"
        )
        figures.append(
            Figure(name=f"{name}: API request", value=run.request_seconds, unit="s", target=29.0)
        )
        if run.invocations:
            figures.append(
                Figure(
                    name=f"{name}: longest worker invocation",
                    value=run.longest_invocation_seconds,
                    unit="s",
                    target=900.0,
                    note=note,
                )
            )
    return figures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmarks; print the table; write bench-results.json."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results.json")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        figures, findings = run(QUICK if args.quick else Sizes())
    except OperationsDifferError as error:
        sys.stderr.write(f"\nBENCH FAILED: {error}\n")
        return 1
    write_json(figures, args.output)
    out = sys.stdout
    out.write(table(figures) + "\n\n" + notes(figures) + "\n\nimport findings:\n")
    out.write("".join(f"- {finding}\n" for finding in findings))
    out.write(f"\nwritten to {args.output} in {time.monotonic() - started:.0f} s\n")
    missed = [figure.name for figure in figures if figure.passed is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    raise SystemExit(main())
