"""The audit database. Never imports Textual; safe from worker threads.

:func:`open_store` picks the backend from the target: a file path opens the SQLite audit
(:class:`Store`), a ``postgresql://`` URL the team server (:class:`PgStore`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from chartcode.store.api import AuditStore, StaleChange
from chartcode.store.faults import ConnectionLost
from chartcode.store.leases import HEARTBEAT_SECONDS
from chartcode.store.store import CodeChange, Store, utcnow

if TYPE_CHECKING:
    from chartcode.store.pg import PgStore

__all__ = [
    "HEARTBEAT_SECONDS",
    "AuditStore",
    "CodeChange",
    "ConnectionLost",
    "PgStore",
    "StaleChange",
    "Store",
    "is_server",
    "open_store",
    "utcnow",
]


def is_server(target: object) -> bool:
    """True for a PostgreSQL URL (postgresql://... or postgres://...)."""
    return str(target).startswith(("postgresql://", "postgres://"))


def open_store(target: str | Path) -> Any:
    """The audit at ``target``: a Store for a file path, a PgStore for a PostgreSQL URL."""
    if is_server(target):
        from chartcode.store.pg import PgStore

        return PgStore.open(str(target))
    return Store.open(target)


def __getattr__(name: str) -> Any:  # PgStore loads psycopg only when asked for
    if name == "PgStore":
        from chartcode.store import pg

        return getattr(pg, name)
    raise AttributeError(name)
