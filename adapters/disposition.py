"""Adapters layer: the `Content-Disposition` value presigned downloads ask storage to send."""

from __future__ import annotations

import unicodedata
from urllib.parse import quote

_ATTR_CHAR_PUNCTUATION = "!#$&+-.^_`|~"
"""RFC 8187 attr-char besides ALPHA and DIGIT: everything else in `filename*` is %-encoded."""


def content_disposition(file_name: str) -> str:
    r"""`Content-Disposition: attachment` naming `file_name` (RFC 6266 with RFC 8187).

    The quoted `filename` is an ASCII fallback for old clients: NFKD transliteration
    (`é` → `e`, full-width forms → ASCII), combining marks dropped, and every other
    character outside printable ASCII — plus `"`, `\` and `%`, which some clients
    unescape — replaced by `_`. The `filename*` carries the exact name as UTF-8 with
    everything outside RFC 8187 attr-char percent-encoded. The result is printable ASCII
    only, so no file name can split or extend the header.
    """
    fallback = _ascii_fallback(file_name)
    # Lone surrogates cannot be UTF-8 (the input rules refuse them); they become "?".
    encoded = quote(file_name.encode("utf-8", "replace"), safe=_ATTR_CHAR_PUNCTUATION)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _ascii_fallback(file_name: str) -> str:
    chars: list[str] = []
    for char in unicodedata.normalize("NFKD", file_name):
        if unicodedata.category(char) == "Mn":
            continue
        printable = " " <= char <= "~"
        chars.append(char if printable and char not in '"\\%' else "_")
    return "".join(chars) or "download"
