"""Infrastructure drift: the module README is generated from variables.tf and outputs.tf."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

from tests.infra.module_files import MODULE, ROOT, parsed

SCRIPT = ROOT / "scripts" / "terraform_docs.py"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("terraform_docs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_the_module_readme_is_current() -> None:
    text = (MODULE / "README.md").read_text(encoding="utf-8")
    assert text == _generator().render(), "regenerate it: python3 -m nox -s terraform_docs"


def test_every_input_and_output_is_documented_in_the_readme() -> None:
    text = (MODULE / "README.md").read_text(encoding="utf-8")
    for kind, name in (("variable", "variables.tf"), ("output", "outputs.tf")):
        for block in parsed(name)[kind]:
            for label, body in block.items():
                assert body.get("description"), f"{kind} {label} has no description"
                assert f"| {label} |" in text, label


def test_the_readme_lists_every_example() -> None:
    text = (MODULE / "README.md").read_text(encoding="utf-8")
    for example in (ROOT / "terraform" / "examples").iterdir():
        assert f"[`{example.name}`]" in text
