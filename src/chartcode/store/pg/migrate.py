"""Moving an audit between a file and a team server, whole: codes, memos, flags, assignments,
submissions, consensus, history, codebooks (and their hashes), notes, records, imports, positions.

Rows are copied as they are (the same ids, actors and times); only the history's chain hashes are
recomputed, because each backend seals its chain its own way (the file: SHA-256 over canonical
JSON, chartcode.store.chain; the server: over jsonb text, chartcode.store.pg.schema.VERIFY_SQL).
Both ends are verified: the source's history must check out before anything is copied, and the
copy must check out (chain and replay), hold the same number of rows in every table and the same
active codebook hash, or nothing is kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from chartcode.errors import UserError
from chartcode.store import chain
from chartcode.store.connection import import_sqlite_utils
from chartcode.store.pg import admin, schema
from chartcode.store.pg import connect as pgconnect

# In dependency order; history last (its hashes are recomputed).
TABLES = (
    "codebooks",
    "coders",
    "imports",
    "records",
    "notes",
    "assignments",
    "codes",
    "consensus",
    "positions",
)
META_KEYS = ("app", "created_at", "title", "audit_id", "audit_yaml", "audit_json", "deid_salt")
SERIALS = ("imports", "notes", "codes", "consensus")


def _file_rows(conn: sqlite3.Connection, table: str) -> tuple[list[str], Iterator[tuple[Any, ...]]]:
    """The columns of a file table, and its rows in order as they are read (never all in memory: a
    100k-record audit's tables held 3.4 GB that way)."""
    cur = conn.execute(f"SELECT * FROM {table} ORDER BY rowid")  # noqa: S608 - table names are ours
    return [d[0] for d in cur.description], iter(cur)


def _pg_columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    """Column -> data type of a chartcode table, without generated columns."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'chartcode'"
        " AND table_name = %s AND is_generated = 'NEVER'",
        [table],
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _counts_file(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in (*TABLES, "history")}  # noqa: S608


def _counts_pg(conn: psycopg.Connection[Any]) -> dict[str, int]:
    out = {}
    for t in (*TABLES, "history"):
        row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("chartcode", t))).fetchone()
        out[t] = int(row[0]) if row else 0
    return out


def _check(what: str, source: dict[str, int], copy: dict[str, int], hashes: tuple[str, str]) -> None:
    differ = [f"{t}: {source[t]} -> {copy.get(t)}" for t in source if source[t] != copy.get(t)]
    if differ:
        raise UserError(f"{what}: the copy's row counts differ from the source's; nothing kept", problems=differ)
    if hashes[0] != hashes[1]:
        raise UserError(f"{what}: the copy's codebook hash {hashes[1][:12]} is not the source's {hashes[0][:12]}")


def to_server(path: Path, url: str, on_phase: Callable[[str], None] | None = None) -> dict[str, int]:
    """Copy the file audit at ``path`` into a new audit at ``url`` (as an administrator): the database
    must hold no chartcode audit yet. Returns the rows copied per table."""
    from chartcode.store.store import Store

    say = on_phase or (lambda _m: None)
    shown = pgconnect.redacted(url)
    with Store.open(path) as store:
        check = store.verify()
        if not check.ok:
            raise UserError(f"{path}: its history does not check out ({check.problems[0].message}); not migrated")
        codebook, audit = store.codebook, store.audit
    src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        source_counts = _counts_file(src)
        meta = dict(src.execute("SELECT key, value FROM meta").fetchall())
        with admin._open_or_create_database(url) as probe:
            if probe.execute("SELECT to_regnamespace('chartcode') IS NOT NULL").fetchone() == (True,):
                raise UserError(
                    f"{shown}: already holds a chartcode audit; migrate into a new, empty database (nothing changed)"
                )
        say("creating the audit on the server")
        roles = admin.init_server(url, codebook, audit=audit, audit_source=meta.get("audit_yaml") or "", empty=True)
        try:
            with pgconnect.connect(url) as conn:
                _copy_in(conn, src, roles, meta, say)
                conn.commit()
                copy_counts = _counts_pg(conn)
                row = conn.execute("SELECT hash FROM chartcode.codebooks WHERE active").fetchone()
                _check(shown, source_counts, copy_counts, (codebook.hash, row[0] if row else ""))
            _verify_server(url, shown)
        except BaseException:
            admin.drop_audit(url)
            raise
    finally:
        src.close()
    return source_counts


def _copy_in(
    conn: psycopg.Connection[Any],
    src: sqlite3.Connection,
    roles: schema.Roles,
    meta: dict[str, str],
    say: Callable[[str], None],
) -> None:
    conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles.owner)))
    for key in META_KEYS:
        if key in meta:
            conn.execute(
                "INSERT INTO chartcode.meta(key, value) VALUES (%s, %s) ON CONFLICT (key) DO UPDATE"
                " SET value = excluded.value",
                [key, meta[key]],
            )
    for table in TABLES:
        say(f"copying {table}")
        cols, rows = _file_rows(src, table)
        types = _pg_columns(conn, table)
        keep = [i for i, c in enumerate(cols) if c in types]
        names = [cols[i] for i in keep]
        conv = [_to_pg(types[c]) for c in names]
        query = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier("chartcode", table), sql.SQL(", ").join(map(sql.Identifier, names))
        )
        with conn.cursor().copy(query) as copy:
            for r in rows:
                copy.write_row([f(r[i]) for f, i in zip(conv, keep, strict=True)])
    for table in SERIALS:
        conn.execute(
            sql.SQL("SELECT setval(pg_get_serial_sequence({}, 'id'), greatest((SELECT max(id) FROM {}), 1))").format(
                sql.Literal(f"chartcode.{table}"), sql.Identifier("chartcode", table)
            )
        )
    say("copying history (sealing the server's chain)")
    cols, rows = _file_rows(src, "history")
    conn.execute(
        "CREATE TEMP TABLE mig_history (id bigint, at text, actor text, action text, coder text, record_id text,"
        " note_id text, field text, old_value jsonb, new_value jsonb, reason text, codebook_hash text)"
        " ON COMMIT DROP"
    )
    idx = [cols.index(c) for c in chain.COLUMNS]
    with conn.cursor().copy(sql.SQL("COPY mig_history FROM STDIN")) as copy:
        for r in rows:
            copy.write_row(
                [
                    _jsonb(r[i]) if c in ("old_value", "new_value") else r[i]
                    for c, i in zip(chain.COLUMNS, idx, strict=True)
                ]
            )
    conn.execute(SEAL_SQL)
    conn.execute("RESET ROLE")


# The server's chain over the copied entries, in id order (the same expression as VERIFY_SQL).
SEAL_SQL = """
DO $$
DECLARE h record; prev text := repeat('0', 64); last bigint := 0;
BEGIN
    FOR h IN SELECT * FROM mig_history ORDER BY id LOOP
        prev := encode(sha256(convert_to(prev || jsonb_build_object(
            'id', h.id, 'at', h.at, 'actor', h.actor, 'action', h.action, 'coder', h.coder,
            'record_id', h.record_id, 'note_id', h.note_id, 'field', h.field, 'old_value', h.old_value,
            'new_value', h.new_value, 'reason', h.reason, 'codebook_hash', h.codebook_hash)::text, 'UTF8')), 'hex');
        INSERT INTO chartcode.history(id, at, actor, action, coder, record_id, note_id, field, old_value,
            new_value, reason, codebook_hash, hash)
        VALUES (h.id, h.at, h.actor, h.action, h.coder, h.record_id, h.note_id, h.field, h.old_value,
            h.new_value, h.reason, h.codebook_hash, prev);
        last := h.id;
    END LOOP;
    UPDATE chartcode.chain_head SET last_id = last, hash = prev;
END $$"""


def _jsonb(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


def _to_pg(data_type: str) -> Callable[[Any], Any]:
    if data_type == "jsonb":
        return _jsonb
    if data_type == "boolean":
        return lambda v: None if v is None else bool(v)
    return lambda v: v


def _verify_server(url: str, shown: str) -> None:
    from chartcode.store.pg.store import PgStore

    with PgStore.open(url) as store:
        result = store.verify()
    if not result.ok:
        raise UserError(f"{shown}: the copy's history does not check out ({result.problems[0].message}); nothing kept")


def to_file(url: str, path: Path, on_phase: Callable[[str], None] | None = None) -> dict[str, int]:
    """Write the server audit at ``url`` (read as an administrator or lead, who see every value) to a new
    file audit at ``path`` (0600, written beside it and moved into place only once it checks out)."""
    from chartcode.files import atomic_path
    from chartcode.store import schema as file_schema
    from chartcode.store.pg.store import PgStore
    from chartcode.store.store import Store

    say = on_phase or (lambda _m: None)
    shown = pgconnect.redacted(url)
    with PgStore.open(url) as store:
        if not store.viewer_is_lead(None):
            raise UserError(f"{shown}: a snapshot holds every coder's values; only a lead or administrator takes one")
        head = store.verify()
        if not head.ok:
            raise UserError(f"{shown}: its history does not check out ({head.problems[0].message}); no snapshot")
        codebook_hash = store.codebook.hash
    with pgconnect.connect(url) as conn:
        roles = schema.Roles(**json.loads(_meta(conn, "roles") or "{}")) if _meta(conn, "roles") else None
        if roles is not None and _is_member(conn, roles.owner):
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(roles.owner)))
        else:
            raise UserError(f"{shown}: a snapshot reads the tables themselves; run it as an administrator")
        source_counts = _counts_pg(conn)
        with atomic_path(path) as tmp:
            db = import_sqlite_utils().Database(tmp)
            db.conn.execute("PRAGMA journal_mode = DELETE")
            db.conn.execute("PRAGMA application_id = 1128809283")
            file_schema.apply(db)
            with db.conn:
                for key in META_KEYS:
                    value = _meta(conn, key)
                    if value is not None:
                        db.conn.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", [key, value])
                for table in TABLES:
                    say(f"copying {table}")
                    file_cols = [r[1] for r in db.conn.execute(f"PRAGMA table_info({table})")]
                    types = _pg_columns(conn, table)
                    names = [c for c in file_cols if c in types]
                    query = sql.SQL("SELECT {} FROM {} ORDER BY 1").format(
                        sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier("chartcode", table)
                    )
                    if table in ("codes", "consensus", "notes", "imports"):
                        query = sql.SQL("SELECT {} FROM {} ORDER BY id").format(
                            sql.SQL(", ").join(map(sql.Identifier, names)), sql.Identifier("chartcode", table)
                        )
                    marks = ", ".join("?" * len(names))
                    with conn.cursor(name=f"snap_{table}") as cur:
                        cur.execute(query)
                        while batch := cur.fetchmany(5000):
                            db.conn.executemany(
                                f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})",  # noqa: S608
                                [tuple(_to_file(v) for v in r) for r in batch],
                            )
                db.conn.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")
                say("copying history (sealing the file's chain)")
                prev = chain.GENESIS
                cols = ", ".join(chain.COLUMNS)
                with conn.cursor(name="snap_history") as cur:
                    cur.execute(f"SELECT {cols} FROM chartcode.history ORDER BY id")
                    while batch := cur.fetchmany(5000):
                        out = []
                        for r in batch:
                            entry = dict(zip(chain.COLUMNS, (_to_file(v) for v in r), strict=True))
                            prev = chain.entry_hash(prev, entry)
                            out.append((*entry.values(), prev))
                        db.conn.executemany(
                            f"INSERT INTO history ({cols}, hash) VALUES ({', '.join('?' * (len(chain.COLUMNS) + 1))})",
                            out,
                        )
            db.conn.close()
            with Store.open(tmp) as copy:
                result = copy.verify()
                if not result.ok:
                    raise UserError(f"{path}: the snapshot's history does not check out ({result.problems[0].message})")
                active = copy.codebook.hash
            check = sqlite3.connect(tmp)
            try:
                copy_counts = _counts_file(check)
            finally:
                check.close()
            _check(str(path), source_counts, copy_counts, (codebook_hash, active))
    return source_counts


def _to_file(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return value


def _meta(conn: psycopg.Connection[Any], key: str) -> str | None:
    row = conn.execute("SELECT value FROM chartcode.meta WHERE key = %s", [key]).fetchone()
    return row[0] if row else None


def _is_member(conn: psycopg.Connection[Any], role: str) -> bool:
    row = conn.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", [role]).fetchone()
    return bool(row and row[0])
