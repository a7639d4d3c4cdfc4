"""The OpenAPI document is valid and complete; every error type has an HTTP mapping."""

from __future__ import annotations

import inspect

import attrs
import pytest
from openapi_spec_validator import validate

from entrypoints.http.openapi import openapi_document
from entrypoints.http.problems import INTERNAL, PROBLEMS, describe, problem_type
from entrypoints.http.routes import ROUTES
from kumocms import errors
from tests.entrypoints.conftest import Api, Reply, scan_for_leaks


def test_openapi_document_is_valid_3_1() -> None:
    document = openapi_document()
    validate(document)
    assert document["openapi"] == "3.1.0"


def test_every_route_is_documented_and_nothing_else() -> None:
    documented = {
        (method.upper(), path)
        for path, item in openapi_document()["paths"].items()
        for method in item
        if method != "parameters"
    }
    assert documented == {(route.method, route.path) for route in ROUTES}
    assert all("{id}" in path or "{" not in path for _, path in documented)


def test_public_routes_need_no_security() -> None:
    paths = openapi_document()["paths"]
    assert paths["/healthcheck"]["get"]["security"] == []
    assert paths["/docs"]["get"]["security"] == []
    assert "security" not in paths["/documents"]["get"]


def test_guarded_routes_document_the_401_challenge_and_201s_their_location() -> None:
    paths = openapi_document()["paths"]
    for route in ROUTES:
        responses = paths[route.path][route.method.lower()]["responses"]
        assert ("401" in responses) is route.authorized, route.path
        if route.authorized:
            assert "WWW-Authenticate" in responses["401"]["headers"]
        if route.success == 201:
            assert "Location" in responses["201"]["headers"], route.path


def test_archive_documents_its_202_like_restore() -> None:
    paths = openapi_document()["paths"]
    archive = paths["/documents/{id}/archive"]["post"]["responses"]
    restore = paths["/documents/{id}/restore"]["post"]["responses"]
    assert set(archive["202"]["headers"]) == {"Location", "Retry-After", "ETag"}
    assert archive["202"]["headers"] == restore["202"]["headers"]
    assert archive["202"]["content"] == archive["200"]["content"] == restore["202"]["content"]


def _error_classes() -> list[type[errors.KumoError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.KumoError)
    ]


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__name__)
def test_every_domain_error_maps_to_a_specific_problem(cls: type[errors.KumoError]) -> None:
    kind = problem_type(cls.__new__(cls))
    if cls is errors.KumoError:
        assert kind.status == 500
        return
    assert kind is not INTERNAL
    assert kind is not PROBLEMS[errors.KumoError], f"{cls.__name__} falls back to a 500"
    assert 200 <= kind.status < 600


def test_dependency_failures_do_not_show_their_text() -> None:
    status, document, _ = describe(errors.DependencyError("DynamoDB GetItem failed on t-abc"))
    assert status == 503
    assert "t-abc" not in document["detail"]
    status, document, _ = describe(RuntimeError("secret internals /var/task/x.py"))
    assert status == 500
    assert "internals" not in document["detail"]


def test_the_leak_scanner_notices_leaks(api: Api) -> None:
    api.replies.append(Reply(500, {}, b'{"detail": "Traceback (most recent call last)"}'))
    with pytest.raises(AssertionError):
        scan_for_leaks(api)
    api.replies.clear()


def test_problem_documents_are_plain() -> None:
    status, document, headers = describe(errors.RestoreInProgressError("x", retry_after_seconds=9))
    assert (status, document["code"], headers["Retry-After"]) == (202, "restore_in_progress", "9")
    assert attrs.has(type(PROBLEMS[errors.ValidationError]))
