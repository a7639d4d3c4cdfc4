"""The dependency rule, enforced: what each layer may import and do."""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOMAIN_ALLOWED_THIRD_PARTY = {"attrs", "ulid"}


def _modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules("kumocms"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_imports_only_stdlib_attrs_and_ulid(path: Path) -> None:
    for name in _imports(path):
        top = name.split(".")[0]
        if top == "kumocms":
            continue
        assert top in sys.stdlib_module_names or top in DOMAIN_ALLOWED_THIRD_PARTY, (
            f"{path.name} imports {name}"
        )


@pytest.mark.parametrize("path", _modules("kumocms"), ids=lambda p: str(p.relative_to(ROOT)))
def test_domain_reads_no_environment_clock_or_randomness(path: Path) -> None:
    source = path.read_text(encoding="utf-8")
    for forbidden in (
        "os.environ",
        "getenv",
        "datetime.now",
        "utcnow",
        "time.time(",
        "import random",
        "import secrets",
        "uuid4",
        "ULID()",
        "logging.",
    ):
        assert forbidden not in source, f"{path.name} uses {forbidden}"


@pytest.mark.parametrize("path", _modules("adapters"), ids=lambda p: str(p.relative_to(ROOT)))
def test_adapters_never_read_the_environment_or_build_clients(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            dotted = f"{getattr(node.value, 'id', '')}.{node.attr}"
            assert dotted not in {
                "os.environ",
                "os.getenv",
                "boto3.client",
                "boto3.resource",
                "boto3.Session",
            }, f"{path.name} uses {dotted}"
    assert "entrypoints" not in {name.split(".")[0] for name in _imports(path)}


@pytest.mark.parametrize("package", ["kumocms", "adapters", "entrypoints"])
def test_packages_resolve_to_this_repository(package: str) -> None:
    # PyPI has unrelated distributions called "adapters" and "entrypoints".
    spec = importlib.util.find_spec(package)
    assert spec is not None
    assert spec.origin is not None
    assert Path(spec.origin).resolve().is_relative_to(ROOT), spec.origin


def test_modules_open_with_a_docstring_naming_their_layer() -> None:
    layers = {
        "kumocms": "Domain layer",
        "adapters": "Adapters layer",
        "entrypoints": "Entrypoints layer",
    }
    for package, layer in layers.items():
        for path in _modules(package):
            if path.name == "__init__.py" and not path.read_text().strip():
                continue
            doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
            first = doc.splitlines()[0] if doc else ""
            assert first.startswith(layer) or path.name == "__init__.py", (
                f"{path.relative_to(ROOT)}: {first!r}"
            )


def test_unit_tests_cannot_reach_the_network() -> None:
    import socket
    import urllib.request

    from tests.unit.conftest import NetworkBlockedError

    with pytest.raises(NetworkBlockedError):
        socket.create_connection(("127.0.0.1", 9))
    with socket.socket() as raw, pytest.raises(NetworkBlockedError):
        raw.connect(("127.0.0.1", 9))
    with pytest.raises(NetworkBlockedError):
        urllib.request.urlopen("http://example.com", timeout=1)
