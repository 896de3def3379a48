"""Removing notes that were imported wrongly (`chartcode notes remove`, `chartcode import --replace`).

A removal is refused while codes or consensus values rest on the notes, unless forced; forced, each
code and consensus value removed with them gets its own history entry (``code_removed``,
``consensus_removed``; the replay in verify.py drops the code), and every note removed gets a
``note_removed`` entry with its content hash, all in one transaction, so the history lists
everything that went and `chartcode verify` still explains the tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chartcode.errors import UserError, quote

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from chartcode.store.connection import Database


@dataclass
class RemovedNotes:
    notes: list[dict[str, Any]] = field(default_factory=list)  # note_id, note_date, note_type
    codes: list[dict[str, Any]] = field(default_factory=list)  # coder, note_id, field, value
    consensus: list[dict[str, Any]] = field(default_factory=list)  # note_id, field, value


class NotesAdmin:
    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...
        def _write(self) -> AbstractContextManager[Database]: ...
        def _history(
            self,
            db: Database,
            actor: str,
            action: str,
            *,
            coder: str | None = None,
            record_id: str | None = None,
            note_id: str | None = None,
            field: str | None = None,
            old: Any = None,
            new: Any = None,
            reason: str | None = None,
            at: str | None = None,
        ) -> int: ...

    def note_contents(self, record_ids: list[str]) -> dict[str, tuple[str, str]]:
        """note_id -> (record_id, content hash) for every stored note of ``record_ids``."""
        out: dict[str, tuple[str, str]] = {}
        for i in range(0, len(record_ids), 900):
            chunk = record_ids[i : i + 900]
            q = f"SELECT note_id, record_id, content_sha FROM notes WHERE record_id IN ({','.join('?' * len(chunk))})"
            for note_id, record_id, sha in self._db.execute(q, chunk).fetchall():
                out[note_id] = (record_id, sha)
        return out

    def note_owners(self, note_ids: list[str]) -> dict[str, str]:
        """note_id -> record_id for the stored notes among ``note_ids``."""
        out: dict[str, str] = {}
        for i in range(0, len(note_ids), 900):
            chunk = note_ids[i : i + 900]
            q = f"SELECT note_id, record_id FROM notes WHERE note_id IN ({','.join('?' * len(chunk))})"
            out.update(dict(self._db.execute(q, chunk).fetchall()))
        return out

    def remove_notes(
        self,
        targets: list[tuple[str, str | None]],
        *,
        actor: str,
        reason: str,
        force: bool = False,
        dry_run: bool = False,
    ) -> RemovedNotes:
        """Remove notes: each target is (record_id, note_id), or (record_id, None) for all of the
        record's notes. Refused (UserError, nothing changed) for an unknown record or note, and when
        codes or consensus values are on the notes unless ``force``. ``dry_run`` only lists."""
        out = RemovedNotes()
        with self._write() as db:
            conn = db.conn
            rows: dict[str, dict[str, Any]] = {}
            for record_id, note_id in targets:
                if conn.execute("SELECT 1 FROM records WHERE id = ?", [record_id]).fetchone() is None:
                    raise UserError(f"record {quote(record_id)} is not in this audit")
                q = (
                    "SELECT id, note_id, record_id, note_date, note_type, text, content_sha"
                    " FROM notes WHERE record_id = ?"
                )
                args: list[Any] = [record_id]
                if note_id is not None:
                    q += " AND note_id = ?"
                    args.append(note_id)
                found = conn.execute(q + " ORDER BY note_date IS NULL, note_date, id", args).fetchall()
                if note_id is not None and not found:
                    raise UserError(f"note {quote(note_id)} is not a note of record {quote(record_id)}")
                for r in found:
                    rows[r[1]] = dict(
                        zip(("id", "note_id", "record_id", "note_date", "note_type", "text", "sha"), r, strict=True)
                    )
            for n in rows.values():
                for coder, fld, value in conn.execute(
                    "SELECT coder, field, value FROM codes WHERE record_id = ? AND note_key = ? ORDER BY coder, field",
                    [n["record_id"], n["note_id"]],
                ).fetchall():
                    out.codes.append(
                        {
                            "coder": coder,
                            "record_id": n["record_id"],
                            "note_id": n["note_id"],
                            "field": fld,
                            "value": value,
                        }
                    )
                for fld, value in conn.execute(
                    "SELECT field, value FROM consensus WHERE record_id = ? AND note_key = ? ORDER BY field",
                    [n["record_id"], n["note_id"]],
                ).fetchall():
                    out.consensus.append(
                        {"record_id": n["record_id"], "note_id": n["note_id"], "field": fld, "value": value}
                    )
            out.notes = [{k: n[k] for k in ("record_id", "note_id", "note_date", "note_type")} for n in rows.values()]
            if dry_run:
                return out
            if (out.codes or out.consensus) and not force:
                coders = sorted({c["coder"] for c in out.codes})
                raise UserError(
                    f"{len(out.codes)} codes (by {', '.join(coders) or 'no coder'}) and {len(out.consensus)} consensus"
                    f" values are on the {len(out.notes)} notes to remove; nothing was removed. --force removes"
                    " them with the notes, each in the history"
                )
            for c in out.codes:
                self._history(
                    db, actor, "code_removed", coder=c["coder"], record_id=c["record_id"], note_id=c["note_id"],
                    field=c["field"], old=c["value"], new=None, reason=reason,
                )  # fmt: skip
                conn.execute(
                    "DELETE FROM codes WHERE coder = ? AND record_id = ? AND note_key = ? AND field = ?",
                    [c["coder"], c["record_id"], c["note_id"], c["field"]],
                )
            for c in out.consensus:
                self._history(
                    db, actor, "consensus_removed", record_id=c["record_id"], note_id=c["note_id"], field=c["field"],
                    old=c["value"], new=None, reason=reason,
                )  # fmt: skip
                conn.execute(
                    "DELETE FROM consensus WHERE record_id = ? AND note_key = ? AND field = ?",
                    [c["record_id"], c["note_id"], c["field"]],
                )
            for n in rows.values():
                conn.execute(
                    "INSERT INTO notes_fts(notes_fts, rowid, text) VALUES ('delete', ?, ?)", [n["id"], n["text"]]
                )
                conn.execute("DELETE FROM notes WHERE id = ?", [n["id"]])
                conn.execute("UPDATE positions SET note_id = NULL, field = NULL WHERE note_id = ?", [n["note_id"]])
                self._history(
                    db, actor, "note_removed", record_id=n["record_id"], note_id=n["note_id"], old=n["sha"],
                    reason=reason,
                )  # fmt: skip
        return out
