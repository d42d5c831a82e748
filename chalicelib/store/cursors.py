"""Opaque pagination cursors: a DynamoDB start key, bound to the query it came from.

A cursor from another query, or a tampered one, is refused with a clear error instead of silently
paging through the wrong list.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from chalicelib.domain.errors import FieldError, InvalidInput

_INVALID = InvalidInput(
    "Cursor de paginação inválido.",
    [FieldError("cursor", "use o cursor devolvido pela página anterior desta mesma consulta")],
)


def _fingerprint(query: Any) -> str:
    return hashlib.sha256(repr(query).encode()).hexdigest()[:16]


def encode(key: dict[str, Any] | None, query: Any) -> str | None:
    if not key:
        return None
    payload = json.dumps({"q": _fingerprint(query), "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode(cursor: str | None, query: Any, key_names: set[str]) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
        key = payload["k"]
        valid = (
            isinstance(payload, dict)
            and payload.get("q") == _fingerprint(query)
            and isinstance(key, dict)
            and set(key) == key_names
            and all(isinstance(v, dict) and set(v) == {"S"} and isinstance(v["S"], str) for v in key.values())
        )
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise _INVALID from None
    if not valid:
        raise _INVALID
    return dict(key)
