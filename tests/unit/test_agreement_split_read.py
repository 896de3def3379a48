"""Agreement's read of a large audit on two CPUs (issue 16): the store scans the upper half of the codes
on a second connection, on the same snapshot, and the codes whose value is not an integer come from
that one scan too; the read's sort-free array helpers give what ``np.unique`` gives.

Fail on main (written for this change): the split tests (``packed_codes`` has no ``split``), the
one-scan test (main scanned the codes a second time for values that are not integers) and the helper
tests (the helpers are new)."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from chartcode.agreement.collect import _collect_frame
from chartcode.agreement.read import _distinct_rows, _unique_below, collect_packed
from chartcode.store import dataset_queries
from tests.unit.test_agreement_read import _random_store, _same


def _fields_coders(s):
    return [f.name for f in s.codebook.fields], [c["name"] for c in s.coders()]


@pytest.mark.parametrize("seed", range(3))
def test_the_split_read_gives_the_single_reads_strings(tmp_path, monkeypatch, seed):
    monkeypatch.setattr(dataset_queries, "SPLIT_MIN_CODES", 0)  # split even a small audit
    s = _random_store(tmp_path / "p.db", seed)
    try:
        names, coders = _fields_coders(s)
        threads = []
        real = dataset_queries._UpperHalf._run
        monkeypatch.setattr(
            dataset_queries._UpperHalf, "_run", lambda self, half: threads.append(half) or real(self, half)
        )
        whole = s.packed_codes(names, coders)
        split = s.packed_codes(names, coders, split=True)
        assert len(threads) == 1  # the upper half was read by the second connection
        assert split == whole
        assert whole.other  # the random audit has text and real values: read as rows
    finally:
        s.close()


def test_the_split_read_gives_the_frame_reads_ratings(tmp_path, monkeypatch):
    monkeypatch.setattr(dataset_queries, "SPLIT_MIN_CODES", 0)
    monkeypatch.setattr("chartcode.agreement.read._second_cpu", lambda: True)
    s = _random_store(tmp_path / "p.db", 7)
    try:
        fields = list(s.codebook.fields)
        got = collect_packed(s, fields)
        assert got is not None
        _same(got, _collect_frame(s, fields))
    finally:
        s.close()


def test_a_held_write_lock_leaves_the_read_to_one_connection(tmp_path, monkeypatch):
    """Another writer holding the lock past the wait: no second snapshot (it could see a later
    commit), one scan on this connection, the same strings."""
    monkeypatch.setattr(dataset_queries, "SPLIT_MIN_CODES", 0)
    monkeypatch.setattr(dataset_queries, "SPLIT_LOCK_WAIT_S", 0.05)
    s = _random_store(tmp_path / "p.db", 1)
    writer = sqlite3.connect(s.path, isolation_level=None)
    try:
        names, coders = _fields_coders(s)
        whole = s.packed_codes(names, coders)
        threads = []
        monkeypatch.setattr(dataset_queries._UpperHalf, "_run", lambda self, half: threads.append(half))
        writer.execute("BEGIN IMMEDIATE")
        assert s.packed_codes(names, coders, split=True) == whole
        assert threads == []
    finally:
        writer.close()
        s.close()


def test_a_commit_after_the_snapshots_open_is_seen_by_neither_half(tmp_path, monkeypatch):
    """Both halves read the state of the moment the read began, whatever commits while they scan."""
    monkeypatch.setattr(dataset_queries, "SPLIT_MIN_CODES", 0)
    s = _random_store(tmp_path / "p.db", 2)
    try:
        names, coders = _fields_coders(s)
        before = s.packed_codes(names, coders)
        real = dataset_queries._UpperHalf._run

        def late_commit(self, half):  # once the second snapshot is open (it waits for the lock)
            self.opened.wait()
            w = sqlite3.connect(s.path, isolation_level=None, timeout=10)
            w.execute("UPDATE codes SET submitted_value = 1, submitted_at = 'later' WHERE submitted_value IS NULL")
            w.close()

        def run(self, half):
            import threading

            t = threading.Thread(target=late_commit, args=(self, half))
            t.start()
            real(self, half)
            t.join()

        monkeypatch.setattr(dataset_queries._UpperHalf, "_run", run)
        assert s.packed_codes(names, coders, split=True) == before
        assert s.packed_codes(names, coders) != before  # the commit did land
    finally:
        s.close()


def test_an_audit_of_integer_codes_is_scanned_once(tmp_path):
    s = _random_store(tmp_path / "p.db", 3)
    try:
        with s._write() as db:
            db.conn.execute(
                "UPDATE codes SET submitted_value = 1 WHERE typeof(submitted_value) NOT IN ('integer', 'null')"
            )
        names, coders = _fields_coders(s)
        scans: list[str] = []
        s._db.conn.set_trace_callback(lambda sql: scans.append(sql) if "FROM codes WHERE" in sql else None)
        packed = s.packed_codes(names, coders)
        s._db.conn.set_trace_callback(None)
        assert len(scans) == 1
        assert packed.other == []
        fields = list(s.codebook.fields)
        _same(collect_packed(s, fields), _collect_frame(s, fields))
    finally:
        s.close()


def test_the_split_finds_its_middle_id_without_scanning_the_codes(tmp_path, monkeypatch):
    """The bounds of the id range are read before the halves start, serially: a query that scans the
    codes for them (min() and max() in one SELECT) costs what a third of the read does."""
    monkeypatch.setattr(dataset_queries, "SPLIT_MIN_CODES", 0)
    s = _random_store(tmp_path / "p.db", 4)
    try:
        names, coders = _fields_coders(s)
        statements: list[str] = []
        s._db.conn.set_trace_callback(statements.append)
        s.packed_codes(names, coders, split=True)
        s._db.conn.set_trace_callback(None)
        bounds = [sql for sql in statements if "min(id)" in sql and "group_concat" not in sql]
        assert bounds
        for sql in bounds:
            plan = " | ".join(row[-1] for row in s._db.conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
            assert "SCAN codes" not in plan, plan
    finally:
        s.close()


@pytest.mark.parametrize("seed", range(20))
def test_the_sort_free_helpers_give_what_np_unique_gives(seed):
    rng = np.random.default_rng(seed)
    size = int(rng.integers(1, 50))
    a = rng.integers(0, size, size=int(rng.integers(0, 300)))
    got, inverse = _unique_below(a, size)
    want, want_inverse = np.unique(a, return_inverse=True)
    assert np.array_equal(got, want) and np.array_equal(inverse, want_inverse.ravel())
    # rows: the same first rows and the same grouping (the distinct rows may come in another order)
    table = rng.integers(-1, int(rng.integers(1, 6)), size=(int(rng.integers(1, 200)), int(rng.integers(1, 4))))
    if seed % 5 == 0:
        table[:, 0] *= 2**40  # too wide for one integer per row: np.unique's rows
    first, which = _distinct_rows(table)
    _, want_first, want_which = np.unique(table, axis=0, return_index=True, return_inverse=True)
    assert sorted(first.tolist()) == sorted(want_first.tolist())
    assert np.array_equal(table[first][which], table)
    assert len(np.unique(which)) == len(want_first)
