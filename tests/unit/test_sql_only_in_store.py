"""All SQL lives in chartcode.store: the data-access layer a second backend (PostgreSQL) replaces.

Outside ``src/chartcode/store/`` no module may run a query (``.execute(``, ``.executemany(``,
``.executescript(``, a sqlite-utils ``.query(``), import ``sqlite3`` or ``sqlite_utils``, or hold
a string that looks like an SQL statement. Strings are found with ``ast`` (docstrings skipped),
so prose in comments and docstrings that mentions SELECT does not count.

Textual's DOM ``query`` (``self.query(VerticalScroll)``, ``self.query("#id")``) is not SQL: a
``.query(`` call whose first argument is a class name (CapWords) or a CSS-selector string is
allowed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "chartcode"
STORE = SRC / "store"

SQL = re.compile(r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|CREATE\s+(TABLE|INDEX|VIEW|TRIGGER))\b")
RUNS_SQL = {"execute", "executemany", "executescript"}
DRIVERS = {"sqlite3", "sqlite_utils"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes of the module, classes and functions."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                out.add(id(body[0].value))
    return out


def _dom_query(call: ast.Call) -> bool:
    """A Textual DOM query: ``x.query(WidgetClass)``, ``x.query("#css .selector")`` or ``x.query()``."""
    if not call.args:
        return True
    first = call.args[0]
    if isinstance(first, ast.Name):
        return first.id[:1].isupper()
    if isinstance(first, ast.Attribute):
        return first.attr[:1].isupper()
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return not SQL.search(first.value)
    return False


def scan(source: str, name: str = "<string>") -> list[str]:
    """Every place in ``source`` that runs or holds SQL, as 'name:line: what'."""
    tree = ast.parse(source, name)
    skip = _docstrings(tree)
    found = []
    for node in ast.walk(tree):
        what = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in RUNS_SQL:
                what = f".{node.func.attr}("
            elif node.func.attr == "query" and not _dom_query(node):
                what = ".query("
        elif isinstance(node, ast.Import):
            hit = [a.name for a in node.names if a.name.split(".")[0] in DRIVERS]
            what = f"import {', '.join(hit)}" if hit else None
        elif isinstance(node, ast.ImportFrom):
            what = f"from {node.module} import" if (node.module or "").split(".")[0] in DRIVERS else None
        elif isinstance(node, ast.Name) and node.id in DRIVERS:
            what = node.id
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            m = SQL.search(node.value)
            what = f"SQL string {node.value[max(m.start() - 10, 0) : m.end() + 30]!r}" if m else None
        if what:
            found.append(f"{name}:{node.lineno}: {what}")
    return sorted(set(found), key=lambda s: (s.split(":")[0], int(s.split(":")[1])))


def test_no_sql_outside_the_store():
    files = [p for p in sorted(SRC.rglob("*.py")) if STORE not in p.parents]
    assert len(files) > 30  # the scan really looks at the package
    found = [hit for p in files for hit in scan(p.read_text(encoding="utf-8"), str(p.relative_to(SRC.parent)))]
    assert not found, "SQL outside src/chartcode/store/ (move it behind a Store method):\n" + "\n".join(found)


def test_the_store_is_where_the_sql_is():
    found = [hit for p in sorted(STORE.rglob("*.py")) for hit in scan(p.read_text(encoding="utf-8"), p.name)]
    assert any(".execute(" in h for h in found) and any("SQL string" in h for h in found)


PLANTED = '''
"""A module docstring may SELECT words freely: SELECT x FROM y."""
import sqlite3
from sqlite_utils import Database
import json


def f(store, conn, db):
    """So may a function's: DELETE FROM codes."""
    # and a comment: SELECT * FROM codes
    conn.execute("PRAGMA user_version")
    conn.executemany(INSERTS, [])
    conn.executescript(script)
    rows = db.query(sql)
    store.values = f"SELECT id FROM records WHERE {where}"
    store.other = "UPDATE codes SET value = 1"
    store.ddl = "CREATE  INDEX i ON t(x)"
    store.more = "INSERT INTO meta VALUES (1)"
    store.gone = "DELETE FROM history"
    store.widgets = store.query(VerticalScroll), store.query("#units"), store.query(widgets.Static)
    store.prose = "Select the records, then update the codes set."
    return json.dumps(sqlite3.version)
'''


def test_the_scanner_catches_a_planted_example():
    found = scan(PLANTED, "planted.py")
    text = "\n".join(found)
    for line, what in [
        (3, "import sqlite3"),
        (4, "from sqlite_utils import"),
        (11, ".execute("),
        (12, ".executemany("),
        (13, ".executescript("),
        (14, ".query("),
        (15, "SELECT id FROM"),
        (16, "UPDATE codes SET"),
        (17, "CREATE  INDEX"),
        (18, "INSERT INTO meta"),
        (19, "DELETE FROM history"),
        (22, "sqlite3"),
    ]:
        assert any(h.startswith(f"planted.py:{line}: ") and what in h for h in found), (line, what, text)
    lines = {int(h.split(":")[1]) for h in found}
    assert not lines & {2, 9, 10, 20, 21}, text  # docstrings, comments, Textual queries, prose
