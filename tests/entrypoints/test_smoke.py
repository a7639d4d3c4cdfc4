from __future__ import annotations

from tests.entrypoints.conftest import Api


def test_smoke(api: Api) -> None:
    assert api("GET", "/healthcheck", key=None).json["status"] == "ok"
    doc = api.upload()
    r = api("GET", f"/documents/{doc['document_id']}", key="reader")
    assert r.status == 200, r.body
    print(r.json, r.headers)
    r = api("GET", f"/documents/{doc['document_id']}/content", key="reader")
    assert r.status == 302, r.body
    r = api("GET", "/docs", key=None)
    assert r.status == 200
    r = api("GET", "/me", key="reader")
    print(r.json)
    r = api("POST", "/documents", json_body={"file_name": "big.bin", "size": 20_000_000})
    print(r.status, r.json)
    r = api("GET", "/documents", key="reader")
    print(r.status, r.json)
