"""Another program holding an audit's write lock: a real second SQLite connection, in its own
process, inside ``BEGIN IMMEDIATE`` with a row inserted (as `sqlite3 DB` then `BEGIN IMMEDIATE;
INSERT ...` would). It rolls back, so the audit is left as it was."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

HOLDER = textwrap.dedent("""
    import sqlite3, sys, time
    conn = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO meta(key, value) VALUES ('held-by-another-program', 'x')")
    print("held", flush=True)
    seconds = float(sys.argv[2])
    if seconds < 0:
        sys.stdin.readline()   # until told to let go
    else:
        time.sleep(seconds)
    conn.execute("ROLLBACK")
    print("released", flush=True)
""")


class Holder:
    def __init__(self, proc: subprocess.Popen):
        self.proc = proc

    def release(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.write("go\n")
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)


@contextlib.contextmanager
def write_lock_held(db: Path, seconds: float = -1) -> Iterator[Holder]:
    """Hold ``db``'s write lock for ``seconds`` (from the moment it is held), or until
    ``release()`` when seconds is negative."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db), str(seconds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    holder = Holder(proc)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == "held", f"lock holder did not start: {line!r}"
        yield holder
    finally:
        if seconds < 0:
            holder.release()
        proc.wait(timeout=60)
