"""What a cold start loads and how it treats the garbage collector."""

from __future__ import annotations

import gc
import json
import subprocess
import sys
from pathlib import Path

import pytest

from entrypoints.coldstart import collection_paused
from kumocms.deferred import Deferred

ROOT = Path(__file__).resolve().parents[2]

LOADED = """
import json, sys
import entrypoints.functions.{function}
print(json.dumps(sorted(name for name in sys.modules if name.startswith("kumocms"))))
"""

ONLY = """
import json, sys
import {module}
print(json.dumps(sorted(name for name in sys.modules if name.startswith("kumocms"))))
"""


def _loaded_by(function: str) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", LOADED.format(function=function)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return set(json.loads(result.stdout))


def test_the_read_function_loads_no_write_side_types() -> None:
    loaded = _loaded_by("documents_read")
    assert "kumocms.model" in loaded
    write_side = {
        "kumocms.events",
        "kumocms.commands",
        "kumocms.usecases.ingest",
        "kumocms.portvalues",
    }
    assert not write_side & loaded


def test_a_deferred_module_hands_out_the_real_modules_attributes() -> None:
    events = Deferred("kumocms.events")
    assert "kumocms.events" in repr(events)
    import kumocms.events

    assert events.DocumentUploaded is kumocms.events.DocumentUploaded


def test_a_deferred_module_that_does_not_exist_fails_on_use() -> None:
    missing = Deferred("kumocms.no_such_module")
    with pytest.raises(ModuleNotFoundError):
        _ = missing.anything


def test_the_collector_is_paused_in_the_block_and_what_it_made_is_frozen() -> None:
    frozen_before = gc.get_freeze_count()
    try:
        with collection_paused():
            assert not gc.isenabled()
            made = [[index] for index in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= frozen_before + len(made)
    finally:
        gc.unfreeze()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()


def test_the_collector_comes_back_when_the_block_fails() -> None:
    try:
        with pytest.raises(RuntimeError), collection_paused():
            raise RuntimeError("the build failed")
        assert gc.isenabled()
    finally:
        gc.unfreeze()


def test_importing_one_domain_module_builds_no_other() -> None:
    result = subprocess.run(
        [sys.executable, "-c", ONLY.format(module="kumocms.states")],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    assert set(json.loads(result.stdout)) == {"kumocms", "kumocms.errors", "kumocms.states"}


def test_the_authorizer_does_not_build_the_document_model() -> None:
    loaded = _loaded_by("authorizer")
    assert not {"kumocms.model", "kumocms.portvalues"} & loaded


def test_every_name_the_domain_package_exports_resolves_lazily() -> None:
    import kumocms

    names = set(kumocms.__all__) - {"__version__"}
    assert names == set(kumocms._EXPORTS)
    for name in sorted(names):
        value = getattr(kumocms, name)
        assert value.__module__ == kumocms._EXPORTS[name], name
    assert set(dir(kumocms)) == set(kumocms.__all__)
    with pytest.raises(AttributeError):
        _ = kumocms.no_such_name
