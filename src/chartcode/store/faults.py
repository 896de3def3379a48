"""Faults of the connection to a team server, kept free of the driver so that the shells can
recognise them without loading it."""

from __future__ import annotations

from chartcode.errors import UserError


class ConnectionLost(UserError):
    """The server could not be reached, or the connection to it was lost, and what was being done was
    rolled back (or, for a COMMIT whose reply never came, may have been committed). Nothing is
    retried here: a caller that retries a write sends it inside ``PgStore.request(key)`` with the
    same key, so a write the server did commit is not applied twice."""
