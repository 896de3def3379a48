"""The team-server backend: one audit in a PostgreSQL database, a login role per person.

Identity is the connection (``current_user``); blinding, the append-only history and who may
do what are enforced by PostgreSQL itself (chartcode.store.pg.schema)."""

from chartcode.store.api import StaleChange
from chartcode.store.pg.connect import is_url, redacted
from chartcode.store.pg.store import PgStore

__all__ = ["PgStore", "StaleChange", "is_url", "redacted"]
