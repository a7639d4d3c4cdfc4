"""Integration script: apply the example root to a moto server on loopback, check it, destroy it.

`nox -s terraform_moto` runs it. A ThreadedMotoServer (with AWS managed IAM policies loaded, as
the API Gateway logging role attaches one) listens on a free 127.0.0.1 port; Terraform talks to
it through the example's `aws_endpoint_url` variable, keeps its state and plugins in a temporary
directory, applies, and destroys — always, even after a failed apply. Every Terraform command
has a time limit. Between apply and destroy the deployed REST API is compared with routes.json
and the functions with the manifest, through boto3 on the same server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "terraform" / "examples" / "complete"
ROUTES_JSON = ROOT / "terraform" / "modules" / "kumocms" / "routes.json"
DEFAULT_ZIP = ROOT / "dist" / "kumocms-lambda.zip"
REGION = "eu-west-1"
PREFIX = "kumocms-moto"


def free_port() -> int:
    """A TCP port nobody listens on right now, on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def placeholder_zip(directory: Path) -> Path:
    """A tiny stand-in package (moto stores functions; it never runs them here)."""
    path = directory / "placeholder.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("entrypoints/__init__.py", "")
    return path


def terraform(*args: str, env: dict[str, str], timeout: float) -> None:
    """Run one Terraform command in the example root, failing on error or timeout."""
    command = ["terraform", f"-chdir={EXAMPLE}", *args]
    sys.stdout.write(f"$ {' '.join(command)}\n")
    sys.stdout.flush()
    subprocess.run(command, check=True, env=env, timeout=timeout)  # noqa: S603 - fixed tool


def verify(endpoint: str) -> None:
    """The applied API and functions match routes.json."""
    import boto3  # noqa: PLC0415 - only the session's venv has it

    manifest = json.loads(ROUTES_JSON.read_text(encoding="utf-8"))
    session = boto3.Session(region_name=REGION)
    apigateway: Any = session.client("apigateway", endpoint_url=endpoint)
    api = next(a for a in apigateway.get_rest_apis()["items"] if a["name"] == f"{PREFIX}-api")
    deployed = set()
    authorized = {}
    for resource in apigateway.get_resources(restApiId=api["id"], limit=500)["items"]:
        for method in resource.get("resourceMethods", {}):
            if method == "OPTIONS":
                continue
            detail = apigateway.get_method(
                restApiId=api["id"], resourceId=resource["id"], httpMethod=method
            )
            deployed.add((method, resource["path"]))
            authorized[(method, resource["path"])] = detail["authorizationType"] == "CUSTOM"
    expected = {(route["method"], route["path"]) for route in manifest["routes"]}
    if deployed != expected:
        raise SystemExit(f"deployed routes differ: {sorted(deployed ^ expected)}")
    wrong = [
        route
        for route in manifest["routes"]
        if authorized[(route["method"], route["path"])] != route["authorized"]
    ]
    if wrong:
        raise SystemExit(f"authorizer wiring differs from routes.json: {wrong}")
    lambda_client: Any = session.client("lambda", endpoint_url=endpoint)
    handlers = {
        f["FunctionName"]: f["Handler"]
        for f in lambda_client.list_functions()["Functions"]
        if f["FunctionName"].startswith(f"{PREFIX}-")
    }
    for function in manifest["functions"]:
        name = f"{PREFIX}-{function['name'].replace('_', '-')}"
        if handlers.get(name) != function["handler"]:
            raise SystemExit(f"{name} has handler {handlers.get(name)!r}")
    sys.stdout.write(f"verified {len(deployed)} routes and {len(handlers)} functions on moto\n")


def main(argv: list[str] | None = None) -> int:
    """Start moto, apply, verify, destroy; the exit status says whether all of it worked."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=None, help="package to deploy")
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds per command")
    args = parser.parse_args(argv)

    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    # Fake credentials for Terraform and the checks; nothing here can reach AWS.
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",  # noqa: S106 - moto's fake credentials
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
    )
    os.environ.pop("AWS_PROFILE", None)
    os.environ.pop("AWS_SESSION_TOKEN", None)
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - after the setting above

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise

    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix="kumocms-tf-moto-") as temporary:
            work = Path(temporary)
            package = args.zip or (DEFAULT_ZIP if DEFAULT_ZIP.exists() else placeholder_zip(work))
            env = {
                **os.environ,
                "TF_DATA_DIR": str(work / ".terraform"),
                "TF_IN_AUTOMATION": "1",
                "TF_INPUT": "0",
            }
            variables = [
                f"-var=aws_endpoint_url={endpoint}",
                f"-var=region={REGION}",
                f"-var=name_prefix={PREFIX}",
                f"-var=lambda_zip={package.resolve()}",
                "-var=deletion_protection=false",
                "-var=force_destroy=true",
                '-var=cors_allowed_origins=["https://app.example"]',
                # moto's UpdateAccount raises KeyError on the patch that resets the setting (a
                # "replace" without a value), so destroy would retry it forever.
                "-var=api_gateway_account_reset_on_delete=false",
            ]
            state = f"-state={work / 'terraform.tfstate'}"
            terraform("init", "-backend=false", "-input=false", env=env, timeout=args.timeout)
            try:
                terraform(
                    "apply",
                    "-auto-approve",
                    "-parallelism=30",
                    state,
                    *variables,
                    env=env,
                    timeout=args.timeout,
                )
                verify(endpoint)
            finally:
                terraform(
                    "destroy",
                    "-auto-approve",
                    "-parallelism=30",
                    state,
                    *variables,
                    env=env,
                    timeout=args.timeout,
                )
    finally:
        server.stop()
    elapsed = time.monotonic() - started
    sys.stdout.write(f"terraform apply and destroy on moto took {elapsed:.0f}s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
