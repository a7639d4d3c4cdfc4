"""Infrastructure drift: the module deploys only runtimes the Lambda package is built for."""

from __future__ import annotations

import re

from tests.infra.module_files import ROOT, parsed


def _variable(name: str) -> dict[str, object]:
    for block in parsed("variables.tf")["variable"]:
        if name in block:
            body = block[name]
            assert isinstance(body, dict)
            return body
    raise KeyError(name)


def test_the_default_runtime_is_the_one_the_package_is_built_for() -> None:
    script = (ROOT / "scripts" / "package_lambda.py").read_text(encoding="utf-8")
    found = re.search(r'^PYTHON_VERSION = "(3\.\d+)"$', script, re.MULTILINE)
    assert found, "scripts/package_lambda.py no longer names PYTHON_VERSION"
    built = f"python{found.group(1)}"
    assert _variable("lambda_zip_runtimes")["default"] == [built]
    assert _variable("runtime")["default"] == built
