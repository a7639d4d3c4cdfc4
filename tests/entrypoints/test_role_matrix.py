"""Every route x {no key, bad key, reader, editor, admin}, with the statuses written out."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.entrypoints.conftest import Api

WHO = ("none", "bad", "reader", "editor", "admin")

MATRIX: list[tuple[str, str, tuple[int, int, int, int, int]]] = [
    # method, path,                              none bad  reader editor admin
    ("GET", "/healthcheck", (200, 200, 200, 200, 200)),
    ("GET", "/docs", (200, 200, 200, 200, 200)),
    ("GET", "/me", (401, 401, 200, 200, 200)),
    ("GET", "/limits", (401, 401, 200, 200, 200)),
    ("POST", "/documents", (401, 401, 403, 201, 201)),
    ("GET", "/documents", (401, 401, 200, 200, 200)),
    ("GET", "/documents/{active}", (401, 401, 200, 200, 200)),
    ("GET", "/documents/{active}/content", (401, 401, 302, 302, 302)),
    ("PATCH", "/documents/{active}", (401, 401, 403, 200, 200)),
    ("PUT", "/documents/{active}", (401, 401, 403, 200, 200)),
    ("DELETE", "/documents/{active}", (401, 401, 403, 204, 204)),
    ("POST", "/documents/{active}/archive", (401, 401, 403, 200, 200)),
    ("POST", "/documents/{archived}/restore", (401, 401, 403, 202, 202)),
    ("POST", "/documents/{multipart}/uploads/parts", (401, 401, 403, 200, 200)),
    ("POST", "/documents/{multipart}/uploads/complete", (401, 401, 403, 400, 400)),
    ("GET", "/documents/{replaced}/revisions", (401, 401, 200, 200, 200)),
    ("GET", "/documents/{replaced}/revisions/1/content", (401, 401, 302, 302, 302)),
    ("POST", "/documents/{replaced}/revisions/1/restore", (401, 401, 403, 200, 200)),
    ("GET", "/documents/{active}/history", (401, 401, 200, 200, 200)),
    # The history route is `reader` at the authorizer; the handler applies §11's role rules.
    ("GET", "/documents/{trashed}/history", (401, 401, 403, 200, 200)),
    ("GET", "/documents/{purged}/history", (401, 401, 403, 403, 200)),
    ("PUT", "/documents/{active}/legal-hold", (401, 401, 403, 403, 200)),
    ("GET", "/trash", (401, 401, 403, 200, 200)),
    ("POST", "/trash/{trashed}/restore", (401, 401, 403, 200, 200)),
    ("DELETE", "/trash/{trashed}", (401, 401, 403, 403, 204)),
    ("POST", "/users", (401, 401, 403, 403, 201)),
    ("GET", "/users", (401, 401, 403, 403, 200)),
    ("GET", "/users/{user}", (401, 401, 403, 403, 200)),
    ("PATCH", "/users/{user}", (401, 401, 403, 403, 200)),
    ("DELETE", "/users/{user}", (401, 401, 403, 403, 204)),
    ("POST", "/users/{user}/keys", (401, 401, 403, 403, 201)),
]

BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/documents"): {"file_name": "a.txt", "content": base64.b64encode(b"a").decode()},
    ("PATCH", "/documents/{active}"): {"k": "v"},
    ("PUT", "/documents/{active}"): {
        "file_name": "b.txt",
        "content": base64.b64encode(b"b").decode(),
    },
    ("POST", "/documents/{multipart}/uploads/parts"): {"part_numbers": [1]},
    ("POST", "/documents/{multipart}/uploads/complete"): {
        "parts": [{"part_number": 1, "etag": '"not-uploaded"'}]
    },
    ("PUT", "/documents/{active}/legal-hold"): {"enabled": True, "reason": "case 7"},
    ("POST", "/users"): {"name": "new", "role": "reader"},
    ("PATCH", "/users/{user}"): {"role": "editor"},
}


def _fill(api: Api, path: str) -> str:
    values = {}
    if "{active}" in path:
        values["active"] = api.upload()["document_id"]
    if "{archived}" in path:
        doc_id = api.upload()["document_id"]
        api("POST", f"/documents/{doc_id}/archive", key="admin")
        values["archived"] = doc_id
    if "{multipart}" in path:
        values["multipart"] = api(
            "POST",
            "/documents",
            key="admin",
            json_body={"file_name": "big", "size": 200 * 1024 * 1024},
        ).json["document_id"]
    if "{replaced}" in path:
        doc_id = api.upload()["document_id"]
        replacement = {"file_name": "v2.txt", "content": base64.b64encode(b"v2").decode()}
        api("PUT", f"/documents/{doc_id}", key="admin", json_body=replacement)
        values["replaced"] = doc_id
    if "{trashed}" in path or "{purged}" in path:
        doc_id = api.upload()["document_id"]
        api("DELETE", f"/documents/{doc_id}", key="admin")
        if "{purged}" in path:
            api("DELETE", f"/trash/{doc_id}", key="admin")
            values["purged"] = doc_id
        else:
            values["trashed"] = doc_id
    if "{user}" in path:
        values["user"] = api(
            "POST", "/users", key="admin", json_body={"name": "target", "role": "reader"}
        ).json["user_id"]
    return path.format(**values)


@pytest.mark.parametrize(
    ("method", "template", "expected"), MATRIX, ids=[f"{m} {p}" for m, p, _ in MATRIX]
)
@pytest.mark.parametrize("who", WHO)
def test_role_matrix(
    api: Api, method: str, template: str, expected: tuple[int, ...], who: str
) -> None:
    path = _fill(api, template)
    key = {"none": None, "bad": "kumo_this-key-does-not-exist-000000000"}.get(who, who)
    reply = api(method, path, key=key, json_body=BODIES.get((method, template)))
    assert reply.status == expected[WHO.index(who)], reply.body
    if reply.status in (401, 403):
        assert reply.json["code"] == {401: "unauthorized", 403: "forbidden"}[reply.status]


def test_the_matrix_covers_every_route() -> None:
    from entrypoints.http.routes import ROUTES

    covered = {
        (
            m,
            p.replace("{active}", "{id}")
            .replace("{archived}", "{id}")
            .replace("{multipart}", "{id}")
            .replace("{replaced}", "{id}")
            .replace("{trashed}", "{id}")
            .replace("{purged}", "{id}")
            .replace("{user}", "{id}")
            .replace("/1/", "/{revision}/"),
        )
        for m, p, _ in MATRIX
    }
    assert covered == {(r.method, r.path) for r in ROUTES}
