"""Connecting to a team server: libpq's own URL and environment conventions (PGHOST, PGUSER,
PGPASSFILE, ~/.pgpass, sslmode) through psycopg, and one clear line for each way it can fail."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import conninfo

from chartcode.errors import UserError
from chartcode.store.faults import ConnectionLost

SCHEMES = ("postgresql://", "postgres://")


def is_url(target: object) -> bool:
    return str(target).startswith(SCHEMES)


def parts(url: str) -> dict[str, Any]:
    try:
        return conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        raise UserError(f"{redacted(url)}: not a valid PostgreSQL URL") from None


def redacted(url: str) -> str:
    """The URL without its password, for messages (libpq defaults filled in where the URL leaves them out)."""
    try:
        p = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        head, _, tail = url.partition("@")
        return f"{head.split(':', 1)[0]}://...@{tail}" if tail else "postgresql://..."
    user = str(p.get("user") or "")
    host = str(p.get("host") or "")
    port = p.get("port")
    where = f"{host}:{port}" if port else host
    return f"postgresql://{user + '@' if user else ''}{where}/{p.get('dbname') or ''}"


def dbname(url: str) -> str:
    """The database the URL names (libpq's default, the user name, when it names none)."""
    p = parts(url)
    name = p.get("dbname") or p.get("user")
    if not name:
        with connect(url) as conn:
            name = conn.info.dbname
    return str(name)


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A connection, or a UserError saying in one line why there is none (never the password): a
    ConnectionLost when the server is out of reach or not accepting connections for now (down,
    restarting), which a writer may wait out; a plain UserError when trying again cannot help
    (wrong password, no such role or database)."""
    shown = redacted(url)
    try:
        return psycopg.connect(url, connect_timeout=10, application_name="chartcode", **kwargs)
    except psycopg.OperationalError as exc:
        error = ConnectionLost if unavailable(exc) else UserError
        raise error(f"{shown}: {explain(exc)}") from None


# libpq's words for a server that is not there (yet) or not accepting connections for now
_UNAVAILABLE = (
    "connection refused",
    "could not connect",
    "timeout expired",
    "no route to host",
    "server closed the connection unexpectedly",
    "the database system is starting up",
    "the database system is shutting down",
    "the database system is in recovery mode",
    "the database system is not yet accepting connections",
)


def unavailable(exc: BaseException) -> bool:
    """A failure to connect that may pass by itself (as opposed to a refusal of these credentials)."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate and exc.sqlstate.startswith(("08", "57P")):
        return True
    low = str(exc).lower()
    return any(words in low for words in _UNAVAILABLE)


def explain(exc: BaseException) -> str:
    text = str(exc)
    low = text.lower()
    if "the database system is" in low:
        return "the server is starting up or shutting down (try again in a moment)"
    if "password authentication failed" in low or "no password supplied" in low:
        return (
            "wrong or missing password for this role, or no such role on the server"
            " (give the password in ~/.pgpass, PGPASSFILE or the URL; an administrator adds a role"
            " with `chartcode coders add`)"
        )
    if "role" in low and "does not exist" in low:
        return "no such role on the server (an administrator adds you with `chartcode coders add`)"
    if "database" in low and "does not exist" in low:
        return "no such database on the server (an administrator creates it with `chartcode server init`)"
    if "permission denied for database" in low or "not permitted to log in" in low:
        return "this role may not log in to this audit (disabled, or not a coder of it)"
    if "connection refused" in low or "could not connect" in low or "timeout" in low or "no route" in low:
        return "cannot reach the server (is PostgreSQL running there, and the host and port right?)"
    if "ssl" in low:
        return "the server's SSL settings refused the connection (check sslmode)"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"cannot connect: {first}"
