"""Benchmarks: each handler module's import time, and what it imports that it never uses.

Import time: `python -X importtime -c "import entrypoints.functions.<name>"` in a fresh
interpreter (median of three; bytecode cached, as for the cold start).

Unused imports: a fresh interpreter imports the handler module, notes every module that import
brought in, then serves a representative set of that function's requests with a profile hook
that marks a module as used when its code runs, when a method runs on an instance (or class) it
defines, when attrs-generated code for one of its classes runs, or when one of its C functions
is called. What the import brought in and the requests never used is listed, weighted by its
own import time. Modules used only for their constants, enum members or exception classes (in
`except` clauses) cannot be seen by a profile hook: floors on import time leave most of them
out, and ERROR_PATH names the two that every request's error handling needs.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from bench.cold import python_path

OWN = ("kumocms", "adapters", "entrypoints")
OWN_FLOOR_MS = 1.0
"""Leave out unused modules of ours that cost less than this to import."""
OTHER_FLOOR_MS = 3.0
"""Leave out unused third-party or standard-library packages that cost less than this."""
ERROR_PATH = frozenset({"kumocms.errors", "entrypoints.http.problems"})
"""Exception classes and the error table: every request's `except` clauses need them, which a
profile hook cannot see (nothing in them runs unless something fails)."""
SAME_PACKAGE = {"attrs": "attr"}
"""`attrs` is the new namespace of `attr`: one package."""

CHILD = """
import json, sys, threading
name, events_file, out = sys.argv[1], sys.argv[2], sys.argv[3]
before = set(sys.modules)
import importlib
module = importlib.import_module("entrypoints.functions." + name)
at_import = sorted(set(sys.modules) - before)
used = set()
def profile(frame, event, arg):
    if event == "c_call":
        used.add(getattr(arg, "__module__", None))
        return
    if event != "call":
        return
    code = frame.f_code
    used.add(frame.f_globals.get("__name__"))
    if code.co_filename.startswith("<attrs generated"):
        used.add(code.co_filename.rstrip(">").split()[-1].rsplit(".", 1)[0])
    if code.co_argcount and code.co_varnames[0] in ("self", "cls"):
        owner = frame.f_locals.get(code.co_varnames[0])
        for klass in (owner if isinstance(owner, type) else type(owner)).__mro__:
            used.add(klass.__module__)
class Context:
    function_name = name
    aws_request_id = "00000000-0000-4000-8000-000000000000"
    def get_remaining_time_in_millis(self):
        return 900000
events = json.load(open(events_file))
sys.setprofile(profile)
threading.setprofile(profile)
for event in events:
    module.handler(event, Context())
sys.setprofile(None)
threading.setprofile(None)
json.dump({"at_import": at_import, "used": sorted(u for u in used if u)}, open(out, "w"))
"""

_LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)")


@attrs.frozen(kw_only=True)
class HandlerImports:
    """One handler module."""

    function: str
    import_ms: float
    modules: int
    unused: tuple[tuple[str, float], ...]
    """(module or third-party package, its own import time in ms), costliest first."""


def _importtime(stderr: str) -> dict[str, tuple[int, int]]:
    """Module -> (self µs, cumulative µs) from `-X importtime` output."""
    times = {}
    for line in stderr.splitlines():
        found = _LINE.match(line)
        if found:
            times[found.group(4)] = (int(found.group(1)), int(found.group(2)))
    return times


def _importers(stderr: str) -> dict[str, str]:
    """Module -> the module whose import brought it in (`-X importtime` prints children first)."""
    parents: dict[str, str] = {}
    waiting: list[tuple[int, str]] = []
    for line in stderr.splitlines():
        found = _LINE.match(line)
        if not found:
            continue
        depth, name = len(found.group(3)) // 2, found.group(4)
        while waiting and waiting[-1][0] > depth:
            parents[waiting.pop()[1]] = name
        waiting.append((depth, name))
    return parents


def _child(arguments: Sequence[str], environment: Mapping[str, str]) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter and scripts
        [sys.executable, "-S", "-X", "importtime", *arguments],
        env={**environment, "PYTHONPATH": python_path()},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"an import-time child failed:\n{done.stderr[-3000:]}")
    return done.stderr


def _group(module: str) -> str:
    """Our own modules one by one; anything else by its top-level package."""
    top = module.split(".", maxsplit=1)[0]
    return module if top in OWN else SAME_PACKAGE.get(top, top)


def handler_imports(
    function: str, events: Sequence[Mapping[str, Any]], environment: Mapping[str, str]
) -> HandlerImports:
    """Import time and unused imports of one handler module."""
    module = f"entrypoints.functions.{function}"
    totals = []
    for _ in range(3):
        stderr = _child(["-c", f"import {module}"], environment)
        totals.append(_importtime(stderr)[module][1] / 1000)
    with tempfile.TemporaryDirectory(prefix="kumocms-bench-") as temporary:
        events_file = Path(temporary) / "events.json"
        events_file.write_text(json.dumps(list(events)), encoding="utf-8")
        out = Path(temporary) / "out.json"
        stderr = _child(["-c", CHILD, function, str(events_file), str(out)], environment)
        result = json.loads(out.read_text(encoding="utf-8"))
    times = _importtime(stderr)
    importers = _importers(stderr)
    used = set(result["used"])
    used_groups = {_group(name) for name in used}
    cost: dict[str, float] = defaultdict(float)
    via: dict[str, str] = {}
    for name in result["at_import"]:
        group = _group(name)
        if name in used or name not in times or name in ERROR_PATH:
            continue
        if group in used_groups and group.split(".")[0] not in OWN:
            continue  # a package the requests use (some of its modules idle)
        cost[group] += times[name][0] / 1000
        importer = importers.get(name, "")
        if _group(importer) != group and group not in via:
            via[group] = importer
    unused = tuple(
        sorted(
            (
                (
                    f"{name} (via {via[name]})"
                    if name.split(".")[0] not in OWN and via.get(name)
                    else name,
                    ms,
                )
                for name, ms in cost.items()
                if ms >= (OWN_FLOOR_MS if name.split(".")[0] in OWN else OTHER_FLOOR_MS)
            ),
            key=lambda item: -item[1],
        )
    )
    return HandlerImports(
        function=function,
        import_ms=statistics.median(totals),
        modules=len(result["at_import"]),
        unused=unused,
    )


def describe(imports: HandlerImports) -> str:
    """One line of findings."""
    if not imports.unused:
        return f"{imports.function}: nothing unused above the floors"
    listed = ", ".join(f"{name} {ms:.1f} ms" for name, ms in imports.unused)
    return f"{imports.function}: imports but never uses {listed}"
