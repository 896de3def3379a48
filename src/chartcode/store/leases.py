"""Who has a coder's coding screen open: one lease row per coder, kept alive by a heartbeat.

A second window for the same coder finds a live lease and says so (the screen then opens
read-only or, after the coder confirms, takes the lease over; the first window sees its lease
gone at its next heartbeat and turns read-only). A window that was killed stops beating: after
``STALE_SECONDS`` its lease is stale and the next window takes it without asking. Sooner on the
same machine: a lease whose window's process is gone (same host name, no process of that pid) is
stale at once, so reopening right after a crash or kill -9 does not ask. Two windows therefore never
both write for one coder without being told (a window whose lease was taken turns read-only at
its next heartbeat, so even a wrong "gone" -- another machine of the same host name whose
processes this one cannot see -- costs that window its writes, never a code).

A lease is bookkeeping, not a coding action: its writes are not flushed to disk one by one
(``durable=False``), so taking it and each heartbeat cost the UI thread no fsync. A power cut may
lose the last of them, which leaves a lease that went stale or none: the next window takes it.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from chartcode.store.connection import Database

STALE_SECONDS = 30.0  # a lease not renewed for this long belongs to a window that is gone
HEARTBEAT_SECONDS = 10.0  # how often a window renews its lease


@dataclass(frozen=True)
class Lease:
    coder: str
    holder: str
    host: str
    pid: int
    started_at: str
    heartbeat_at: str


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _gone(host: str, pid: int) -> bool:
    """Whether the window that holds a lease has certainly ended: it ran on this machine and no
    process has its pid now. A pid in use again by another process reads as not gone (the lease
    then waits out STALE_SECONDS, as for a window on another machine)."""
    if os.name != "posix" or host != socket.gethostname() or pid <= 0:
        return False  # (on Windows os.kill would end the process)
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # PermissionError: it exists, another user's
        pass
    return False


def _iso(t: dt.datetime) -> str:
    return t.isoformat(timespec="microseconds").replace("+00:00", "Z")


class ScreenLeases:
    if TYPE_CHECKING:  # Store, which these methods are mixed into, defines them

        @property
        def _db(self) -> Database: ...
        def _write(self, *, durable: bool = True) -> AbstractContextManager[Database]: ...

    def acquire_lease(
        self, coder: str, holder: str, *, take_over: bool = False, stale_seconds: float = STALE_SECONDS
    ) -> Lease | None:
        """Take ``coder``'s lease for ``holder`` (a window's id). Returns None when taken; returns the
        live lease of another window (and takes nothing) unless ``take_over``."""
        now = _now()
        with self._write(durable=False) as db:
            row = db.conn.execute(
                "SELECT coder, holder, host, pid, started_at, heartbeat_at FROM screen_leases WHERE coder = ?", [coder]
            ).fetchone()
            if row is not None and row[1] != holder and not take_over:
                beat = dt.datetime.fromisoformat(row[5].replace("Z", "+00:00"))
                if (now - beat).total_seconds() < stale_seconds and not _gone(row[2], row[3]):
                    return Lease(*row)
            db.conn.execute(
                "INSERT OR REPLACE INTO screen_leases(coder, holder, host, pid, started_at, heartbeat_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                [coder, holder, socket.gethostname(), os.getpid(), _iso(now), _iso(now)],
            )
        return None

    def renew_lease(self, coder: str, holder: str) -> bool:
        """The heartbeat: False when the lease is no longer this window's (another took it over)."""
        with self._write(durable=False) as db:
            cur = db.conn.execute(
                "UPDATE screen_leases SET heartbeat_at = ? WHERE coder = ? AND holder = ?",
                [_iso(_now()), coder, holder],
            )
            return cur.rowcount == 1

    def release_lease(self, coder: str, holder: str) -> None:
        with self._write(durable=False) as db:
            db.conn.execute("DELETE FROM screen_leases WHERE coder = ? AND holder = ?", [coder, holder])

    def lease(self, coder: str) -> Lease | None:
        row = self._db.execute(
            "SELECT coder, holder, host, pid, started_at, heartbeat_at FROM screen_leases WHERE coder = ?", [coder]
        ).fetchone()
        return Lease(*row) if row else None
