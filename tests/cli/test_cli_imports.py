"""Quick commands stay quick: `--help`, `status` and `codes` load none of the heavy libraries.

Each runs in a fresh interpreter; a finder on sys.meta_path records which module first
imported each heavy library, so a failure names the import to make lazy.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("pandas", "scipy", "sklearn", "statsmodels", "textual", "matplotlib")

# sqlite-utils (chartcode.store's SQLite layer) imports pandas at import time whenever it is
# installed (sqlite_utils/db.py: importlib.import_module("pandas")), so every command that opens
# an audit database loads pandas through it. That one importer is allowed; any other is not.
VIA_SQLITE_UTILS = {"pandas": "sqlite_utils.db"}

PROBE = """
import contextlib, io, json, sys

HEAVY = {heavy!r}
first = {{}}


class Spy:
    def find_spec(self, name, path=None, target=None):
        if name in HEAVY and name not in first:
            f = sys._getframe(1)
            while f is not None and f.f_globals.get("__name__", "").startswith(("importlib", "_frozen_importlib")):
                f = f.f_back
            first[name] = f.f_globals.get("__name__") if f is not None else None
        return None


sys.meta_path.insert(0, Spy())
from chartcode.cli import run

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    rc = run({argv!r})
loaded = {{m: first.get(m) for m in HEAVY if m in sys.modules}}
print(json.dumps({{"rc": rc, "loaded": loaded}}))
"""


def _probe(argv: list[str]) -> dict:
    code = PROBE.format(heavy=HEAVY, argv=argv)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("imports") / "audit.db"
    from chartcode.cli import run

    assert run(["init", str(path), "--audit", "conjoint-pain"]) == 0
    return path


def test_help_loads_no_heavy_library():
    result = _probe(["--help"])
    assert result["rc"] == 0
    assert result["loaded"] == {}


@pytest.mark.parametrize("command", ["status", "codes"])
def test_store_commands_load_no_heavy_library_of_their_own(db, command):
    result = _probe([command, str(db)])
    assert result["rc"] == 0
    extra = {m: by for m, by in result["loaded"].items() if VIA_SQLITE_UTILS.get(m) != by}
    assert extra == {}, f"loaded by (first importer): {extra}"
