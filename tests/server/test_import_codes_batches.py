"""import-codes in batches on both backends: a file read in many batches is written in one transaction,
so a bad row met while writing (the file changed after it was checked) leaves nothing behind, and a
good one lands whole with each record assigned once."""

from __future__ import annotations

from pathlib import Path

import pytest

from chartcode.errors import UserError
from chartcode.importers import codes as codes_mod
from chartcode.importers.codes import import_codes
from tests.server import test_backends
from tests.server.test_backends import Backend

backend = test_backends.backend  # the two-backend fixture: an audit file and a team server

ROWS = "record_id,note_id,field,value\n" + "".join(
    f"{rid},,{field},{value}\n" for rid in ("R1", "R2", "R3") for field, value in (("age", 40), ("sex", 2))
)


@pytest.fixture(autouse=True)
def two_rows_a_batch(monkeypatch):
    monkeypatch.setattr(codes_mod, "BATCH", 2, raising=False)


def _seen(store, me):
    return len(store.visible_history(me, coder=me)), sorted((c["record_id"], c["field"]) for c in store.codes(coder=me))


def test_a_row_gone_bad_after_the_check_rolls_back_every_batch_written(backend: Backend, tmp_path: Path, monkeypatch):
    me = backend.names["intern"]
    path = tmp_path / "codes.csv"
    path.write_text(ROWS)
    made = []

    class ChangedAfterCheck(codes_mod.CodeKeys):
        def __init__(self) -> None:
            super().__init__()
            made.append(self)
            if len(made) == 2:  # the write pass begins: the file gets a bad last line
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("R1,,no_such_field,1\n")

    monkeypatch.setattr(codes_mod, "CodeKeys", ChangedAfterCheck)
    with backend.open("intern") as store:
        before = _seen(store, me)
        with pytest.raises(UserError, match=r"codes\.csv:8: unknown field 'no_such_field'"):
            import_codes(store, path, me, draft=True)
    with backend.open("intern") as store:
        assert _seen(store, me) == before  # three batches had been written: none of them stayed


def test_a_file_of_many_batches_lands_whole(backend: Backend, tmp_path: Path):
    me = backend.names["intern"]
    path = tmp_path / "codes.csv"
    path.write_text(ROWS)
    with backend.open("intern") as store:
        got = import_codes(store, path, me, draft=True)
        assert (got.rows, got.changed, got.records) == (6, 6, 3)
        assert _seen(store, me)[1] == [(r, f) for r in ("R1", "R2", "R3") for f in ("age", "sex")]
