"""Checking a history: the hash chain (chartcode.store.chain) and the current codes replayed from it.

A file cannot stop its owner, but it can make tampering evident. :func:`verify` finds:

- an entry whose hash does not match its contents or the entry before it (an entry changed,
  removed, inserted or renumbered, once triggers are dropped), and gaps in the ids;
- an entry without a hash added after the chain started (a forged row);
- a code (``codes``) or consensus value that the history's entries do not explain: each
  value, memo, submitted value and time is replayed from the entries (set, change, clear, undo
  and the other actions written by Store._set_code; memo; submit; consensus) and compared;
- with ``head``: a chain head published earlier (in a report or export) that the chain no longer
  contains, which is what exposes removed last entries or a consistently rewritten past.

It cannot detect an owner who rewrites the file consistently (entries, recomputed hashes and
codes together); only a head published before the rewrite exposes that.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from chartcode.store import chain
from chartcode.store.connection import Database
from chartcode.store.schema import CHAINED_AT_MIGRATION

# Entries about something other than one code's value (read for the replay, or not at all).
NOT_VALUE_ACTIONS = {"memo", "submit", "consensus"}
TRIGGERS = (
    "history_is_append_only_update",
    "history_is_append_only_delete",
    "history_refuses_replace",
    "history_is_chained",
)
CODE_COLUMNS = ("value", "memo", "submitted_value", "submitted_at", "updated_at")
CONSENSUS_COLUMNS = ("value", "reason", "decided_by", "decided_at")


@dataclass(frozen=True)
class Problem:
    """One thing that does not check out; ``history_id`` or ``code`` names where."""

    message: str
    history_id: int | None = None
    code: dict[str, Any] | None = None


@dataclass
class Verification:
    entries: int
    head: str  # the hash of the last entry (GENESIS when there is none)
    problems: list[Problem] = field(default_factory=list)
    chained_at_migration: dict[str, Any] | None = None  # entries chained by m004, not as written
    head_checked: str | None = None  # the --head asked for
    head_entry: int | None = None  # the entry whose hash it is
    replay_skipped: str | None = None  # why the codes were not replayed (a server login that is not a lead)

    @property
    def ok(self) -> bool:
        return not self.problems


def history_head(db: Database) -> tuple[int, str]:
    """(number of history entries, hash of the last one): what reports and exports print."""
    row = db.execute("SELECT count(*), (SELECT hash FROM history ORDER BY id DESC LIMIT 1) FROM history").fetchone()
    return int(row[0]), str(row[1] or chain.GENESIS)


def _show(value: Any) -> str:
    return "NULL" if value is None else repr(value)


def _code_name(key: tuple[str, str, str, str]) -> str:
    coder, record_id, note_key, fld = key
    note = f" note {note_key}" if note_key else ""
    return f"record {record_id}{note} field {fld} coder {coder}"


def _unit_name(key: tuple[str, str, str]) -> str:
    record_id, note_key, fld = key
    note = f" note {note_key}" if note_key else ""
    return f"consensus record {record_id}{note} field {fld}"


def _check_chain(rows: list[dict[str, Any]], out: Verification, head: str | None) -> None:
    prev, prev_id = chain.GENESIS, 0
    want = head.lower() if head else None
    for row in rows:
        hid = row["id"]
        if hid != prev_id + 1:
            out.problems.append(
                Problem(
                    f"history entry {hid}: comes after entry {prev_id}; entries {prev_id + 1}..{hid - 1} are missing",
                    history_id=hid,
                )
            )
        stored = row["hash"]
        if stored is None:
            out.problems.append(
                Problem(f"history entry {hid}: has no chain hash (added outside chartcode)", history_id=hid)
            )
        elif stored != chain.entry_hash(prev, row):
            out.problems.append(
                Problem(
                    f"history entry {hid}: its hash does not match its contents and the entry before it"
                    " (the entry was changed, or one before it removed or inserted)",
                    history_id=hid,
                )
            )
        if want and stored and stored.startswith(want) and out.head_entry is None:
            out.head_entry = hid
        prev, prev_id = stored or prev, hid


def _replay(
    rows: list[dict[str, Any]], out: Verification
) -> tuple[dict[tuple[str, str, str, str], dict[str, Any]], dict[tuple[str, str, str], dict[str, Any]]]:
    codes: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    units: dict[tuple[str, str, str], dict[str, Any]] = {}
    # (coder, record) -> the keys of its codes, so that a submit freezes that record's codes without
    # walking every code of the audit (that was codes x submits: hours on a 100k-record audit)
    by_record: dict[tuple[str, str], list[tuple[str, str, str, str]]] = {}
    for row in rows:
        action, at = row["action"], row["at"]
        if action == "consensus" and row["field"] is not None:
            unit = (row["record_id"], row["note_id"] or "", row["field"])
            units[unit] = {
                "value": row["new_value"],
                "reason": row["reason"],
                "decided_by": row["actor"],
                "decided_at": at,
            }
        elif action == "submit" and row["coder"] is not None:
            for key in by_record.get((row["coder"], row["record_id"]), ()):
                frozen = codes.get(key)  # None once its note was removed
                if frozen is not None and frozen["submitted_at"] is None:
                    frozen["submitted_value"], frozen["submitted_at"] = frozen["value"], at
        elif action == "code_removed":  # its note was removed (store/notes_admin.py): the code is gone
            codes.pop((row["coder"], row["record_id"], row["note_id"] or "", row["field"]), None)
        elif action == "consensus_removed":
            units.pop((row["record_id"], row["note_id"] or "", row["field"]), None)
        elif row["coder"] is not None and row["field"] is not None:
            key = (row["coder"], row["record_id"], row["note_id"] or "", row["field"])
            code = codes.get(key)
            col = "memo" if action == "memo" else "value"
            before = code[col] if code else None
            if before != row["old_value"] or type(before) is not type(row["old_value"]):
                out.problems.append(
                    Problem(
                        f"history entry {row['id']}: says the {col} of {_code_name(key)} was {_show(row['old_value'])},"
                        f" but the entries before it make it {_show(before)}",
                        history_id=row["id"],
                    )
                )
            if code is None:
                by_record.setdefault(key[:2], []).append(key)
                code = codes[key] = {
                    "value": None,
                    "memo": None,
                    "submitted_value": None,
                    "submitted_at": None,
                    "updated_at": at,
                }
            code[col], code["updated_at"] = row["new_value"], at
    return codes, units


def _compare(
    name: str,
    table: dict[str, Any] | None,
    replay: dict[str, Any] | None,
    columns: tuple[str, ...],
    code: dict[str, Any],
) -> Problem | None:
    if table is None:
        return Problem(f"{name}: is in the history but missing from the table", code=code)
    if replay is None:
        return Problem(f"{name}: no history entry explains it (value {_show(table['value'])})", code=code)
    for col in columns:
        a, b = table[col], replay[col]
        if a != b or type(a) is not type(b):
            return Problem(f"{name}: {col} is {_show(a)}, but the history says {_show(b)}", code=code)
    return None


def verify(db: Database, head: str | None = None) -> Verification:
    cols = ", ".join(chain.COLUMNS)
    rows = [
        dict(zip((*chain.COLUMNS, "hash"), r, strict=True))
        for r in db.execute(f"SELECT {cols}, hash FROM history ORDER BY id").fetchall()
    ]
    n, last = history_head(db)
    migrated = db.execute("SELECT value FROM meta WHERE key = ?", [CHAINED_AT_MIGRATION]).fetchone()
    out = Verification(n, last, chained_at_migration=json.loads(migrated[0]) if migrated else None)
    if head is not None:
        if not re.fullmatch(r"[0-9a-fA-F]{8,64}", head):
            raise ValueError("a chain head is 8 to 64 hexadecimal characters")
        out.head_checked = head.lower()
    _check_chain(rows, out, head)
    seq = db.execute("SELECT seq FROM sqlite_sequence WHERE name = 'history'").fetchone()
    if seq and rows and seq[0] > rows[-1]["id"]:
        out.problems.append(
            Problem(
                f"history: entries {rows[-1]['id'] + 1}..{seq[0]} were written and are gone (the last entries removed)",
                history_id=rows[-1]["id"] + 1,
            )
        )
    if head is not None and out.head_entry is None:
        out.problems.append(
            Problem(
                f"history: the chain no longer contains head {head.lower()}: entries were removed or the history"
                " rewritten since that head was published"
            )
        )

    codes, units = _replay(rows, out)
    table_codes = {
        (r[0], r[1], r[2], r[3]): dict(zip(CODE_COLUMNS, r[4:], strict=True))
        for r in db.execute(
            f"SELECT coder, record_id, note_key, field, {', '.join(CODE_COLUMNS)} FROM codes"
            " ORDER BY coder, record_id, note_key, field"
        ).fetchall()
    }
    for key in sorted(table_codes.keys() | codes.keys()):
        coder, record_id, note_key, fld = key
        where = {"record_id": record_id, "note_id": note_key or None, "field": fld, "coder": coder}
        problem = _compare(f"code {_code_name(key)}", table_codes.get(key), codes.get(key), CODE_COLUMNS, where)
        if problem:
            out.problems.append(problem)
    table_units = {
        (r[0], r[1], r[2]): dict(zip(CONSENSUS_COLUMNS, r[3:], strict=True))
        for r in db.execute(
            f"SELECT record_id, note_key, field, {', '.join(CONSENSUS_COLUMNS)} FROM consensus"
            " ORDER BY record_id, note_key, field"
        ).fetchall()
    }
    for unit in sorted(table_units.keys() | units.keys()):
        record_id, note_key, fld = unit
        where = {"record_id": record_id, "note_id": note_key or None, "field": fld, "coder": None}
        problem = _compare(_unit_name(unit), table_units.get(unit), units.get(unit), CONSENSUS_COLUMNS, where)
        if problem:
            out.problems.append(problem)
    present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()}
    for name in TRIGGERS:
        if name not in present:
            out.problems.append(
                Problem(f"history: trigger {name} is missing (the database no longer refuses changes to the history)")
            )
    return out
