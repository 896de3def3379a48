"""docs/schema.md tells the truth about a fresh audit's schema, and the notes' full-text index
is declared so that sqlite-utils' detect_fts() (and so Datasette's search box) finds it, in
new audits and in audits upgraded from before migration m005."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils

from chartcode.store import Store
from chartcode.store import schema as store_schema

DOC = Path(__file__).parent.parent.parent / "docs" / "schema.md"
ROW = re.compile(r"^\| `(?P<col>[^`]+)` \| (?P<type>[A-Z]*) ?\| (?P<nn>yes|no) \|\s*(?P<pk>\d*)\s*\|")
SHADOW = re.compile(r"^(sqlite_|notes_fts_)")


@pytest.fixture
def fresh(tmp_path, cli) -> Path:
    db = tmp_path / "fresh.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    return db


def _documented() -> tuple[dict[str, list[tuple[str, str, bool, int]]], set[str], set[str], str]:
    tables: dict[str, list[tuple[str, str, bool, int]]] = {}
    indexes, triggers, section, current = set(), set(), "", None
    version = ""
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("Schema version: "):
            version = line.split("`")[1]
        if line.startswith("## "):
            section, current = line[3:].strip(), None
        elif section == "Tables" and line.startswith("### `"):
            current = line.split("`")[1]
            tables[current] = []
        elif section == "Tables" and current and (m := ROW.match(line)):
            tables[current].append((m["col"], m["type"], m["nn"] == "yes", int(m["pk"] or 0)))
        elif section in ("Indexes", "Triggers") and line.startswith("| `"):
            (indexes if section == "Indexes" else triggers).add(line.split("`")[1])
    return tables, indexes, triggers, version


def _live(db: Path):
    conn = sqlite3.connect(db)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        tables = {
            n: [(c[1], c[2], bool(c[3]), c[5]) for c in conn.execute(f"PRAGMA table_info([{n}])")]
            for n in names
            if not SHADOW.match(n)
        }
        objects = conn.execute("SELECT type, name FROM sqlite_master WHERE sql IS NOT NULL").fetchall()
    finally:
        conn.close()
    return tables, {n for t, n in objects if t == "index"}, {n for t, n in objects if t == "trigger"}


def test_schema_doc_matches_a_fresh_audit(fresh):
    doc_tables, doc_indexes, doc_triggers, version = _documented()
    tables, indexes, triggers = _live(fresh)
    assert sorted(doc_tables) == sorted(tables)
    for name, columns in tables.items():
        assert doc_tables[name] == columns, name
    assert doc_indexes == indexes
    assert doc_triggers == triggers
    assert version == store_schema.migrations()._migrations[-1].name  # the newest migration


def test_schema_doc_lists_every_migration():
    text = DOC.read_text(encoding="utf-8")
    for m in store_schema.migrations()._migrations:
        assert f"| `{m.name}` |" in text, m.name


def test_fresh_audit_notes_index_is_found_by_detect_fts(fresh):
    assert sqlite_utils.Database(fresh)["notes"].detect_fts() == "notes_fts"


def datasette_detect_fts(db: Path, table: str) -> str | None:
    """Datasette's own check, which decides whether a table page gets a search box:
    ``detect_fts_sql`` of simonw/datasette ``datasette/utils/__init__.py`` at commit
    006b446d577d89a26f0e9f0e50ee77cdcb67b519 (Datasette is not a dependency; the query is
    copied as it is there). Older Datasette releases match only ``content="{table}"``."""
    sql = r"""
        select name from sqlite_master
            where rootpage = 0
            and (
                sql like '%VIRTUAL TABLE%USING FTS%content="{table}"%'
                or sql like '%VIRTUAL TABLE%USING FTS%content=[{table}]%'
                or (
                    tbl_name = "{table}"
                    and sql like '%VIRTUAL TABLE%USING FTS%'
                )
            )
    """.format(table=table.replace("'", "''"))
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(sql).fetchone()
    finally:
        conn.close()
    return row[0] if row else None


def test_fresh_audit_notes_index_is_found_by_datasette(fresh):
    assert datasette_detect_fts(fresh, "notes") == "notes_fts"


OLD_FTS = """CREATE VIRTUAL TABLE notes_fts USING fts5(
        text, content='notes', content_rowid='id', tokenize='porter unicode61'
    )"""


def test_audit_from_before_m005_upgrades_and_keeps_its_search(audit_db):
    """An audit made before m005 (its index declared content='notes', as m001 wrote it) is
    upgraded when opened: detect_fts() finds the index and search finds the same notes."""
    conn = sqlite3.connect(audit_db)
    with conn:
        conn.execute("DROP TABLE notes_fts")
        conn.execute(OLD_FTS)
        conn.execute("INSERT INTO notes_fts(notes_fts) VALUES ('rebuild')")
        conn.execute("DELETE FROM _sqlite_migrations WHERE name = 'm005_notes_fts_findable'")
    conn.close()
    assert sqlite_utils.Database(audit_db)["notes"].detect_fts() is None
    assert datasette_detect_fts(audit_db, "notes") is None  # no search box
    with Store.open(audit_db) as store:
        hits = store.search_notes("relaxation")
    assert [h["note_id"] for h in hits] == ["R1-N1"]
    assert sqlite_utils.Database(audit_db)["notes"].detect_fts() == "notes_fts"
    assert datasette_detect_fts(audit_db, "notes") == "notes_fts"
    assert [r["note_id"] for r in sqlite_utils.Database(audit_db)["notes"].search("pacing", columns=["note_id"])] == [
        "R1-N2"
    ]
