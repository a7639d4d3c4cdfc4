"""Entrypoints layer: the payload arithmetic of API Gateway REST in front of a Lambda function.

A direct upload reaches its function inside one synchronous invocation, whose payload is capped
at 6 MB for the request and for the response (Lambda quotas:
https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html). API Gateway REST takes
bodies up to 10 MB and request lines plus header values up to 10,240 bytes (API Gateway quotas:
https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html), so the event cap, not
the gateway's, bounds a direct upload.

The proxy event is a JSON document that wraps the body with `headers`, `multiValueHeaders`,
query parameters and `requestContext` (identity, authorizer context). The body itself arrives
in one of two forms, and the file costs the same in both:

- `multipart/form-data` is a binary media type, so API Gateway base64-encodes the whole body
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-payload-encodings.html):
  the file's L bytes become 4·⌈L/3⌉ characters, the part headers and the `metadata` part 4/3 of
  theirs.
- JSON with base64 `content` is text and arrives as it was sent, JSON-escaped inside the event's
  `body` string. Base64's alphabet has nothing to escape, so `content` is again 4·⌈L/3⌉
  characters; the other fields may double (every quote and backslash gains a backslash).

Everything that is not the file is bounded by ENVELOPE_ALLOWANCE (itemised below); the largest
direct-upload limit is what is left of the event, base64-decoded. The default limit (4 MiB)
fits with room to spare; a larger setting fails at start (`entrypoints.settings`) and at plan
(the module's `direct_upload_limit` validation).
"""

from __future__ import annotations

LAMBDA_SYNC_PAYLOAD_BYTES = 6_291_456
"""A synchronous Lambda invocation's payload quota (6 MB), request and response each."""
API_GATEWAY_PAYLOAD_BYTES = 10 * 1000 * 1000
"""API Gateway REST's payload quota (10 MB)."""
API_GATEWAY_HEADER_BYTES = 10_240
"""API Gateway REST's quota on the request line and header values together."""

_HEADER_COPIES = 6
"""Request-line and header bytes appear in the event up to three times (`headers` and
`multiValueHeaders`, the path in `path` and `requestContext.path`, the User-Agent also in
`requestContext.identity`), each copy JSON-escaped to at most twice its size."""
_KIB = 1024
ALLOWANCE_ITEMS: dict[str, int] = {
    # 6 x 10,240 = 61,440 bytes, plus header names and JSON punctuation.
    "request line and headers": _HEADER_COPIES * API_GATEWAY_HEADER_BYTES + 4 * _KIB,
    # stage, request and API ids, domain, times, identity, the authorizer's user_id/name/role.
    "requestContext and other event fields": 8 * _KIB,
    # 64 KiB of metadata as stored. A client's escapes of an astral character (\ud83d\ude00)
    # take 12 bytes for its 4; base64 makes them 16 (multipart), escaped backslashes 14 (JSON).
    "metadata (64 KiB stored)": 4 * 64 * _KIB,
    # 1,024 characters, at most 12 bytes each as sent (percent- or \u-escaped UTF-8), then 4/3.
    "file_name": 16 * _KIB,
    # content_type (255), size, sha256, JSON keys, multipart delimiters (≤ 70-character
    # boundary) and part headers.
    "other fields and framing": 2 * _KIB,
}
"""What a request may carry besides the file, in the worst form either body form allows."""
ENVELOPE_HEADROOM = 512 * _KIB - sum(ALLOWANCE_ITEMS.values())
"""Room for fields AWS adds to the event that its documentation does not bound (166 KiB)."""
ENVELOPE_ALLOWANCE = sum(ALLOWANCE_ITEMS.values()) + ENVELOPE_HEADROOM
"""Event bytes kept for everything but the file's base64: 512 KiB (524,288 bytes)."""


def base64_length(size: int) -> int:
    """Characters of the padded base64 encoding of `size` bytes."""
    return 4 * ((size + 2) // 3)


MAX_DIRECT_UPLOAD_LIMIT = (LAMBDA_SYNC_PAYLOAD_BYTES - ENVELOPE_ALLOWANCE) // 4 * 3
"""The largest direct-upload limit that fits the event in both body forms: 4,325,376 bytes
(4.125 MiB), whose base64 is 5,767,168 characters, plus the 524,288-byte allowance."""
