"""Agreement's packed read (chartcode.agreement.read) gives what the frame read gives: the same units,
coders, matrices, categories, unreadable counts and applicability counts, on random audits with
note-level and record-level branching logic, values of every SQLite type, open records and coders
who left codes on fields that do not apply; and it hands data it does not take back to the frame
read instead of guessing."""

from __future__ import annotations

import random

import numpy as np
import pytest

from chartcode.agreement import agreement_report
from chartcode.agreement.collect import _collect_frame, collect
from chartcode.agreement.read import collect_packed
from chartcode.codebook import load_codebook
from chartcode.store import Store

CODEBOOK = """
id: packed
title: Packed read
version: "1"
fields:
  - name: accepted
    label: Accepted
    type: binary
    choices: {0: "No", 1: "Yes"}
  - name: followup
    label: Follow-up type
    type: nominal
    show_if: "[accepted] = '1'"
    choices: {1: Phone, 2: Visit, 3: Video}
  - name: sessions
    label: Sessions
    type: count
    show_if: "[accepted] = '1'"
  - name: remark
    label: Remark
    type: text
  - name: content
    label: Content
    level: note
    type: nominal
    choices: {1: Skills, 2: Education}
  - name: detail
    label: Skill taught
    level: note
    type: nominal
    note_types: [conjoint]
    show_if: "[content] = '1' and [accepted] = '1'"
    choices: {1: Pacing, 2: Relaxation}
  - name: rating
    label: Rating
    level: note
    type: ordinal
    choices: {1: Low, 2: Mid, 3: High, 9: Cannot rate}
    missing: [9]
"""


def _random_store(path, seed: int) -> Store:
    rng = random.Random(seed)
    s = Store.create(
        path,
        load_codebook("p.yaml", text=CODEBOOK),
        coders=[("a", "coder"), ("b", "coder"), ("c", "supervisor"), ("lead", "lead")],
    )
    ids = [f"R{i:02d}" for i in rng.sample(range(60), 40)]  # record ids not in insertion order
    s.add_records(ids)
    notes = []
    with s._write() as db:
        for rid in ids:
            for k in range(rng.choice([0, 1, 2, 3])):
                nid = f"{rid}-N{rng.randrange(100)}-{k}"
                notes.append((rid, nid))
                db.conn.execute(
                    "INSERT INTO notes(note_id, record_id, note_date, note_type, text, content_sha)"
                    " VALUES (?, ?, '2024-01-01', ?, 't', ?)",
                    [nid, rid, rng.choice(["conjoint", "phone", None]), nid],
                )
    for coder in ("a", "b", "c"):
        s.assign(coder, ids)
    h = s._db.execute("SELECT hash FROM codebooks").fetchone()[0]

    def value(choices):
        v = rng.choice(choices)
        r = rng.random()
        if r < 0.05:
            return str(v)  # text '1' is not the code 1 for a choice field
        if r < 0.08:
            return float(v)
        if r < 0.10:
            return "junk"
        return v

    rows = []
    for coder in ("a", "b", "c"):
        for rid in ids:
            if rng.random() < 0.85:
                rows.append((coder, rid, "", "accepted", value([0, 1])))
            if rng.random() < 0.6:
                rows.append((coder, rid, "", "followup", value([1, 2, 3])))
            if rng.random() < 0.6:
                rows.append((coder, rid, "", "sessions", rng.choice([0, 1, 2, 5, 2.5, "3", 10**15])))
            if rng.random() < 0.5:
                rows.append((coder, rid, "", "remark", rng.choice(["ok", "fine", "é", 1, ""])))
            if rng.random() < 0.1:
                rows.append((coder, rid, "", "retired_field", 1))
        for rid, nid in notes:
            if rng.random() < 0.8:
                rows.append((coder, rid, nid, "content", value([1, 2])))
            if rng.random() < 0.6:
                rows.append((coder, rid, nid, "detail", value([1, 2])))
            if rng.random() < 0.6:
                rows.append((coder, rid, nid, "rating", value([1, 2, 3, 9])))
    rng.shuffle(rows)  # rowid order is not record order
    with s._write() as db:
        for coder, rid, key, fname, v in rows:
            db.conn.execute(
                "INSERT INTO codes(coder, record_id, note_key, field, value, submitted_value, submitted_at,"
                " codebook_hash, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'then', ?, 'then')",
                [coder, rid, key, fname, v, v, h],
            )
        db.conn.execute("UPDATE assignments SET submitted_at = 'then', status = 'done'")
        for rid in rng.sample(ids, 5):  # open records: c has not submitted them
            db.conn.execute(
                "UPDATE assignments SET submitted_at = NULL, status = 'in_progress'"
                " WHERE coder = 'c' AND record_id = ?",
                [rid],
            )
        db.conn.execute("UPDATE codes SET submitted_value = NULL WHERE id % 17 = 0")  # saved, not submitted
    return s


def _same(got, want) -> None:
    assert [r.field.name for r in got] == [r.field.name for r in want]
    for a, b in zip(got, want, strict=True):
        name = a.field.name
        assert a.units == b.units, name
        assert a.coders == b.coders, name
        assert a.categories == b.categories, name
        assert a.unreadable == b.unreadable, name
        assert (a.applicability_disagreements, a.not_applicable) == (b.applicability_disagreements, b.not_applicable)
        assert np.array_equal(a.matrix, b.matrix, equal_nan=True), name


@pytest.mark.parametrize("seed", range(6))
def test_the_packed_read_gives_the_frame_reads_ratings(tmp_path, seed):
    s = _random_store(tmp_path / "p.db", seed)
    try:
        fields = list(s.codebook.fields)
        got = collect_packed(s, fields)
        assert got is not None
        want = _collect_frame(s, fields)
        _same(got, want)
        conditional = [r for r in got if r.applicability_disagreements is not None]
        assert {r.field.name for r in conditional} == {"followup", "sessions", "detail"}
        assert any(r.applicability_disagreements for r in conditional)  # the random data has some
        assert any(r.unreadable for r in got)
    finally:
        s.close()


def test_one_field_through_the_packed_read(tmp_path):
    s = _random_store(tmp_path / "p.db", 7)
    try:
        for name in ("detail", "remark", "rating"):
            _same(collect(s, name), _collect_frame(s, [s.codebook.field(name)]))
    finally:
        s.close()


def test_a_code_on_a_note_of_another_record_goes_to_the_frame_read(tmp_path):
    s = _random_store(tmp_path / "p.db", 3)
    try:
        with s._write() as db:
            nid, rid = db.conn.execute("SELECT note_id, record_id FROM notes LIMIT 1").fetchone()
            other = db.conn.execute("SELECT id FROM records WHERE id <> ? LIMIT 1", [rid]).fetchone()[0]
            db.conn.execute("UPDATE codes SET record_id = ? WHERE note_key = ?", [other, nid])
        assert collect_packed(s, list(s.codebook.fields)) is None
        _same(collect(s), _collect_frame(s, list(s.codebook.fields)))  # collect still answers, by the frame
    finally:
        s.close()


def test_an_empty_audit(tmp_path):
    s = Store.create(tmp_path / "e.db", load_codebook("p.yaml", text=CODEBOOK), coders=[("a", "coder")])
    try:
        got = collect_packed(s, list(s.codebook.fields))
        assert got is not None
        _same(got, _collect_frame(s, list(s.codebook.fields)))
        assert all(f["n_units"] == 0 for f in agreement_report(s)["fields"])
    finally:
        s.close()


def test_collect_takes_the_frame_when_the_final_values_have_read_it(tmp_path, monkeypatch):
    """The report reads the submitted-codes frame for the final values; agreement then reuses it
    instead of reading the codes a second time; after a commit it reads again."""
    from chartcode import dataset
    from chartcode.agreement import read

    s = _random_store(tmp_path / "p.db", 4)
    try:
        packed = collect_packed(s, list(s.codebook.fields))
        calls = []
        monkeypatch.setattr(read, "collect_packed", lambda *a: calls.append(a) or packed)
        dataset.submitted_codes(s)
        _same(collect(s), packed)
        assert calls == []
        s.add_records(["R99"])  # the database changed: the frame is no longer current
        collect(s)
        assert len(calls) == 1
    finally:
        s.close()


def test_the_report_reads_the_submitted_codes_once(tmp_path, monkeypatch):
    """The report's agreement section and its final values share one read of the codes: the packed
    read is not run beside the frame the final values need."""
    from chartcode.report.build import report_model

    s = _random_store(tmp_path / "p.db", 5)
    try:
        packed = []
        real = s.packed_codes
        monkeypatch.setattr(s, "packed_codes", lambda *a: packed.append(a) or real(*a))
        model = report_model(s, charts=False, bootstrap=20, seed=1)
        assert any(sec.title == "Agreement" for sec in model.sections)
        assert packed == []
    finally:
        s.close()
