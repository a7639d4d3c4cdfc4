"""Task runner: every check CI runs, and the local stack, are nox sessions."""

from __future__ import annotations

import os
import secrets
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["lint", "typecheck", "tests"]

PACKAGES = ["kumocms", "adapters", "entrypoints"]
DEV = ".[dev]"


def _pytest(session: nox.Session, *args: str) -> None:
    """Run pytest; exit code 5 (nothing collected) is not a failure of the run."""
    session.run("pytest", *args, *session.posargs, success_codes=[0, 5])


@nox.session
def lint(session: nox.Session) -> None:
    """Ruff lint and format check."""
    session.install("ruff>=0.8")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict on all three packages."""
    session.install("-e", DEV)
    session.run("mypy", *PACKAGES, "tests/unit/test_port_types.py")


COVERAGE_FLOOR = {"kumocms": 90, "adapters": 90, "entrypoints": 90}
"""Branch coverage each package must keep (the CLI and `serve` are measured in their child
processes through coverage's subprocess patch)."""


@nox.session
def tests(session: nox.Session) -> None:
    """The whole test suite with branch coverage of every package, each held to its floor."""
    session.install("pip", "-e", DEV)  # pip: tests/infra/test_package.py builds the zip
    session.run("coverage", "erase")
    _pytest(session, "--cov", "--cov-branch", "--cov-report=")
    if session.posargs or not Path(".coverage").exists():
        return  # a chosen subset (or no test at all) says nothing about the tree's coverage
    for package, floor in COVERAGE_FLOOR.items():
        session.log(f"coverage of {package} (floor {floor} %)")
        session.run(
            "coverage",
            "report",
            f"--include={package}/*",
            f"--fail-under={floor}",
            "--format=total",
        )
    session.run("coverage", "report", "--skip-covered")


@nox.session(python="3.13", name="unit-3.13")
def unit_313(session: nox.Session) -> None:
    """The unit tests on Python 3.13 (the Lambda runtime's version)."""
    session.install("-e", DEV)
    _pytest(session, "tests/unit")


@nox.session
def serve(session: nox.Session) -> None:
    """Run KumoCMS locally on the embedded AWS emulator (`nox -s serve -- --port 9000`)."""
    session.install("-e", ".[dev]")
    executable = str(Path(session.bin) / "kumocms")
    # Replace nox's process with the server: stdout stays the server's own (its first two
    # lines are the URL and the admin key) and SIGINT/SIGTERM reach it directly.
    os.execv(executable, [executable, "serve", *session.posargs])


@nox.session
def fuzz(session: nox.Session) -> None:
    """Schemathesis against the local stack's served OpenAPI document (bounded; see
    schemathesis.toml for the checks and the reasons for every exclusion)."""
    session.install("-e", ".[dev]", "schemathesis>=4.0")
    key = "fuzz-" + secrets.token_urlsafe(24)
    server = subprocess.Popen(
        [
            str(Path(session.bin) / "kumocms"),
            "serve",
            "--port",
            "0",
            "--admin-key",
            key,
            "--restore-delay",
            "1",
            # §10's filters are in the OpenAPI document only for declared fields.
            *("--index-field", "team:string", "--index-field", "year:number"),
            *("--index-field", "due:date", "--index-field", "draft:boolean"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        if not url.startswith("http://"):
            session.error("the local stack did not start")
        max_examples = os.environ.get("FUZZ_MAX_EXAMPLES", "25")
        session.run(
            "schemathesis",
            "run",
            f"{url}/docs",
            f"--max-examples={max_examples}",
            *session.posargs,
            env={"KUMOCMS_API_KEY": key},
        )
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        session.log("local stack stopped")


# ---- infrastructure: the Lambda package, Terraform, policy checks, workflows --------------------

TERRAFORM_MODULE = "terraform/modules/kumocms"
TERRAFORM_EXAMPLE = "terraform/examples/complete"
TERRAFORM_EXAMPLES = (TERRAFORM_EXAMPLE, "terraform/examples/minimal")
TERRAFORM_CLI_CONFIG = "terraform/cli.tfrc"
DEFAULT_PROVIDER_MIRROR = "/opt/tf-plugins"


def _hcl_string(value: str) -> str:
    """A quoted HCL string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _terraform_env(session: nox.Session) -> dict[str, str]:
    """TF_CLI_CONFIG_FILE for offline provider installs from a filesystem mirror.

    terraform/cli.tfrc names /opt/tf-plugins. With KUMOCMS_TF_PROVIDER_MIRROR set, the same
    configuration with that path is written to the session's temporary directory instead:
    Terraform's CLI configuration cannot read environment variables itself.
    """
    config = Path(TERRAFORM_CLI_CONFIG).resolve()
    mirror = os.environ.get("KUMOCMS_TF_PROVIDER_MIRROR")
    if mirror:
        text = config.read_text(encoding="utf-8")
        original = f"path    = {_hcl_string(DEFAULT_PROVIDER_MIRROR)}"
        if original not in text:
            session.error(f"{config} no longer names {DEFAULT_PROVIDER_MIRROR}; update noxfile.py")
        replaced = text.replace(original, f"path    = {_hcl_string(str(Path(mirror).resolve()))}")
        config = Path(session.create_tmp()) / "cli.tfrc"
        config.write_text(replaced, encoding="utf-8")
    return {"TF_CLI_CONFIG_FILE": str(config), "TF_IN_AUTOMATION": "1", "TF_INPUT": "0"}


@nox.session
def package(session: nox.Session) -> None:
    """Build dist/kumocms-lambda.zip (deterministic), import every handler from it, and describe
    it in dist/kumocms-lambda.json (runtime, size, hashes).

    `nox -s package -- --with-boto3` bundles boto3 instead of relying on the runtime's.
    """
    session.install("pip", "-e", ".")
    session.run("python", "scripts/package_lambda.py", *session.posargs)


@nox.session(venv_backend="none")
def terraform(session: nox.Session) -> None:
    """terraform fmt, offline init and validate of module and example, and `terraform test`."""
    env = _terraform_env(session)
    session.run("terraform", "fmt", "-check", "-recursive", "terraform", env=env, external=True)
    for directory in (TERRAFORM_MODULE, *TERRAFORM_EXAMPLES):
        session.run(
            "terraform",
            f"-chdir={directory}",
            "init",
            "-backend=false",
            "-input=false",
            "-no-color",
            env=env,
            external=True,
        )
        session.run(
            "terraform", f"-chdir={directory}", "validate", "-no-color", env=env, external=True
        )
    session.run(
        "terraform", f"-chdir={TERRAFORM_MODULE}", "test", "-no-color", env=env, external=True
    )


@nox.session(name="terraform_docs")
def terraform_docs(session: nox.Session) -> None:
    """Regenerate the module README and function_policies.tf (`-- --check`: fail when stale)."""
    session.install("python-hcl2>=8.1")
    session.run("python", "scripts/terraform_docs.py", *session.posargs)
    session.run("python", "scripts/render_function_policies.py", *session.posargs)


@nox.session
def checkov(session: nox.Session) -> None:
    """checkov on the Terraform, offline (its own venv: it pins an older boto3)."""
    session.install("checkov")
    session.run(
        "checkov",
        "--directory",
        "terraform",
        "--framework",
        "terraform",
        "--skip-download",
        "--compact",
        "--quiet",
        env={"BC_SKIP_MAPPING": "TRUE", "CKV_SKIP_PACKAGE_UPDATE_CHECK": "TRUE"},
    )


@nox.session(name="terraform_moto")
def terraform_moto(session: nox.Session) -> None:
    """Apply the example root to a moto server on loopback, compare it with routes.json, destroy."""
    session.install("moto[server]>=5.2.5", "boto3")
    env = _terraform_env(session)
    session.run("python", "scripts/terraform_moto.py", *session.posargs, env=env)


@nox.session
def workflows(session: nox.Session) -> None:
    """Validate .github/workflows against the vendored GitHub workflow schema (offline)."""
    session.install("check-jsonschema")
    files = sorted(str(path) for path in Path(".github/workflows").glob("*.yml"))
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *files)


@nox.session
def chaos(session: nox.Session) -> None:
    """The fault-injection test at a bigger size (`CHAOS_DOCUMENTS`, default 1,000 here)."""
    session.install("-e", DEV)
    env = {"CHAOS_DOCUMENTS": os.environ.get("CHAOS_DOCUMENTS", "1000")}
    session.run("pytest", "tests/chaos", "-q", "-s", *session.posargs, env=env)


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks against plain boto3 on a moto server: a table and bench-results.json.

    Not part of CI. `nox -s bench -- --quick` is a smoke run; `-- --strict` exits 1 when a
    figure misses its target.
    """
    session.install("-e", DEV)
    session.run("python", "-m", "bench", *session.posargs)
