"""Every file chartcode writes is owner-only (0600) and appears atomically (chartcode.files).

Each output kind is written by the real CLI under ``umask 000``; writers that fail midway leave
no target and no temporary file; an older target (0644) is replaced only on success; and an
export killed with SIGKILL mid-write never leaves a truncated ``--out``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chartcode.cli import cli as _cli_group
from chartcode.cli.reviews import reviews as _reviews
from chartcode.demo import build_demo
from chartcode.demo_fidelity import build_fidelity_demo
from chartcode.export import writers
from chartcode.files import atomic_path, atomic_write, atomic_write_bytes, atomic_write_text
from tests.cli.test_reviews_cli import AS_OF, review_db  # noqa: F401 - the fixture, reused

if "reviews" not in _cli_group.commands:
    _cli_group.add_command(_reviews)

ROOT = Path(__file__).resolve().parents[2]


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


@pytest.fixture
def umask0():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture(scope="module")
def demo_master(tmp_path_factory):
    return build_demo(tmp_path_factory.mktemp("demo"), complete=True)


@pytest.fixture
def demo_db(tmp_path, demo_master):
    path = tmp_path / "demo.db"
    shutil.copy(demo_master, path)
    return path


# ---- the helper ------------------------------------------------------------------------------


def test_helper_writes_0600_under_umask_0_and_replaces_a_0644_file(tmp_path, umask0):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o644)
    atomic_write_text(target, "new")
    assert target.read_text() == "new" and mode(target) == 0o600
    atomic_write_bytes(tmp_path / "b.bin", b"\x00\x01")
    with atomic_write(tmp_path / "c.csv", "w", newline="") as fh:
        fh.write("a\r\n")
    with atomic_path(tmp_path / "d.bin") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".d.bin.") and mode(tmp) == 0o600
        tmp.write_bytes(b"x")
    assert (tmp_path / "c.csv").read_bytes() == b"a\r\n" and (tmp_path / "d.bin").read_bytes() == b"x"
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == dict.fromkeys(["out.txt", "b.bin", "c.csv", "d.bin"], 0o600)


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_helper_failing_midway_leaves_no_target_and_no_temp_file(tmp_path, exc):
    with pytest.raises(type(exc)), atomic_write(tmp_path / "out.bin") as fh:
        fh.write(b"x" * 100_000)
        raise exc
    with pytest.raises(type(exc)), atomic_path(tmp_path / "out.sav") as tmp:
        tmp.write_bytes(b"partial")
        raise exc
    assert list(tmp_path.iterdir()) == []


def test_helper_failure_leaves_an_older_target_as_it_was(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    os.chmod(target, 0o644)
    with pytest.raises(RuntimeError), atomic_write(target, "w") as fh:
        fh.write("new, half written")
        raise RuntimeError
    assert target.read_text() == "old" and mode(target) == 0o644 and leftovers(tmp_path) == []


def test_a_missing_folder_is_an_oserror_and_leaves_nothing(tmp_path):
    with pytest.raises(FileNotFoundError), atomic_write(tmp_path / "no" / "out.csv"):
        pass
    assert list(tmp_path.iterdir()) == []


# ---- every output kind, through the real CLI, under umask 000 --------------------------------

EXPORTS = [
    ("csv", False, ["final.csv", "final_notes.csv"]),
    ("xlsx", False, ["final.xlsx"]),
    ("sav", False, ["final.sav", "final_notes.sav"]),
    ("dta", False, ["final.dta", "final_notes.dta"]),
    ("json", False, ["final.json"]),
    ("redcap", False, ["final.csv"]),
    ("csv", True, ["final.csv"]),
    ("xlsx", True, ["final.xlsx"]),
    ("json", True, ["final.json"]),
]


@pytest.mark.parametrize("fmt,long_,names", EXPORTS, ids=[f"{f}{'-long' if lg else ''}" for f, lg, _ in EXPORTS])
def test_exports_are_0600(cli, demo_db, tmp_path, umask0, fmt, long_, names):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    suffix = "csv" if fmt == "redcap" else fmt
    r = cli("export", demo_db, "--format", fmt, "--out", out_dir / f"final.{suffix}", *(["--long"] if long_ else []))
    assert r.code == 0, r.err
    assert {p.name: mode(p) for p in out_dir.iterdir()} == dict.fromkeys(names, 0o600)


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_reports_are_0600(cli, demo_db, tmp_path, umask0, fmt):
    out = tmp_path / f"report.{fmt}"
    r = cli("report", demo_db, "--out", out, "--bootstrap", "5")
    assert r.code == 0, r.err
    assert mode(out) == 0o600 and out.stat().st_size > 0 and leftovers(tmp_path) == []


def test_codebook_exports_and_import_redcap_are_0600(cli, tmp_path, umask0):
    for fmt, name in (("redcap", "dict.csv"), ("qdc", "codebook.qdc")):
        r = cli("codebook", "export", "conjoint-pain", "--format", fmt, "--out", tmp_path / name)
        assert r.code == 0, r.err
    r = cli("codebook", "import-redcap", tmp_path / "dict.csv", "--out", tmp_path / "imported.yaml")
    assert r.code == 0, r.err
    assert {p.name: mode(p) for p in tmp_path.iterdir()} == dict.fromkeys(
        ["dict.csv", "codebook.qdc", "imported.yaml"], 0o600
    )


def test_fidelity_csv_is_0600(cli, tmp_path, umask0):
    db = build_fidelity_demo(tmp_path / "demo")
    r = cli("fidelity", db, "--csv", tmp_path / "scores.csv")
    assert r.code == 0, r.err
    assert mode(tmp_path / "scores.csv") == 0o600 and leftovers(tmp_path) == []


def test_reviews_csv_is_0600(cli, review_db, tmp_path, umask0):  # noqa: F811 - the imported fixture
    out = tmp_path / "reviews-out.csv"
    r = cli("reviews", review_db, "--as-of", AS_OF, "--csv", out)
    assert r.code == 0, r.err
    assert mode(out) == 0o600 and leftovers(tmp_path) == []


@pytest.mark.parametrize("audit", ["conjoint-pain", "ibbis-fidelity"])
def test_demo_folder_files_are_0600(cli, tmp_path, umask0, audit):
    folder = tmp_path / "demo"
    r = cli("demo", "--dir", folder, "--no-tui", "--audit", audit)
    assert r.code == 0, r.err
    assert mode(folder) == 0o700
    files = list(folder.iterdir())
    assert files and all(mode(p) == 0o600 for p in files), {p.name: oct(mode(p)) for p in files}


def test_demo_notes_and_codes_csvs_are_written_0600(tmp_path, umask0, monkeypatch):
    """The demo's input CSVs (fictional notes) live in a private temporary folder; they are 0600 too."""
    import chartcode.demo as demo

    seen = {}
    real = demo.import_notes

    def spy(store, path, *a, **k):
        seen[Path(path).name] = mode(Path(path))
        return real(store, path, *a, **k)

    monkeypatch.setattr(demo, "import_notes", spy)
    build_demo(tmp_path / "demo")
    assert seen == {"demo-notes.csv": 0o600}


# ---- failure midway: no target, no temp file; an older target stays as it was ---------------


class _Boom(OSError):
    def __init__(self):
        super().__init__(28, "No space left on device")


def _fail_json(monkeypatch):
    import json

    class FailingJson:
        @staticmethod
        def dump(doc, fh, **kw):
            fh.write('{"records": [' + " " * 50_000)
            raise _Boom()

    monkeypatch.setattr(writers, "json", FailingJson)
    return json


def _fail_stat(monkeypatch):
    import pyreadstat

    def write_sav(df, path, **kw):
        Path(path).write_bytes(b"$FL2" + b"\0" * 10_000)
        raise _Boom()

    monkeypatch.setattr(pyreadstat, "write_sav", write_sav)


def _fail_xlsx(monkeypatch):
    import chartcode.export.xlsx as xlsx

    real = xlsx.Sheet.add

    def add(sheet, df, *args, **kw):  # the first sheet's rows are written, then the disk is full
        real(sheet, df, *args, **kw)
        raise _Boom()

    monkeypatch.setattr(xlsx.Sheet, "add", add)


def _fail_csv(monkeypatch):
    import pandas as pd

    def to_csv(self, fh, **kw):
        fh.write("record_id\n" * 1000)
        raise _Boom()

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    import chartcode.export.stream as stream  # the streamed export writes its rows without to_csv

    monkeypatch.setattr(stream, "_write_rows", lambda frame, fh, **kw: to_csv(frame, fh))


FAILURES = [
    ("json", "final.json", _fail_json),
    ("sav", "final.sav", _fail_stat),
    ("xlsx", "final.xlsx", _fail_xlsx),
    ("csv", "final.csv", _fail_csv),
]


@pytest.mark.parametrize("fmt,name,fail", FAILURES, ids=[f[0] for f in FAILURES])
def test_export_failing_midway_leaves_no_file(cli, demo_db, tmp_path, monkeypatch, fmt, name, fail):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    fail(monkeypatch)
    r = cli("export", demo_db, "--format", fmt, "--out", out_dir / name)
    assert r.code == 2 and "cannot write" in r.err and "No space left" in r.err, r.err
    assert list(out_dir.iterdir()) == []


def test_an_older_target_is_replaced_only_on_success(cli, demo_db, tmp_path, monkeypatch):
    out = tmp_path / "final.json"
    out.write_text("older export\n")
    os.chmod(out, 0o644)
    with monkeypatch.context() as m:
        _fail_json(m)
        r = cli("export", demo_db, "--format", "json", "--out", out, "--force")
    assert r.code == 2, r.err
    assert out.read_text() == "older export\n" and mode(out) == 0o644 and leftovers(tmp_path) == []
    r = cli("export", demo_db, "--format", "json", "--out", out, "--force")
    assert r.code == 0, r.err
    assert out.read_text().startswith('{\n "records"') and mode(out) == 0o600 and leftovers(tmp_path) == []


def test_a_report_that_fails_to_write_leaves_the_older_report(cli, demo_db, tmp_path, monkeypatch):
    import chartcode.files as files

    out = tmp_path / "report.html"
    out.write_text("older report")
    os.chmod(out, 0o644)

    def replace(src, dst):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files.os, "replace", replace)
    r = cli("report", demo_db, "--out", out, "--bootstrap", "5")
    assert r.code == 2 and "cannot write" in r.err, r.err
    assert out.read_text() == "older report" and mode(out) == 0o644 and leftovers(tmp_path) == []


# ---- SIGKILL mid-write -----------------------------------------------------------------------

KILL_RECORDS = 4000


@pytest.fixture(scope="module")
def big_db(tmp_path_factory):
    """A conjoint-pain audit with KILL_RECORDS records coded by the intern (as bench/report.py builds
    it): its JSON export takes long enough to write that a poll catches it mid-write."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from report import codes_csv
    finally:
        sys.path.remove(str(ROOT / "bench"))
    from chartcode.audit import load_audit
    from chartcode.importers.codes import import_codes
    from chartcode.store import Store

    tmp = tmp_path_factory.mktemp("big")
    audit = load_audit("conjoint-pain")
    db = tmp / "big.db"
    store = Store.create(db, audit.codebook, audit=audit.as_dict(), audit_source=audit.source, coders=audit.coders)
    try:
        ids = [f"R{i:06d}" for i in range(KILL_RECORDS)]
        store.add_records(ids)
        codes_csv(tmp / "intern.csv", ids, audit.codebook.record_fields, random.Random(11))
        import_codes(store, tmp / "intern.csv", "intern")
    finally:
        store.close()
    return db


def _export_killed_mid_write(db: Path, out: Path) -> None:
    """Run `chartcode export --format json` in a subprocess and SIGKILL it as soon as its temporary
    file beside ``out`` holds some bytes (it is being written, not yet renamed)."""
    for _attempt in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-m", "chartcode", "export", str(db), "--format", "json", "--out", str(out), "--force"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            while proc.poll() is None:
                tmps = list(out.parent.glob(f".{out.name}.*.tmp"))
                if any(p.exists() and p.stat().st_size > 0 for p in tmps):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait()
                    return
                time.sleep(0.001)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for p in out.parent.glob(f".{out.name}.*.tmp"):  # finished before the poll saw it: try again
            p.unlink()
    pytest.fail("the export finished before it could be killed mid-write; raise KILL_RECORDS")


def test_an_export_killed_mid_write_never_leaves_a_truncated_out(cli, big_db, tmp_path):
    reference = tmp_path / "reference.json"
    r = cli("export", big_db, "--format", "json", "--out", reference)
    assert r.code == 0, r.err
    complete = reference.read_bytes()

    fresh = tmp_path / "fresh" / "final.json"
    fresh.parent.mkdir()
    _export_killed_mid_write(big_db, fresh)
    if fresh.exists():  # the kill came after the rename: then it is the whole file
        assert fresh.read_bytes() == complete
    else:  # at most the temporary file, never at --out
        (tmp,) = leftovers(fresh.parent)
        assert tmp.startswith(".final.json.") and mode(fresh.parent / tmp) == 0o600
        assert len((fresh.parent / tmp).read_bytes()) < len(complete)

    older = tmp_path / "older" / "final.json"
    older.parent.mkdir()
    shutil.copy(reference, older)
    os.chmod(older, 0o644)
    _export_killed_mid_write(big_db, older)
    assert older.read_bytes() == complete  # the old complete file (or, killed after the rename, the new one)
    assert mode(older) in (0o644, 0o600)
