"""The history's hash chain: each entry's ``hash`` seals its columns and the entry before it.

Definition (version 1), reproducible with any SQLite client and a SHA-256 tool:

    hash(entry) = sha256_hex( prev + canonical(entry) )   over the UTF-8 bytes

- ``prev`` is the previous entry's ``hash`` (64 lowercase hex characters); the first entry
  chains from ``GENESIS``, 64 zeros. Entries are taken in ``id`` order.
- ``canonical(entry)`` is the JSON object of every column of the history row except ``hash``
  (id, at, actor, action, coder, record_id, note_id, field, old_value, new_value, reason,
  codebook_hash), keys sorted, separators ``,`` and ``:`` (no spaces), non-ASCII characters
  written as themselves (not ``\\u`` escapes). Values keep their SQLite type: NULL is ``null``,
  INTEGER a JSON integer, REAL a JSON number as Python's ``repr`` writes it (``1.0``, never
  ``1``), TEXT a JSON string, BLOB ``{"blob": "<lowercase hex>"}``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64
COLUMNS = (
    "id",
    "at",
    "actor",
    "action",
    "coder",
    "record_id",
    "note_id",
    "field",
    "old_value",
    "new_value",
    "reason",
    "codebook_hash",
)


def stored(value: Any) -> Any:
    """The value as SQLite stores and returns it (a bool is an INTEGER), so the hash computed before
    the INSERT equals the one recomputed from the row read back."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    return value


def _json_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"blob": value.hex()}
    return value


def canonical(entry: dict[str, Any]) -> str:
    """The canonical JSON of one history entry (its columns except ``hash``)."""
    body = {col: _json_value(stored(entry.get(col))) for col in COLUMNS}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def entry_hash(prev: str, entry: dict[str, Any]) -> str:
    return hashlib.sha256((prev + canonical(entry)).encode("utf-8")).hexdigest()
