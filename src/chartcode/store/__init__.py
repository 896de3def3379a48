"""The audit database. Never imports Textual; safe from worker threads.

:func:`open_store` picks the backend from the target: a file path opens the SQLite audit
(:class:`Store`), a ``postgresql://`` URL the team server (:class:`PgStore`)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any


def _import_sqlite_utils_without_pandas() -> None:
    """Import sqlite_utils once, before any store module does, with pandas and numpy hidden.

    sqlite_utils.db imports pandas and numpy whenever they are installed (0.4 s), only to map their
    scalar types to column types when it infers a table from Python values. The store writes every
    table and statement in SQL, so that mapping is never used, and `chartcode status` need not pay
    for it. A module already imported (a caller using pandas) is left alone."""
    if "sqlite_utils.db" in sys.modules:
        return
    hidden = [name for name in ("pandas", "numpy") if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # type: ignore[assignment]  # import of it raises ImportError
    try:
        import sqlite_utils.db  # noqa: F401
    finally:
        for name in hidden:
            if sys.modules.get(name, "") is None:
                del sys.modules[name]


_import_sqlite_utils_without_pandas()

from chartcode.store.api import AuditStore, StaleChange  # noqa: E402
from chartcode.store.faults import ConnectionLost  # noqa: E402
from chartcode.store.leases import HEARTBEAT_SECONDS  # noqa: E402
from chartcode.store.store import CodeChange, Store, utcnow  # noqa: E402

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
