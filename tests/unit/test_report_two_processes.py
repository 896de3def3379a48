"""The report's read of the record spans is shared with a second chartcode process on a machine with a
second CPU (chartcode.report.spans._SpanChild): the data and the page are those one process reads;
both processes read the same state of the database (their snapshots are opened while the write lock
is held); and whatever goes wrong with the second process -- it cannot open the audit, it reads other
spans, it dies midway, the lock is busy -- this process reads those spans itself.

Audits: random conjoint-pain audits (branching logic, a double-coded sample, consensus values, an
open record; tests/unit/test_report_spans.py), the every-type audit of test_export_blocks and the
branching-logic audit, spans of 3 records."""

from __future__ import annotations

import sqlite3

import pytest

from chartcode.export import stream
from chartcode.report import spans as report_spans
from chartcode.report.spans import read_spans
from tests.unit.test_report_spans import (  # noqa: F401 - the audits' fixtures
    _pages,
    _ratings_equal,
    audit_store,
    random_audit,
    store,
)

pytestmark = pytest.mark.skipif(not stream._second_cpu(2), reason="the second process needs a second CPU")

SIZE = 3


@pytest.fixture(autouse=True)
def _patient(monkeypatch):
    """A loaded machine can take more than the production waits to start an interpreter: these tests
    are about what the second process reads, not about how fast it starts."""
    monkeypatch.setattr(stream, "START_WAIT_S", 300.0)
    monkeypatch.setattr(stream, "GO_WAIT_S", 60.0)


class _Spy:
    """Counts the second processes started and the spans they delivered (with ``cls``'s behaviour)."""

    def __init__(self, monkeypatch, cls=None):
        self.made = 0
        self.delivered: list[int] = []
        base = cls or report_spans._SpanChild
        spy = self

        class Counted(base):  # type: ignore[misc, valid-type]
            def __init__(self, *a, **kw):
                spy.made += 1
                super().__init__(*a, **kw)

            def part(self, index, part_ids):
                got = super().part(index, part_ids)
                if got is not None:
                    spy.delivered.append(index)
                return got

        monkeypatch.setattr(report_spans, "_SpanChild", Counted)


def _same(got, want) -> None:
    """Two reads give the same report data (ratings, counts, frames, open units, notes)."""
    import pandas as pd

    _ratings_equal(got.ratings, want.ratings)
    assert got.distributions == want.distributions
    assert (got.n_open, got.notes) == (want.n_open, want.notes)
    assert [(u.record_id, u.note_id, u.field, u.values, u.memos, u.kind) for u in got.open_units] == [
        (u.record_id, u.note_id, u.field, u.values, u.memos, u.kind) for u in want.open_units
    ]
    assert (got.analysis is None) == (want.analysis is None)
    if want.analysis is not None:
        pd.testing.assert_frame_equal(got.analysis[0], want.analysis[0])
        assert got.analysis[1] == want.analysis[1]


@pytest.mark.parametrize("audit", ["conjoint-1", "conjoint-2", "store", "branching"])
def test_the_second_process_reads_every_odd_span_and_the_data_are_one_processs(audit_store, audit, monkeypatch):  # noqa: F811
    s = audit_store
    want = read_spans(s, keep=5, size=SIZE, child=False)
    spy = _Spy(monkeypatch)
    got = read_spans(s, keep=5, size=SIZE, child=True)
    assert want is not None and got is not None
    _same(got, want)
    n_spans = len(list(stream.spans(s.record_ids(), SIZE)))
    assert n_spans >= 3
    assert spy.made == 1 and spy.delivered == list(range(1, n_spans, 2))


def test_the_page_is_the_one_made_in_one_process(tmp_path, monkeypatch):
    from chartcode.report import build as report_build

    s = random_audit(tmp_path / "page.db", 2, n=20)
    try:
        want = _pages(s, monkeypatch, "md", SIZE)
        monkeypatch.setattr(report_spans, "CHILD_MIN_RECORDS", 0)  # the report starts one of itself
        monkeypatch.setattr(report_spans, "SPAN_RECORDS", SIZE)
        monkeypatch.setattr(report_build, "read_spans", read_spans)
        spy = _Spy(monkeypatch)
        got = report_build.build_report(s, fmt="md", bootstrap=50, seed=3)
    finally:
        s.close()
    assert got == want
    assert spy.made == 1 and spy.delivered == list(range(1, len(list(stream.spans(list(range(20)), SIZE))), 2))


def test_its_files_are_private_and_go_with_it(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "files.db", 3, n=12)
    modes: list[tuple[int, int]] = []
    folders = []

    class Looking(report_spans._SpanChild):
        def take(self, index):
            said = super().take(index)
            folders.append(self.folder)
            if said is not None:
                path = self.folder / f"{index}.pickle"
                modes.append((self.folder.stat().st_mode & 0o777, path.stat().st_mode & 0o777))
            return said

    spy = _Spy(monkeypatch, Looking)
    try:
        assert read_spans(s, keep=5, size=SIZE, child=True) is not None
    finally:
        s.close()
    assert spy.delivered and modes and set(modes) == {(0o700, 0o600)}
    assert folders[0].parent == tmp_path  # beside the audit, not in a shared folder
    assert not folders[0].exists()  # its private folder went with it


def _writer_gets_in(path) -> str:
    other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        return str(exc)
    else:
        other.execute("ROLLBACK")
        return "a writer got in"
    finally:
        other.close()


def test_both_snapshots_are_opened_while_no_commit_can_land(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "lock.db", 4, n=12)
    tried: list[str] = []

    class Probing(report_spans._SpanChild):
        def waiting(self):  # the child's start-up: writers are not held up by it
            ok = super().waiting()
            tried.append(_writer_gets_in(s.path))
            return ok

        def go(self):  # the round trip that opens the child's snapshot: no writer gets in
            ok = super().go()
            tried.append(_writer_gets_in(s.path))
            return ok

    monkeypatch.setattr(report_spans, "_SpanChild", Probing)
    try:
        want = read_spans(s, keep=5, size=SIZE, child=False)
        got = read_spans(s, keep=5, size=SIZE, child=True)
        assert tried == ["a writer got in", "database is locked"]
        assert _writer_gets_in(s.path) == "a writer got in"  # and the lock is let go
        _same(got, want)
    finally:
        s.close()


def test_a_commit_after_the_snapshots_opened_is_in_neither(tmp_path, monkeypatch):
    """A coder's save lands while the spans are read: neither process's spans see it."""
    s = random_audit(tmp_path / "commit.db", 5, n=15)
    try:
        want = read_spans(s, keep=50, size=SIZE, child=False)
        ids = s.record_ids()
        late = ids[-1]  # in the last span, read after the commit
        new = s.codebook.field("sex").codes[-1]

        class Late(report_spans._SpanChild):
            def part(self, index, part_ids):
                if index == 1:  # a writer of its own (another coder's window), in autocommit
                    other = sqlite3.connect(s.path, isolation_level=None)
                    try:
                        for rid in (ids[4], late):  # spans 1 (the child's, read by now) and the last
                            other.execute(
                                "UPDATE codes SET submitted_value = ?, value = ? WHERE record_id = ? AND field = 'sex'",
                                [new, new, rid],
                            )
                    finally:
                        other.close()
                return super().part(index, part_ids)

        spy = _Spy(monkeypatch, Late)
        got = read_spans(s, keep=50, size=SIZE, child=True)
        assert spy.delivered
        _same(got, want)
        after = read_spans(s, keep=50, size=SIZE, child=False)  # the commit did land, after the snapshots
        assert after is not None and after.distributions["sex"] != want.distributions["sex"]
    finally:
        s.close()


def test_a_second_process_that_cannot_open_the_audit_leaves_the_spans_to_this_one(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "broken.db", 6, n=12)

    class Broken(report_spans._SpanChild):
        def __init__(self, path, size, keep):
            super().__init__(tmp_path / "no-such.db", size, keep)

    spy = _Spy(monkeypatch, Broken)
    try:
        _same(read_spans(s, keep=5, size=SIZE, child=True), read_spans(s, keep=5, size=SIZE, child=False))
    finally:
        s.close()
    assert spy.made == 1 and spy.delivered == []


def test_a_second_process_that_reads_other_spans_is_stopped_and_not_used(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "skewed.db", 7, n=15)

    class Skewed(report_spans._SpanChild):  # its spans hold 2 records where this process's hold 3
        def __init__(self, path, size, keep):
            super().__init__(path, 2, keep)
            self.size = size

    spy = _Spy(monkeypatch, Skewed)
    try:
        _same(read_spans(s, keep=5, size=SIZE, child=True), read_spans(s, keep=5, size=SIZE, child=False))
    finally:
        s.close()
    assert spy.made == 1 and spy.delivered == []


def test_a_second_process_that_dies_midway_leaves_the_rest_to_this_one(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "dying.db", 8, n=18)

    class Dying(report_spans._SpanChild):
        def take(self, index):
            if index == 3:
                self._proc.kill()
                self._proc.wait()
                self._proc.stdout.read()  # whatever it said before dying is dropped with it
            return super().take(index)

    spy = _Spy(monkeypatch, Dying)
    try:
        _same(read_spans(s, keep=5, size=SIZE, child=True), read_spans(s, keep=5, size=SIZE, child=False))
    finally:
        s.close()
    assert spy.delivered == [1]


def test_no_span_from_a_second_process_while_another_writer_holds_the_lock(tmp_path, monkeypatch):
    s = random_audit(tmp_path / "busy.db", 9, n=12)
    monkeypatch.setattr(stream, "LOCK_WAIT_S", 0.1)
    want = read_spans(s, keep=5, size=SIZE, child=False)
    spy = _Spy(monkeypatch)
    other = sqlite3.connect(s.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        got = read_spans(s, keep=5, size=SIZE, child=True)
    finally:
        other.execute("ROLLBACK")
        other.close()
        s.close()
    _same(got, want)
    assert spy.made == 1 and spy.delivered == []  # started, then stopped: no lock, no shared snapshot


def test_a_small_audit_reads_in_one_process(tmp_path, monkeypatch):
    """Below CHILD_MIN_RECORDS records the second process's start costs more than its spans."""
    s = random_audit(tmp_path / "small.db", 10, n=12)
    spy = _Spy(monkeypatch)
    try:
        assert report_spans.start_child(s, keep=5, size=SIZE) is None
        assert read_spans(s, keep=5, size=SIZE) is not None
    finally:
        s.close()
    assert spy.made == 0
