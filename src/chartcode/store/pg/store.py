"""PgStore: the Store interface on a team server.

Each thread gets its own connection (psycopg connections are thread-safe but serialise their
commands; a Textual worker must not queue behind the screen). Every write is one call of a
SECURITY DEFINER function (chartcode.store.pg.schema) in its own committed transaction; every
read of coders' values goes through the views that apply the blinding rule for the login.

A lost connection (server restarted, backend terminated, network gone) is one exception,
ConnectionLost, raised after the connection is closed (the server has rolled back whatever it had
not committed); the next call opens a new connection from the URL. A read is sent once more on a
new connection before giving up (reading twice changes nothing). A write is not: whether a write
whose COMMIT reply was lost has been committed cannot be known from here, so a caller that retries
writes (the coding screens' writer) sends each inside :meth:`PgStore.request` with a key of its
own. The server records the key and the write's result in the write's own transaction, so sent
again with the same key, a write that did commit is not applied twice: its recorded result comes
back instead.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from chartcode.codebook import Change, Codebook, Field, diff
from chartcode.errors import UserError, quote
from chartcode.store import targets
from chartcode.store.api import StaleChange, stored_codebook
from chartcode.store.faults import ConnectionLost
from chartcode.store.imports import reused_note_id
from chartcode.store.pg import connect as pgconnect
from chartcode.store.pg import schema
from chartcode.store.store import CodeChange, refuse_incomplete

IDENTITY = "on a server you act as the role you log in as"
BLIND = "(blind)"


def _j(value: Any) -> Jsonb | None:
    return None if value is None else Jsonb(value)


class PgStore:
    """One audit on a PostgreSQL server, as the role the URL logs in as."""

    backend = "postgresql"

    def __init__(self, url: str, connect: Callable[..., psycopg.Connection[Any]] | None = None):
        self.url = url
        self.path = pgconnect.redacted(url)
        # how a connection is (re)opened: the URL through libpq, unless a caller (a test) wraps it
        self._connect = connect or pgconnect.connect
        self._local = threading.local()
        self._requests = threading.local()  # the request key writes on this thread are sent with
        self._all: list[psycopg.Connection[Any]] = []
        self._lock = threading.Lock()
        self._codebook: Codebook | None = None
        self._codebook_hash: str | None = None
        self._actor: str | None = None

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str, *, connect: Callable[..., psycopg.Connection[Any]] | None = None) -> PgStore:
        store = cls(url, connect)
        try:
            row = store._one(
                "SELECT to_regclass('chartcode.meta') IS NOT NULL, current_user,"
                " has_schema_privilege('chartcode', 'USAGE')"
                " FROM (SELECT 1) x WHERE to_regnamespace('chartcode') IS NOT NULL"
            )
            if row is None or not row[0]:
                raise UserError(f"{store.path}: no chartcode audit in this database (run `chartcode server init`)")
            if not row[2]:
                raise UserError(f"{store.path}: role {row[1]} is not a coder of this audit")
            version = store._one("SELECT value FROM chartcode.meta WHERE key = 'schema_version'")
            if version is None or int(version[0]) > schema.VERSION:
                raise UserError(
                    f"{store.path}: the audit's schema (version {version[0] if version else '?'}) is newer than"
                    f" this chartcode knows ({schema.VERSION}); upgrade chartcode"
                )
            store._actor = str(row[1])
        except BaseException:
            store.close()
            raise
        return store

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()

    def __enter__(self) -> PgStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _conn(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = self._connect(self.url, autocommit=True)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _drop_conn(self) -> None:
        """Forget this thread's connection (closed): the next call opens a new one."""
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with contextlib.suppress(psycopg.Error):
            conn.close()
        with self._lock, contextlib.suppress(ValueError):
            self._all.remove(conn)

    def _read(self, work: Callable[[psycopg.Connection[Any]], Any]) -> Any:
        """``work(connection)`` for a read; after a lost connection once more on a new one (a read
        changes nothing, so sending it twice is safe), unless it was part of a transaction."""
        try:
            with self._errors():
                return work(self._conn())
        except ConnectionLost:
            if getattr(self._local, "in_transaction", False):
                raise
        with self._errors():
            return work(self._conn())

    def _rows(self, query: str | sql.Composable, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._read(
            lambda conn: conn.execute(query, list(params)).fetchall()  # type: ignore[arg-type]
        )
        return rows

    def _one(self, query: str | sql.Composable, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        rows = self._rows(query, params)
        return rows[0] if rows else None

    def _dicts(self, query: str | sql.Composable, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        def work(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
            with conn.cursor(row_factory=dict_row) as cur:
                return cur.execute(query, list(params)).fetchall()  # type: ignore[arg-type]

        result: list[dict[str, Any]] = self._read(work)
        return result

    @contextlib.contextmanager
    def _transaction(self, conn: psycopg.Connection[Any]) -> Iterator[None]:
        """One transaction on ``conn``; reads inside it are not sent again on another connection."""
        self._local.in_transaction = True
        try:
            with conn.transaction():
                yield
        finally:
            self._local.in_transaction = False

    @contextlib.contextmanager
    def request(self, key: str, *, again: bool = False) -> Iterator[None]:
        """Writes on this thread inside the block belong to request ``key`` (unique to the caller's
        job, the same on every attempt of it): the n-th write of an attempt is sent as ``key/n``, and
        the server applies a given ``key/n`` at most once, returning the result it recorded when it
        sees the key again (the attempt before committed, but its reply was lost). ``again``: an
        attempt before this one was sent, so each write first asks whether it already landed."""
        self._requests.key = key
        self._requests.n = 0
        self._requests.again = again
        try:
            yield
        finally:
            self._requests.key = None

    def _write(self, query: str, params: Iterable[Any] = ()) -> tuple[Any, ...] | None:
        """One write (a call of one of the schema's functions) in its own committed transaction, sent
        once: a lost connection is ConnectionLost, never sent again from here. Inside
        :meth:`request`, sent with its key, so that the caller may send it again: the write and the
        record of its key are one statement (one round trip, one commit), and the key is the
        primary key of that record, so a second application fails whatever the caller says."""
        key = getattr(self._requests, "key", None)
        if key is None:
            with self._errors():
                row: tuple[Any, ...] | None = self._conn().execute(query, list(params)).fetchone()
            return row
        self._requests.n += 1
        key = f"{key}/{self._requests.n}"
        if self._requests.again and (recorded := self._recorded(key)) is not None:
            return recorded[0]
        keyed = f"SELECT w.*, chartcode.request_done(%s, row_to_json(w)) FROM ({query}) w"
        try:
            with self._errors():
                row = self._conn().execute(keyed, [key, *params]).fetchone()
        except psycopg.errors.UniqueViolation as exc:
            if exc.diag.constraint_name != "requests_pkey" or (recorded := self._recorded(key)) is None:
                raise
            return recorded[0]  # it had landed: nothing was applied again
        return None if row is None else tuple(row[:-1])

    def _recorded(self, key: str) -> tuple[tuple[Any, ...] | None] | None:
        """(the recorded result,) of this login's write ``key``, or None if the server has no such write."""
        found = self._one("SELECT seen, result FROM chartcode.request_result(%s)", [key])
        if found is None or not found[0]:
            return None
        return (None if found[1] is None else tuple(found[1].values()),)

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        """The server's refusals as one clear line (UserError); a stale change as StaleChange; a lost
        connection (closed first) as ConnectionLost."""
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise UserError(f"{self.path}: refused by the server: {exc.diag.message_primary}") from None
        except psycopg.errors.InvalidParameterValue as exc:
            raise UserError(str(exc.diag.message_primary)) from None
        except psycopg.OperationalError as exc:
            conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
            lost = conn is None or conn.closed or conn.broken or pgconnect.unavailable(exc)
            if lost:
                self._drop_conn()  # the server rolls back what this connection had not committed
                first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ConnectionLost(f"{self.path}: lost the connection to the server ({first})") from None
            raise UserError(f"{self.path}: {pgconnect.explain(exc)}") from None
        except psycopg.errors.UndefinedFunction as exc:  # a server audit made by an earlier chartcode
            raise UserError(
                f"{self.path}: the audit's server schema lacks what this chartcode needs"
                f" ({exc.diag.message_primary}): it was made by an earlier chartcode. An administrator can"
                " move it into a new database: `chartcode snapshot URL --out audit.db`, then"
                " `chartcode migrate audit.db NEW_URL`"
            ) from None
        except psycopg.DatabaseError as exc:
            if exc.sqlstate == "CC409":
                detail = json.loads(exc.diag.message_detail or "null")
                field = (exc.diag.message_primary or "").removeprefix("stale change: ").split(" ")[0]
                raise StaleChange(field, detail, int(exc.diag.message_hint or 0)) from None
            raise

    @property
    def actor(self) -> str:
        """The role this store is logged in as: who every change is recorded as."""
        if self._actor is None:
            row = self._one("SELECT current_user")
            self._actor = str(row[0]) if row else ""
        return self._actor

    def _as_self(self, name: str | None) -> str:
        """Refuse acting (or looking) as anyone but the login."""
        if name is not None and name != self.actor:
            raise UserError(f"{name!r}: {IDENTITY} ({self.actor}); connect as {name} to act as them")
        return self.actor

    def cached(self, key: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` once per state of the audit (the history's head changes with every write)."""
        row = self._one("SELECT last_id FROM chartcode.chain_head")
        version = row[0] if row else None
        cache = self.__dict__.setdefault("_cache", {})
        hit = cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        value = compute()
        cache[key] = (version, value)
        return value

    # ------------------------------------------------------------------ meta and codebook
    def meta(self, key: str) -> str | None:
        row = self._one("SELECT value FROM chartcode.meta WHERE key = %s", [key])
        return row[0] if row else None

    @property
    def title(self) -> str:
        return self.meta("title") or ""

    @property
    def audit(self) -> dict[str, Any]:
        audit: dict[str, Any] = json.loads(self.meta("audit_json") or "{}")
        return audit

    @property
    def codebook(self) -> Codebook:
        row = self._one("SELECT hash FROM chartcode.codebooks WHERE active")
        if row is None:
            raise UserError(f"{self.path}: the audit has no active codebook")
        if self._codebook is None or self._codebook_hash != row[0]:
            stored = self._one("SELECT source_yaml, canonical_json FROM chartcode.codebooks WHERE hash = %s", [row[0]])
            assert stored is not None
            self._codebook = stored_codebook(f"{self.path}[codebook {row[0][:12]}]", row[0], *stored)
            self._codebook_hash = row[0]
        return self._codebook

    def codebook_versions(self) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT hash, codebook_id, version, title, added_at, active::int AS active FROM chartcode.codebooks"
            " ORDER BY added_at"
        )

    def compare_codebook(self, other: Codebook) -> list[Change]:
        return diff(self.codebook, other)

    def require_codebook(self, other: Codebook, shown: str) -> None:
        changes = self.compare_codebook(other)
        if changes:
            raise UserError(
                f"{shown}: differs from the codebook stored in {self.path} ({self.codebook.short_hash})",
                problems=[f"  {c}" for c in changes],
            )

    def add_codebook(self, codebook: Codebook, reason: str) -> bool:
        row = self._write(
            "SELECT chartcode.add_codebook(%s, %s, %s, %s, %s, %s, %s)",
            [
                codebook.hash,
                codebook.id,
                codebook.version,
                codebook.title,
                codebook.source,
                codebook.canonical_json(),
                reason,
            ],
        )
        return bool(row and row[0])

    # ------------------------------------------------------------------ coders
    def coders(self) -> list[dict[str, Any]]:
        return self._dicts("SELECT name, role, added_at FROM chartcode.coders WHERE active ORDER BY added_at, name")

    def require_coder(self, name: str) -> str:
        row = self._one("SELECT role FROM chartcode.coders WHERE name = %s AND active", [name])
        if row is None:
            raise UserError(
                f"coder {name!r} is not in this audit; an administrator adds one with"
                f" `chartcode coders add {self.path} {name} --role coder`"
            )
        return str(row[0])

    def viewer_is_lead(self, viewer: str | None) -> bool:
        row = self._one("SELECT chartcode.is_lead(%s)", [self._as_self(viewer)])
        return bool(row and row[0])

    # ------------------------------------------------------------------ records and notes
    def add_records(self, ids: Iterable[str], *, actor: str = "system") -> int:
        clean = []
        for rid in ids:
            rid = str(rid).strip()
            if not rid:
                raise UserError("record ids cannot be empty")
            clean.append(rid)
        row = self._write("SELECT chartcode.add_records(%s)", [list(dict.fromkeys(clean))])
        return int(row[0]) if row else 0

    def record_exists(self, record_id: str) -> bool:
        return self._one("SELECT 1 FROM chartcode.records WHERE id = %s", [record_id]) is not None

    def record_ids(self) -> list[str]:
        return [r[0] for r in self._rows('SELECT id FROM chartcode.records ORDER BY id COLLATE "C"')]

    def records_with_note_counts(self) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT r.id, count(n.id) AS notes FROM chartcode.records r LEFT JOIN chartcode.notes n"
            ' ON n.record_id = r.id GROUP BY r.id ORDER BY r.id COLLATE "C"'
        )

    def note(self, note_id: str) -> dict[str, Any] | None:
        rows = self._dicts(
            "SELECT id AS rowid, note_id, record_id, note_date, note_type, author, text FROM chartcode.notes"
            " WHERE note_id = %s",
            [note_id],
        )
        return rows[0] if rows else None

    def notes_for_record(self, record_id: str, *, with_text: bool = False) -> list[dict[str, Any]]:
        cols = "id AS rowid, note_id, record_id, note_date, note_type, author" + (", text" if with_text else "")
        return self._dicts(
            f"SELECT {cols} FROM chartcode.notes WHERE record_id = %s ORDER BY note_date IS NULL, note_date, id",
            [record_id],
        )

    def note_text(self, note_id: str) -> str:
        row = self._one("SELECT text FROM chartcode.notes WHERE note_id = %s", [note_id])
        return str(row[0]) if row else ""

    def note_target(self, note_id: str) -> tuple[str, str | None] | None:
        row = self._one("SELECT record_id, note_type FROM chartcode.notes WHERE note_id = %s", [note_id])
        return (row[0], row[1]) if row else None

    def import_targets(
        self, record_ids: Iterable[str], note_ids: Iterable[str]
    ) -> tuple[set[str], dict[str, tuple[str, str | None]]]:
        """Of these ids, the records that exist and (record_id, note_type) of the notes that exist
        (a batch of imported codes: two round trips instead of one per row)."""
        rows = self._rows("SELECT id FROM chartcode.records WHERE id = ANY(%s)", [list(dict.fromkeys(record_ids))])
        notes = self._rows(
            "SELECT note_id, record_id, note_type FROM chartcode.notes WHERE note_id = ANY(%s)",
            [list(dict.fromkeys(note_ids))],
        )
        return {r[0] for r in rows}, {n[0]: (n[1], n[2]) for n in notes}

    def note_rows(self) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT note_id, record_id, note_date, note_type FROM chartcode.notes"
            ' ORDER BY record_id COLLATE "C", note_date, id'
        )

    def search_notes(self, query: str, *, record_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Full-text search (tsvector + GIN) matching FTS5's: text split at every character that is not a
        letter or digit (unicode61), Porter stemming, no stop words; each word of ``query`` must match,
        a word with punctuation inside ("follow-up") as a phrase."""
        words = [w for w in query.replace('"', " ").split() if w]
        if not words:
            return []
        q = sql.SQL(" && ").join(
            sql.SQL("phraseto_tsquery('chartcode.notes', regexp_replace({}, '[^[:alnum:]]+', ' ', 'g'))").format(
                sql.Literal(w)
            )
            for w in words
        )
        query_sql = sql.SQL(
            "SELECT n.note_id, n.record_id, n.note_date, n.note_type,"
            " ts_headline('chartcode.notes', n.text, q.q,"
            " 'StartSel=[, StopSel=], MaxWords=12, MinWords=4, MaxFragments=1, FragmentDelimiter=\" ... \"')"
            " AS snippet FROM chartcode.notes n, (SELECT {} AS q) q WHERE n.tsv @@ q.q"
            " AND ({}::text IS NULL OR n.record_id = {}) ORDER BY ts_rank(n.tsv, q.q) DESC, n.id LIMIT {}"
        ).format(q, sql.Literal(record_id), sql.Literal(record_id), sql.Literal(limit))
        return self._dicts(query_sql)

    def write_imported_notes(
        self,
        file_name: str,
        shown: str,
        rows: Iterable[Any],
        sha: str | None,
        actor: str,
        result: Any,
        batch_size: int,
        on_phase: Callable[[str], None] | None = None,
    ) -> None:
        """Stream ``rows`` into the server as they are read (COPY into the import's staging table, so
        the server parses while the file is still being read), then store them in one statement;
        all in one transaction: a bad line, a reused note id or a lost connection leaves the audit
        as it was."""
        seen: dict[str, int] = {}
        conn = self._conn()
        try:
            with self._errors(), self._transaction(conn):
                conn.execute("SELECT chartcode.import_notes_stage()")
                with conn.cursor().copy(
                    "COPY pg_temp.import_in (line, record_id, note_id, note_date, note_type, author, text, sha)"
                    " FROM STDIN"
                ) as copy:
                    for r in rows:
                        if r.note_id in seen:
                            raise UserError(
                                f"{shown}:{r.line}: duplicate note_id {quote(r.note_id)}"
                                f" (first at line {seen[r.note_id]})"
                            )
                        seen[r.note_id] = r.line
                        copy.write_row(
                            (
                                r.line,
                                r.record_id,
                                r.note_id,
                                None if r.note_date is None else str(r.note_date),
                                r.note_type,
                                r.author,
                                r.text,
                                r.sha,
                            )
                        )
                result.rows += len(seen)
                if on_phase and seen:
                    on_phase(f"storing and indexing {len(seen)} notes for full-text search")
                try:
                    row = conn.execute(
                        "SELECT * FROM chartcode.import_notes_staged(%s, %s)", [file_name, sha]
                    ).fetchone()
                except psycopg.errors.InvalidParameterValue as exc:
                    reused = json.loads(exc.diag.message_detail or "null")
                    if not isinstance(reused, dict) or "note_id" not in reused:
                        raise
                    raise reused_note_id(shown, reused["line"], reused["note_id"], reused["import"]) from None
        except UserError as exc:
            if str(exc).startswith(shown):
                raise
            raise UserError(f"{shown}: {exc}") from None
        if row:
            result.new += row[0]
            result.unchanged += row[1]
            result.records_new += row[2]

    # ------------------------------------------------------------------ assignments
    def assign(self, coder: str, record_ids: Iterable[str], *, actor: str = "system", source: str = "manual") -> int:
        self.require_coder(coder)
        row = self._write("SELECT chartcode.assign(%s, %s, %s)", [coder, list(record_ids), source])
        return int(row[0]) if row else 0

    def assignments(self, coder: str) -> list[dict[str, Any]]:
        return self._dicts(
            "SELECT record_id, status, submitted_at, flagged::int AS flagged, flag_comment, assigned_at"
            ' FROM chartcode.visible_assignments WHERE coder = %s ORDER BY record_id COLLATE "C"',
            [coder],
        )

    def open_record_ids(self) -> list[str]:
        return [
            r[0] for r in self._rows("SELECT record_id FROM chartcode.visible_assignments WHERE submitted_at IS NULL")
        ]

    def is_assigned(self, coder: str, record_id: str) -> bool:
        return (
            self._one(
                "SELECT 1 FROM chartcode.visible_assignments WHERE coder = %s AND record_id = %s", [coder, record_id]
            )
            is not None
        )

    def assignment(self, coder: str, record_id: str) -> tuple[Any, ...] | None:
        row = self._one(
            "SELECT status, flagged::int, flag_comment, submitted_at FROM chartcode.visible_assignments"
            " WHERE coder = %s AND record_id = %s",
            [coder, record_id],
        )
        return tuple(row) if row else None

    def coder_progress(self, coder: str) -> tuple[int, int]:
        row = self._one(
            "SELECT count(*) FILTER (WHERE status = 'done'), count(*) FROM chartcode.visible_assignments"
            " WHERE coder = %s",
            [coder],
        )
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def next_unfinished(self, coder: str, after: str | None = None) -> str | None:
        row = self._one(
            "SELECT record_id FROM chartcode.visible_assignments WHERE coder = %s AND status <> 'done'"
            ' AND (%s::text IS NULL OR record_id COLLATE "C" > %s) ORDER BY record_id COLLATE "C" LIMIT 1',
            [coder, after, after],
        )
        return row[0] if row else None

    def neighbour_record(self, coder: str, record_id: str, step: int) -> str | None:
        op, order = (">", "ASC") if step > 0 else ("<", "DESC")
        row = self._one(
            f'SELECT record_id FROM chartcode.visible_assignments WHERE coder = %s AND record_id COLLATE "C" {op} %s'
            f' ORDER BY record_id COLLATE "C" {order} LIMIT 1',
            [coder, record_id],
        )
        return row[0] if row else None

    def first_assigned(self, coder: str) -> str | None:
        row = self._one(
            'SELECT min(record_id COLLATE "C") FROM chartcode.visible_assignments WHERE coder = %s', [coder]
        )
        return row[0] if row else None

    def _queue_where(self, coder: str, text: str, status: str) -> tuple[str, list[Any]]:
        where = "a.coder = %s"
        params: list[Any] = [coder]
        if text:
            where += " AND strpos(a.record_id, %s) > 0"
            params.append(text)
        if status == "todo":
            where += " AND a.status <> 'done'"
        elif status == "flagged":
            where += " AND a.flagged"
        elif status in ("not_started", "in_progress", "done"):
            where += " AND a.status = %s"
            params.append(status)
        return where, params

    def queue_count(self, coder: str, text: str = "", status: str = "all") -> int:
        where, params = self._queue_where(coder, text, status)
        row = self._one(f"SELECT count(*) FROM chartcode.visible_assignments a WHERE {where}", params)
        return int(row[0]) if row else 0

    def queue_page(
        self, coder: str, offset: int, limit: int, text: str = "", status: str = "all"
    ) -> list[tuple[str, str, int, int]]:
        where, params = self._queue_where(coder, text, status)
        rows = self._rows(
            "SELECT a.record_id, a.status, a.flagged::int,"
            " (SELECT count(*) FROM chartcode.notes n WHERE n.record_id = a.record_id)::int"
            f' FROM chartcode.visible_assignments a WHERE {where} ORDER BY a.record_id COLLATE "C"'
            " LIMIT %s OFFSET %s",
            [*params, limit, offset],
        )
        return [(r[0], r[1], r[2], r[3]) for r in rows]

    def queue_index(self, coder: str, record_id: str, text: str = "", status: str = "all") -> int | None:
        where, params = self._queue_where(coder, text, status)
        row = self._one(
            f"SELECT (SELECT count(*) FROM chartcode.visible_assignments a WHERE {where}"
            ' AND a.record_id COLLATE "C" < %s),'
            f" EXISTS(SELECT 1 FROM chartcode.visible_assignments a WHERE {where} AND a.record_id = %s)",
            [*params, record_id, *params, record_id],
        )
        return int(row[0]) if row and row[1] else None

    # ------------------------------------------------------------------ coding
    def _target(self, record_id: str, note_id: str | None, field_name: str) -> tuple[Field, str]:
        return targets.code_target(self.codebook, self.record_exists, self.note_target, record_id, note_id, field_name)

    def _parsed(self, record_id: str, note_id: str | None, field_name: str, value: Any) -> tuple[Field, str, Any]:
        fld, note_key = self._target(record_id, note_id, field_name)
        return fld, note_key, targets.parsed(fld, value)

    def set_code(
        self,
        coder: str,
        record_id: str,
        field_name: str,
        value: Any,
        *,
        note_id: str | None = None,
        reason: str | None = None,
        actor: str | None = None,
        action: str | None = None,
        expected_version: int | None = None,
    ) -> CodeChange:
        """Set (or clear) one of the login's own codes; with ``expected_version`` (the version the change
        was made against, :meth:`code_version`) a change to a code changed since is refused (StaleChange)."""
        coder = self._as_self(coder)
        if actor not in (None, coder):
            self._as_self(actor)
        fld, note_key, value = self._parsed(record_id, note_id, field_name, value)
        return self._set(coder, record_id, note_key, fld.name, value, reason, action, expected_version, None)

    def _set(
        self,
        coder: str,
        record_id: str,
        note_key: str,
        field: str,
        value: Any,
        reason: str | None,
        action: str | None,
        expected: int | None,
        memo: str | None,
    ) -> CodeChange:
        row = self._write(
            "SELECT * FROM chartcode.set_code(%s, %s, %s, %s, %s, %s, %s, %s)",
            [record_id, note_key, field, _j(value), expected, reason, memo, action],
        )
        assert row is not None  # the function always returns one row
        old, new, changed, hid, version, at = row
        return CodeChange(coder, record_id, note_key or None, field, old, new, bool(changed), hid, at, version)

    def code_version(self, coder: str, record_id: str, field_name: str, *, note_id: str | None = None) -> int:
        """The version of one of the login's codes (0 when never set): what a change is made against."""
        row = self._one(
            "SELECT version FROM chartcode.visible_codes WHERE coder = %s AND record_id = %s AND note_key = %s"
            " AND field = %s",
            [self._as_self(coder), record_id, note_id or "", field_name],
        )
        return int(row[0]) if row else 0

    def code_versions(self, coder: str, record_id: str) -> dict[tuple[str | None, str], int]:
        """(note_id or None, field) -> version of the login's codes on a record (a code not there is at 0)."""
        rows = self._rows(
            "SELECT note_key, field, version FROM chartcode.visible_codes WHERE coder = %s AND record_id = %s",
            [self._as_self(coder), record_id],
        )
        return {(r[0] or None, r[1]): int(r[2]) for r in rows}

    def set_memo(
        self, coder: str, record_id: str, field_name: str, memo: str | None, *, note_id: str | None = None
    ) -> bool:
        self._as_self(coder)
        fld, note_key = self._target(record_id, note_id, field_name)
        row = self._write(
            "SELECT chartcode.set_memo(%s, %s, %s, %s)", [record_id, note_key, fld.name, (memo or "").strip() or None]
        )
        return bool(row and row[0])

    def submit(self, coder: str, record_id: str, *, actor: str | None = None, reason: str | None = None) -> None:
        self._as_self(coder)
        self._as_self(actor)
        refuse_incomplete(coder, record_id, self.missing_required(coder, record_id))
        self._write("SELECT chartcode.submit(%s, %s)", [record_id, reason])

    def missing_required(self, coder: str, record_id: str) -> list[tuple[str | None, Field]]:
        """The required codes the login has not entered on the record (Codebook.missing_required)."""
        notes = [(n["note_id"], n["note_type"]) for n in self.notes_for_record(record_id)]
        values = {(k or None, f): v for k, f, v, _memo in self.own_codes(coder, record_id) if v is not None}
        return self.codebook.missing_required(notes, values)

    def set_consensus(
        self, record_id: str, field_name: str, value: Any, *, reason: str, decided_by: str, note_id: str | None = None
    ) -> CodeChange:
        decided_by = self._as_self(decided_by)
        if not (reason or "").strip():
            raise UserError("a consensus value needs a reason")
        fld, note_key, value = self._parsed(record_id, note_id, field_name, value)
        row = self._write(
            "SELECT * FROM chartcode.set_consensus(%s, %s, %s, %s, %s)",
            [record_id, note_key, fld.name, _j(value), reason.strip()],
        )
        assert row is not None
        old, changed, hid, at = row
        return CodeChange(decided_by, record_id, note_key or None, fld.name, old, value, bool(changed), hid, at)

    def flag(self, coder: str, record_id: str, comment: str | None, *, flagged: bool = True) -> None:
        self._as_self(coder)
        self._write("SELECT chartcode.flag(%s, %s, %s)", [record_id, (comment or "").strip() or None, flagged])

    def save_position(self, coder: str, record_id: str | None, note_id: str | None, field: str | None) -> None:
        self._as_self(coder)
        self._write("SELECT chartcode.save_position(%s, %s, %s)", [record_id, note_id, field])

    def position(self, coder: str) -> tuple[str | None, str | None, str | None] | None:
        row = self._one(
            "SELECT record_id, note_id, field FROM chartcode.positions WHERE coder = %s", [self._as_self(coder)]
        )
        return (row[0], row[1], row[2]) if row else None

    def own_codes(self, coder: str, record_id: str) -> list[tuple[Any, ...]]:
        return self._rows(
            "SELECT note_key, field, value, memo FROM chartcode.visible_codes WHERE coder = %s AND record_id = %s",
            [self._as_self(coder), record_id],
        )

    def write_imported_codes(
        self,
        coder: str,
        batches: Iterable[list[Any]],
        records: Callable[[], Iterable[str]],
        *,
        actor: str,
        reason: str,
        draft: bool,
    ) -> Any:
        """The login's own codes from a file, one transaction: for each batch assign its records and set
        its codes, then submit each of ``records()`` that is complete (unless ``draft``); an exception
        from ``batches`` (a bad row) rolls all of it back (see Store.write_imported_codes)."""
        from chartcode.store.imports import CodesWritten

        coder = self._as_self(coder)
        self._as_self(actor)
        out = CodesWritten()
        conn = self._conn()
        with self._errors(), self._transaction(conn):
            for batch in batches:
                conn.execute(
                    "SELECT chartcode.assign(%s, %s, 'import')",
                    [coder, list(dict.fromkeys(c.record_id for c in batch))],
                )
                for c in batch:
                    change = self._set(
                        coder, c.record_id, c.note_key, c.field.name, c.value, reason, None, None, c.memo
                    )
                    if change.changed:
                        out.changed += 1
                    else:
                        out.unchanged += 1
            if not draft:
                for rid in records():
                    if self.missing_required(coder, rid):
                        out.drafts += 1  # only a whole record is submitted (and so unblinded)
                        continue
                    row = conn.execute("SELECT chartcode.submit(%s, %s)", [rid, reason]).fetchone()
                    if row and row[0]:
                        out.submitted += 1
        return out

    # ------------------------------------------------------------------ reading codes (through the rule)
    def codes(self, *, coder: str | None = None, record_id: str | None = None) -> Iterator[dict[str, Any]]:
        """Current codes the login may see, with their labels, in a stable order."""
        cb = self.codebook
        where, params = "", []
        for col, val in (("coder", coder), ("record_id", record_id)):
            if val is not None:
                where += f" AND {col} = %s"
                params.append(val)
        rows = self._dicts(
            "SELECT coder, record_id, note_key, field, value, memo, submitted_at, updated_at"
            f" FROM chartcode.visible_codes WHERE value IS NOT NULL{where}"
            ' ORDER BY coder COLLATE "C", record_id COLLATE "C", note_key COLLATE "C", field COLLATE "C"',
            params,
        )
        for row in rows:
            fld = cb.get(row["field"])
            yield {
                "coder": row["coder"],
                "record_id": row["record_id"],
                "note_id": row["note_key"] or None,
                "field": row["field"],
                "value": row["value"],
                "label": fld.label_for(row["value"]) if fld else "",
                "memo": row["memo"],
                "submitted": row["submitted_at"] is not None,
                "updated_at": row["updated_at"],
            }

    def visible_codes(
        self, viewer: str | None = None, *, coder: str | None = None, record_id: str | None = None
    ) -> Iterator[dict[str, Any]]:
        self._as_self(viewer)
        return self.codes(coder=coder, record_id=record_id)

    def hidden_count(self, viewer: str | None = None) -> int:
        self._as_self(viewer)
        row = self._one("SELECT chartcode.hidden_count()")
        return int(row[0]) if row else 0

    def visible_code_rows(self, viewer: str | None = None) -> list[tuple[Any, ...]]:
        self._as_self(viewer)
        return self._rows(
            "SELECT coder, record_id, note_key, field, value, memo, submitted_at, submitted_value, updated_at"
            " FROM chartcode.visible_codes WHERE value IS NOT NULL"
            ' ORDER BY coder COLLATE "C", record_id COLLATE "C", note_key COLLATE "C", field COLLATE "C"'
        )

    def history(
        self, *, coder: str | None = None, record_id: str | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        where, params = "", []
        for col, val in (("coder", coder), ("record_id", record_id)):
            if val is not None:
                where += f" AND {col} = %s"
                params.append(val)
        q = (
            "SELECT id, at, actor, action, coder, record_id, note_id, field, old_value, new_value, reason"
            f" FROM chartcode.visible_history WHERE true{where} ORDER BY id"
        )
        if limit:
            q = f"SELECT * FROM ({q.replace('ORDER BY id', 'ORDER BY id DESC')} LIMIT {int(limit)}) h ORDER BY id"
        return self._dicts(q, params)

    def visible_history(
        self,
        viewer: str | None = None,
        *,
        coder: str | None = None,
        record_id: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        self._as_self(viewer)
        return self.history(coder=coder, record_id=record_id, limit=limit)

    def history_head(self) -> tuple[int, str]:
        row = self._one("SELECT last_id, hash FROM chartcode.chain_head")
        return (int(row[0]), str(row[1])) if row else (0, "")

    # ------------------------------------------------------------------ shared reads (agreement, final values)
    _SHARED = (
        "c.submitted_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM chartcode.visible_assignments oa"
        " WHERE oa.record_id = c.record_id AND oa.submitted_at IS NULL)"
    )

    def shared_submitted_codes(self, *, field: str | None = None) -> list[tuple[Any, ...]]:
        q = (
            "SELECT c.record_id, c.note_key, c.field, c.coder, c.submitted_value, c.memo FROM chartcode.visible_codes c"
            f" WHERE c.submitted_value IS NOT NULL AND {self._SHARED}"
        )
        params: list[Any] = []
        if field:
            q += " AND c.field = %s"
            params.append(field)
        q += ' ORDER BY c.record_id COLLATE "C", c.note_key COLLATE "C", c.field COLLATE "C", c.coder COLLATE "C"'
        return self._rows(q, params)

    def consensus_units(self) -> list[tuple[Any, ...]]:
        return self._rows("SELECT record_id, note_key, field, value, reason FROM chartcode.consensus")

    def consensus_reasons(self, record_id: str) -> dict[str, str]:
        return {
            r[0]: r[1]
            for r in self._rows(
                "SELECT field, reason FROM chartcode.consensus WHERE record_id = %s AND note_key = ''", [record_id]
            )
        }

    def disagreement_units(self) -> list[tuple[Any, ...]]:
        return self._rows(
            f"""WITH eligible AS (
                SELECT c.record_id, c.note_key, c.field, c.submitted_value AS v FROM chartcode.visible_codes c
                WHERE c.submitted_value IS NOT NULL AND {self._SHARED}),
            agg AS (SELECT record_id, note_key, field FROM eligible GROUP BY record_id, note_key, field
                HAVING count(*) >= 2 AND count(DISTINCT v) > 1)
            SELECT agg.record_id, agg.note_key, agg.field, cs.value, cs.reason
            FROM agg LEFT JOIN chartcode.consensus cs
              ON cs.record_id = agg.record_id AND cs.note_key = agg.note_key AND cs.field = agg.field
            ORDER BY agg.record_id COLLATE "C", agg.note_key COLLATE "C", agg.field COLLATE "C\""""
        )

    def unit_submitted_values(self, record_id: str, note_key: str, field: str) -> list[tuple[Any, ...]]:
        return self._rows(
            "SELECT coder, submitted_value, memo FROM chartcode.visible_codes c WHERE record_id = %s AND note_key = %s"
            f' AND field = %s AND submitted_value IS NOT NULL AND {self._SHARED} ORDER BY coder COLLATE "C"',
            [record_id, note_key, field],
        )

    def counts(self) -> dict[str, Any]:
        def one(q: str, params: Iterable[Any] = ()) -> Any:
            row = self._one(q, params)
            return row[0] if row else 0

        progress = []
        for c in self.coders():
            a = self._one(
                "SELECT count(*), count(*) FILTER (WHERE status = 'done'), count(*) FILTER (WHERE flagged)"
                " FROM chartcode.visible_assignments WHERE coder = %s",
                [c["name"]],
            )
            assert a is not None
            n = one("SELECT count(*) FROM chartcode.visible_codes WHERE coder = %s AND value IS NOT NULL", [c["name"]])
            progress.append(
                {"name": c["name"], "role": c["role"], "assigned": a[0], "done": a[1], "flagged": a[2], "codes": n}
            )
        return {
            "records": one("SELECT count(*) FROM chartcode.records"),
            "notes": one("SELECT count(*) FROM chartcode.notes"),
            "codes": one("SELECT count(*) FROM chartcode.visible_codes WHERE value IS NOT NULL"),
            "coders": [c["name"] for c in progress],
            "coder_progress": progress,
            "consensus": one("SELECT count(*) FROM chartcode.consensus"),
            "history": one("SELECT count(*) FROM chartcode.visible_history"),
            "codebook": {"id": self.codebook.id, "version": self.codebook.version, "hash": self.codebook.hash},
        }

    # ------------------------------------------------------------------ the dataset, fidelity and sampling reads
    def submitted_code_rows(self, fields: list[str], coders: list[str]) -> list[tuple[Any, ...]]:
        """(field, record_id, note_key or None, coder, submitted_value) of the submitted codes on records
        every assigned coder has submitted, as the login may see them (the blinding view), in id order;
        field and coder as their position in ``fields`` / ``coders`` (the name itself when not there)."""
        fpos = {f: i for i, f in enumerate(fields)}
        cpos = {c: i for i, c in enumerate(coders)}
        rows = self._rows(
            "SELECT c.field, c.record_id, nullif(c.note_key, ''), c.coder, c.submitted_value"
            f" FROM chartcode.visible_codes c WHERE c.submitted_value IS NOT NULL AND {self._SHARED} ORDER BY c.id"
        )
        return [(fpos.get(f, f), r, n, cpos.get(c, c), v) for f, r, n, c, v in rows]

    def submitted_code_chunks(
        self, fields: list[str], coders: list[str], size: int = 50_000
    ) -> Iterator[list[tuple[Any, ...]]]:
        """The rows of :meth:`submitted_code_rows`, ``size`` at a time (the file store reads them so)."""
        rows = self.submitted_code_rows(fields, coders)
        for start in range(0, len(rows), size):
            yield rows[start : start + size]

    def submitted_memo_rows(self, record_ids: list[str]) -> Iterator[tuple[Any, ...]]:
        """(record_id, note_key, field, coder, memo) of the submitted codes on ``record_ids`` with a memo."""
        for start in range(0, len(record_ids), 5000):
            yield from self._rows(
                "SELECT record_id, note_key, field, coder, memo FROM chartcode.visible_codes"
                " WHERE record_id = ANY(%s) AND submitted_at IS NOT NULL AND submitted_value IS NOT NULL"
                " AND memo IS NOT NULL AND memo <> ''",
                [record_ids[start : start + 5000]],
            )

    def submitted_record_values(self, field: str, *, coder: str | None = None) -> list[tuple[Any, ...]]:
        """(record_id, submitted_value) of a record-level field's submitted codes the login may see."""
        return self._rows(
            "SELECT record_id, submitted_value FROM chartcode.visible_codes WHERE field = %s AND note_key = ''"
            " AND submitted_at IS NOT NULL AND (%s::text IS NULL OR coder = %s)",
            [field, coder, coder],
        )

    def shared_record_ratings(self) -> list[tuple[Any, ...]]:
        """(record_id, coder, field, submitted_value) of the shared record-level submitted codes."""
        return self._rows(
            "SELECT c.record_id, c.coder, c.field, c.submitted_value FROM chartcode.visible_codes c"
            f" WHERE c.note_key = '' AND {self._SHARED}"
        )

    def submitted_memos(self, record_id: str) -> list[tuple[Any, ...]]:
        """(field, coder, memo) of a record's shared submitted record-level codes that carry a memo."""
        return self._rows(
            "SELECT c.field, c.coder, c.memo FROM chartcode.visible_codes c WHERE c.record_id = %s"
            f" AND c.note_key = '' AND {self._SHARED} AND c.memo IS NOT NULL AND c.memo <> ''"
            ' ORDER BY c.field COLLATE "C", c.coder COLLATE "C"',
            [record_id],
        )

    def final_rows(self) -> list[tuple[Any, ...]]:
        """(record_id, note_key, field, n_coders, min value, max value, consensus value) per shared unit
        (jsonb has a total order, so min and max are the ends of the sorted values)."""
        return self._rows(
            f"""WITH agg AS (
                SELECT c.record_id, c.note_key, c.field, count(*) AS n,
                    (array_agg(c.submitted_value ORDER BY c.submitted_value))[1] AS lo,
                    (array_agg(c.submitted_value ORDER BY c.submitted_value DESC))[1] AS hi
                FROM chartcode.visible_codes c WHERE c.submitted_value IS NOT NULL AND {self._SHARED}
                GROUP BY c.record_id, c.note_key, c.field)
            SELECT agg.record_id, agg.note_key, agg.field, agg.n, agg.lo, agg.hi, cs.value
            FROM agg LEFT JOIN chartcode.consensus cs
              ON cs.record_id = agg.record_id AND cs.note_key = agg.note_key AND cs.field = agg.field
            ORDER BY agg.record_id COLLATE "C", agg.note_key COLLATE "C", agg.field COLLATE "C\""""
        )

    def add_unit_period(self, unit: str, period: str, *, actor: str = "system") -> str:
        """The record for rating ``unit`` in ``period`` ("unit @ period"; created if new, by a lead)."""
        from chartcode.store.store import UNIT_SEP

        unit, period = str(unit).strip(), str(period).strip()
        if not unit or not period:
            raise UserError("a rated unit needs a unit name and a period (e.g. --unit 'Team A' --period 2025-H1)")
        if UNIT_SEP.strip() in unit or UNIT_SEP.strip() in period:
            raise UserError(f"unit and period names cannot contain {UNIT_SEP.strip()!r}")
        rid = f"{unit}{UNIT_SEP}{period}"
        if not self.record_exists(rid):
            self.add_records([rid])
        return rid

    def unit_periods(self) -> list[dict[str, Any]]:
        """Every record as a rated unit: record_id, unit, period, ordered by unit then period."""
        rows = self._rows("SELECT id, unit, period FROM chartcode.records")
        out = [{"record_id": r, "unit": u if u is not None else r, "period": p or ""} for r, u, p in rows]
        return sorted(out, key=lambda x: (x["unit"], x["period"]))

    def unit_period(self, record_id: str) -> tuple[str | None, str | None] | None:
        row = self._one("SELECT unit, period FROM chartcode.records WHERE id = %s", [record_id])
        return (row[0], row[1]) if row else None

    # ------------------------------------------------------------------ codebook versions
    def _stored_codes(self, field: str, code: int | str | None = None) -> int:
        """How many codes (that the login may see) and consensus values are stored for ``field``."""
        cond = "field = %s" if code is None else "field = %s AND value = %s"
        args: list[Any] = [field] if code is None else [field, Jsonb(code)]
        row = self._one(
            f"SELECT (SELECT count(*) FROM chartcode.visible_codes WHERE {cond})"
            f" + (SELECT count(*) FROM chartcode.consensus WHERE {cond})",
            args + args,
        )
        return int(row[0]) if row else 0

    def upgrade_codebook(self, new: Codebook, *, actor: str, accept_review: bool = False) -> list[Change]:
        """As Store.upgrade_codebook (the same refusals), written by the server's add_codebook (leads)."""
        from chartcode.store.store import upgrade_refusal

        self._as_self(actor)
        changes = self.compare_codebook(new)
        if not changes:
            return []
        refusal = upgrade_refusal(changes, self._stored_codes, accept_review)
        if refusal is not None:
            raise refusal
        self.add_codebook(new, f"codebook upgraded to {new.id} {new.version}")
        return changes

    # ------------------------------------------------------------------ checking the history
    def verify(self, head: str | None = None) -> Any:
        """The hash chain recomputed by the server (chartcode.verify_chain), then, for a lead (who sees
        every value), the codes and consensus values replayed from the history as on a file."""
        import re

        from chartcode.store import verify as checks
        from chartcode.store.chain import GENESIS

        if head is not None and not re.fullmatch(r"[0-9a-fA-F]{8,64}", head):
            raise UserError(f"--head {head}: a chain head is 8 to 64 hexadecimal characters")
        chain = self._rows("SELECT id, ok, in_order, hash FROM chartcode.verify_chain()")
        n, last = self.history_head()
        out = checks.Verification(len(chain), last if chain else GENESIS)
        want = head.lower() if head else None
        if want:
            out.head_checked = want
        prev = 0
        for hid, ok, _in_order, hash_ in chain:
            if hid != prev + 1:
                out.problems.append(
                    checks.Problem(
                        f"history entry {hid}: comes after entry {prev}; entries {prev + 1}..{hid - 1} are missing",
                        history_id=hid,
                    )
                )
            if not ok:
                out.problems.append(
                    checks.Problem(
                        f"history entry {hid}: its hash does not match its contents and the entry before it"
                        " (the entry was changed, or one before it removed or inserted)",
                        history_id=hid,
                    )
                )
            if want and hash_.startswith(want) and out.head_entry is None:
                out.head_entry = hid
            prev = hid
        if chain and n != chain[-1][0]:
            out.problems.append(
                checks.Problem(f"history: the chain head names entry {n}, the last entry is {chain[-1][0]}")
            )
        if want and out.head_entry is None:
            out.problems.append(
                checks.Problem(
                    f"history: the chain no longer contains head {want}: entries were removed or the history"
                    " rewritten since that head was published"
                )
            )
        if self.viewer_is_lead(None):
            self._replay_into(out)
        else:
            out.replay_skipped = "only a lead sees every value, so only a lead's verify replays the codes"
        return out

    def _replay_into(self, out: Any) -> None:
        from chartcode.store import verify as checks
        from chartcode.store.chain import COLUMNS

        cols = ", ".join(COLUMNS)
        rows = self._dicts(f"SELECT {cols} FROM chartcode.visible_history ORDER BY id")
        codes, units = checks._replay(rows, out)
        table_codes = {
            (r[0], r[1], r[2], r[3]): dict(zip(checks.CODE_COLUMNS, r[4:], strict=True))
            for r in self._rows(
                f"SELECT coder, record_id, note_key, field, {', '.join(checks.CODE_COLUMNS)}"
                " FROM chartcode.visible_codes"
            )
        }
        for key in sorted(table_codes.keys() | codes.keys()):
            coder, record_id, note_key, fld = key
            where = {"record_id": record_id, "note_id": note_key or None, "field": fld, "coder": coder}
            problem = checks._compare(
                f"code {checks._code_name(key)}", table_codes.get(key), codes.get(key), checks.CODE_COLUMNS, where
            )
            if problem:
                out.problems.append(problem)
        table_units = {
            (r[0], r[1], r[2]): dict(zip(checks.CONSENSUS_COLUMNS, r[3:], strict=True))
            for r in self._rows(
                f"SELECT record_id, note_key, field, {', '.join(checks.CONSENSUS_COLUMNS)} FROM chartcode.consensus"
            )
        }
        for unit in sorted(table_units.keys() | units.keys()):
            record_id, note_key, fld = unit
            where = {"record_id": record_id, "note_id": note_key or None, "field": fld, "coder": None}
            problem = checks._compare(
                checks._unit_name(unit), table_units.get(unit), units.get(unit), checks.CONSENSUS_COLUMNS, where
            )
            if problem:
                out.problems.append(problem)

    # ------------------------------------------------------------------ not on the server yet
    def __getattr__(self, name: str) -> Any:
        """A Store method the server backend does not have yet: one clear line (exit 2), not a traceback."""
        if name.startswith("_"):
            raise AttributeError(name)
        raise UserError(
            f"{pgconnect.redacted(self.url)}: this command is not available on a team server yet ({name});"
            " use an audit file for it"
        )
