"""Entrypoints layer: the `authorizer` Lambda function — API Gateway's REQUEST authorizer.

The identity source is the `Authorization` header (`Bearer <api key>`, any header casing). The
policy allows every route the caller's role may use (it is cached per key for the authorizer's
TTL, so it must not depend on the route being called) and passes `user_id`, `name` and `role`
to the handlers, which check the role again. No part of a key is ever logged.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from entrypoints.coldstart import collection_paused

with collection_paused():
    from entrypoints.bootstrap import Runtime, Wiring
    from entrypoints.http.headers import event_headers
    from entrypoints.http.routes import ROUTES
    from entrypoints.manifest import FUNCTIONS
    from entrypoints.observability import configure_logging, count, get_logger, invocation
    from kumocms.errors import AuthenticationError
    from kumocms.usecases.users import authenticate
    from kumocms.users import Role

UNAUTHORIZED = "Unauthorized"
"""The exact error message API Gateway turns into a 401 (its UNAUTHORIZED gateway response)."""
REJECTED_METRIC = "AuthFailures"
"""EMF counter of rejected keys. A rejection must raise (a Deny policy would answer 403), so
Lambda counts it among the function's Errors; Terraform's alarms subtract this counter from
Errors to see the authorizer's real failures, and watch it on its own for floods of bad keys."""
_BEARER = re.compile(r"^\s*Bearer\s+(\S+)\s*$", re.IGNORECASE)
log = get_logger("kumocms.authorizer")


def bearer_token(headers: Mapping[str, str]) -> str | None:
    """The key in `Authorization: Bearer <key>` (of case-insensitive `Headers`).

    An `Authorization` header sent twice reads as two values joined by ", ", which is no
    single bearer token: refused.
    """
    found = _BEARER.match(headers.get("authorization", ""))
    return found.group(1) if found else None


def route_arns(method_arn: str, role: Role) -> list[str]:
    """Execute-api ARNs, on the called API and stage, of every route `role` may call."""
    api_and_stage = "/".join(method_arn.split("/", 2)[:2])
    return [
        f"{api_and_stage}/{route.method}{re.sub(r'{[^}]+}', '*', route.path)}"
        for route in ROUTES
        if route.permission is None or role.allows(route.permission)
    ]


def make_authorizer(get_runtime: Callable[[], Runtime]) -> Callable[..., dict[str, Any]]:
    """The REQUEST authorizer handler."""

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        runtime = get_runtime()
        configure_logging(runtime.settings.log_level)
        with invocation("authorizer", context):
            try:
                principal = authenticate(runtime.ports, bearer_token(event_headers(event)))
            except AuthenticationError:
                count(REJECTED_METRIC)
                log.info("unauthorized")
                raise Exception(UNAUTHORIZED) from None
            resources = route_arns(str(event.get("methodArn", "")), principal.role)
            log.info("authorized", user_id=principal.user_id.value, role=principal.role.value)
            return {
                "principalId": principal.user_id.value,
                "policyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resources}
                    ],
                },
                "context": {
                    "user_id": principal.user_id.value,
                    "name": principal.name,
                    "role": principal.role.value,
                },
            }

    return handler


wiring = Wiring(FUNCTIONS["authorizer"].needs)
handler = make_authorizer(wiring.get)
