"""chartcode.forked: a computation in a forked child gives exactly the function's value here, and
whatever goes wrong in the child (an error, a kill, a value that does not pickle, no safe fork),
the function runs here instead, with its own error; the child touches nothing of this process's
(no flushed buffer, no closed database) and never outlives the block that started it."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time

import pytest

from chartcode import forked
from chartcode.forked import Forked

needs_fork = pytest.mark.skipif(not forked.can_fork(), reason="needs os.fork and two CPUs")


def _pid() -> int:
    return os.getpid()


@needs_fork
def test_the_value_is_computed_in_a_child_and_returned_here():
    with Forked(_pid) as child:
        assert child.forked
        assert child.result() not in (os.getpid(), None)


@needs_fork
def test_a_result_larger_than_a_pipe_comes_back_whole():
    blob = os.urandom(8 << 20)  # 8 MB: many times a pipe's buffer

    with Forked(lambda: blob[::-1]) as child:
        assert child.result() == blob[::-1]


@needs_fork
def test_an_error_in_the_child_is_raised_here_by_the_function_itself():
    calls = []

    def boom():
        calls.append(os.getpid())
        raise ValueError("no such model")

    with Forked(boom) as child, pytest.raises(ValueError, match="no such model"):
        child.result()
    assert calls == [os.getpid()]  # this process's list: the child's call left no trace here


@needs_fork
def test_a_killed_child_leaves_the_work_to_this_process():
    parent = os.getpid()

    def dies_in_child():
        if os.getpid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
        return "made here"

    with Forked(dies_in_child) as child:
        assert child.forked
        assert child.result() == "made here"


@needs_fork
def test_a_value_that_cannot_be_pickled_is_made_here():
    parent = os.getpid()

    def made():
        return (lambda: os.getpid() == parent) if os.getpid() != parent else "here"

    with Forked(made) as child:
        assert child.result() == "here"


def test_no_child_while_other_threads_run():
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with Forked(_pid) as child:
            assert not child.forked
            assert child.result() == os.getpid()
    finally:
        stop.set()
        other.join()


def test_run_false_makes_no_child():
    with Forked(_pid, run=False) as child:
        assert not child.forked
        assert child.result() == os.getpid()


@needs_fork
def test_leaving_the_block_early_kills_and_reaps_the_child():
    started = time.monotonic()
    with pytest.raises(RuntimeError), Forked(time.sleep, 60) as child:
        pid = child._child[0]  # type: ignore[index]
        raise RuntimeError("the export failed meanwhile")
    assert time.monotonic() - started < 10
    with pytest.raises(ChildProcessError):  # reaped: no zombie left for this process to wait for
        os.waitpid(pid, os.WNOHANG)


@needs_fork
def test_the_child_flushes_no_buffer_of_this_process(tmp_path):
    path = tmp_path / "out.txt"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("written once\n")  # still in this process's buffer at the fork
        with Forked(_pid) as child:
            child.result()
    assert path.read_text(encoding="utf-8") == "written once\n"


@needs_fork
def test_a_database_open_here_is_untouched_by_the_child(tmp_path):
    db = tmp_path / "a.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.execute("INSERT INTO t VALUES (1)")
    wal = db.with_name("a.db-wal")
    assert wal.exists()
    with Forked(lambda: 42) as child:
        assert child.result() == 42
    assert wal.exists()  # no connection closed in the child checkpointed or removed it
    conn.execute("INSERT INTO t VALUES (2)")
    assert conn.execute("SELECT count(*) FROM t").fetchone() == (2,)
    conn.close()
