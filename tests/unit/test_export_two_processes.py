"""The streamed csv export shares its record spans with a second chartcode process on a machine with
a second CPU (chartcode.export.stream._Child): the files are byte for byte those one process writes;
both processes read the same state of the database (their snapshots are opened while the write lock
is held); and whatever goes wrong with the second process -- it cannot open the audit, it makes other
spans than this one's, the lock is busy -- this process makes those spans itself.

Audit: the demo with a double-coded sample (tests/unit/test_export_stream.py's fixture), spans of 5
records (5 spans), plain and de-identified."""

from __future__ import annotations

import sqlite3

import pytest

from chartcode.export import stream
from tests.unit.test_export_stream import _streamed, _whole, demo  # noqa: F401 - the demo audit fixture

pytestmark = pytest.mark.skipif(not stream._second_cpu(2), reason="the second process needs a second CPU")


class _Spy:
    """Counts the spans the second process delivered (and lets a test swap the class's behaviour)."""

    def __init__(self, monkeypatch, cls=None):
        self.made = 0
        self.delivered: list[int] = []
        base = cls or stream._Child
        spy = self

        class Counted(base):  # type: ignore[misc, valid-type]
            def __init__(self, *a, **kw):
                spy.made += 1
                super().__init__(*a, **kw)

            def take(self, index):
                said = super().take(index)
                if said is not None:
                    spy.delivered.append(index)
                return said

        monkeypatch.setattr(stream, "_Child", Counted)


@pytest.mark.parametrize("deidentify", [False, True])
def test_the_second_process_makes_every_odd_span_and_the_files_are_one_processs(
    demo,  # noqa: F811
    tmp_path,
    monkeypatch,
    deidentify,
):
    want = _whole(demo, tmp_path / "whole", deidentify=deidentify)
    spy = _Spy(monkeypatch)
    got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5, deidentify=deidentify)
    assert streamed and got == want
    n_spans = len(list(stream.spans(sorted(demo.record_ids()), size=5)))
    assert spy.made == 1
    assert spy.delivered == list(range(1, n_spans, 2))
    leftovers = [p.name for p in (tmp_path / "two").iterdir()]
    assert sorted(leftovers) == ["out.csv", "out_notes.csv"]  # its private folder went with it


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


def test_both_snapshots_are_opened_while_no_commit_can_land(demo, tmp_path, monkeypatch):  # noqa: F811
    tried: list[str] = []

    class Probing(stream._Child):
        def waiting(self):  # the child's start-up: writers are not held up by it
            ok = super().waiting()
            tried.append(_writer_gets_in(demo.path))
            return ok

        def go(self):  # the round trip that opens the child's snapshot: no writer gets in
            ok = super().go()
            tried.append(_writer_gets_in(demo.path))
            return ok

    monkeypatch.setattr(stream, "_Child", Probing)
    want = _whole(demo, tmp_path / "whole")
    got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5)
    assert streamed and got == want
    assert tried == ["a writer got in", "database is locked"]
    assert _writer_gets_in(demo.path) == "a writer got in"  # and the lock is let go


def test_a_second_process_that_cannot_open_the_audit_leaves_the_spans_to_this_one(demo, tmp_path, monkeypatch):  # noqa: F811
    class Broken(stream._Child):
        def __init__(self, data, path, folder_parent):
            super().__init__(data, tmp_path / "no-such.db", folder_parent)

    spy = _Spy(monkeypatch, Broken)
    want = _whole(demo, tmp_path / "whole")
    got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5)
    assert streamed and got == want
    assert spy.made == 1 and spy.delivered == []


def test_a_second_process_that_makes_other_spans_is_stopped_and_not_copied(demo, tmp_path, monkeypatch):  # noqa: F811
    class Skewed(stream._Child):  # its spans hold 3 records where this process's hold 5
        def __init__(self, *a, **kw):
            monkeypatch.setattr(stream, "SPAN_RECORDS", 3)
            try:
                super().__init__(*a, **kw)
            finally:
                monkeypatch.setattr(stream, "SPAN_RECORDS", 5)

    spy = _Spy(monkeypatch, Skewed)
    want = _whole(demo, tmp_path / "whole")
    got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5)
    assert streamed and got == want
    assert spy.made == 1 and spy.delivered == [1]  # delivered, then refused: another span's records


def test_a_second_process_that_dies_midway_leaves_the_rest_to_this_one(demo, tmp_path, monkeypatch):  # noqa: F811
    class Dying(stream._Child):
        def take(self, index):
            if index == 3:
                self._proc.kill()
                self._proc.wait()
                self._proc.stdout.read()  # whatever it said before dying is dropped with it
            return super().take(index)

    spy = _Spy(monkeypatch, Dying)
    want = _whole(demo, tmp_path / "whole")
    got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5)
    assert streamed and got == want
    assert spy.delivered == [1]


def test_no_span_from_a_second_process_while_another_writer_holds_the_lock(demo, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(stream, "LOCK_WAIT_S", 0.1)
    spy = _Spy(monkeypatch)
    want = _whole(demo, tmp_path / "whole")
    other = sqlite3.connect(demo.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    try:
        got, streamed = _streamed(demo, tmp_path / "two", monkeypatch, 5)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert streamed and got == want
    assert spy.delivered == []  # started, then stopped: no lock, no shared snapshot
