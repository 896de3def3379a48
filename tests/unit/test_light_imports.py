"""Light commands stay light: `--help` (of every command), `status` and `codes` load none of the
heavy libraries, and the coding screen loads none but Textual.

Each command runs in a fresh interpreter on a small audit with notes and codes; a finder on
sys.meta_path records which module first imported each heavy library, so a failure names the
import to make lazy. Reading an audit loads no sqlite-utils either: the store talks to sqlite3
itself, and imports sqlite-utils (for its migrations, with pandas and numpy hidden:
store/connection.py) only to create or migrate a database. Not timed: bench/startup.py measures
the seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest

HEAVY = (
    "pandas",
    "numpy",
    "scipy",
    "sklearn",
    "statsmodels",
    "matplotlib",
    "pyreadstat",
    "xlsxwriter",
    "krippendorff",
    "jinja2",
    "textual",
)

SPY = """
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
"""

RUN_CLI = """
from chartcode.cli import run

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    rc = run({argv!r})
print(json.dumps({{"rc": rc, "loaded": {{m: first.get(m) for m in HEAVY if m in sys.modules}}}}))
"""


def _probe(code: str) -> dict:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return json.loads(out.splitlines()[-1])


def _run(argv: list[str], heavy: tuple[str, ...] = HEAVY) -> dict:
    return _probe(SPY.format(heavy=heavy) + RUN_CLI.format(argv=argv))


def _command_paths() -> list[list[str]]:
    """Every command and subcommand, as the words that name it (`codebook export`, ...)."""
    from chartcode.cli import cli

    paths: list[list[str]] = []

    def walk(group: click.Group, prefix: list[str]) -> None:
        for name, command in group.commands.items():
            paths.append([*prefix, name])
            if isinstance(command, click.Group):
                walk(command, [*prefix, name])

    walk(cli, [])
    return paths


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    """An audit with notes, an assigned coder and her codes: status and codes have rows to show."""
    from chartcode.cli import run

    folder = tmp_path_factory.mktemp("light")
    path = folder / "audit.db"
    examples = Path(__file__).resolve().parents[2] / "examples"
    assert run(["init", str(path), "--audit", str(examples / "my-audit.yaml")]) == 0
    assert run(["import", str(path), str(examples / "notes.csv")]) == 0
    assert run(["import-codes", str(path), str(examples / "intern.csv"), "--coder", "intern"]) == 0
    return path


def test_help_loads_no_heavy_library():
    result = _run(["--help"])
    assert result == {"rc": 0, "loaded": {}}


def test_every_commands_help_loads_no_heavy_library():
    loaded = {}
    for words in _command_paths():
        result = _run([*words, "--help"])
        assert result["rc"] == 0, words
        if result["loaded"]:
            loaded[" ".join(words)] = result["loaded"]
    assert loaded == {}, f"heavy library (first importer) per command's --help: {loaded}"


@pytest.mark.parametrize(
    "argv",
    [
        ["status"],
        ["status", "--json"],
        ["codes"],
        ["codes", "--coder", "intern", "--as", "intern"],
        ["codes", "--as", "qi-lead", "--format", "json"],
    ],
    ids=" ".join,
)
def test_status_and_codes_load_no_heavy_library(db, argv):
    result = _run([argv[0], str(db), *argv[1:]])
    assert result["rc"] == 0
    assert result["loaded"] == {}, f"loaded by (first importer): {result['loaded']}"


def test_status_shows_the_stored_codebook_without_parsing_its_yaml(db):
    """status names the codebook by the id, version and hash stored with it; the YAML parser
    (ruamel.yaml, pure Python) is for commands that use the fields."""
    result = _run(["status", str(db)], heavy=("ruamel",))
    assert result == {"rc": 0, "loaded": {}}


@pytest.mark.parametrize("argv", [["status"], ["codes", "--coder", "intern", "--as", "intern"]], ids=" ".join)
def test_reading_an_audit_does_not_import_sqlite_utils(db, argv):
    """The store reads and writes through sqlite3 itself (store/connection.py's Database); sqlite-utils
    (with dateutil, pluggy, tabulate: ~0.1 s) is for creating and migrating a database only."""
    result = _run([argv[0], str(db), *argv[1:]], heavy=("sqlite_utils", "dateutil", "pluggy"))
    assert result == {"rc": 0, "loaded": {}}


def test_help_does_not_import_traceback():
    """The traceback module (with linecache and tokenize) is for the report of a bug only."""
    assert _run(["--help"], heavy=("traceback",)) == {"rc": 0, "loaded": {}}


def test_sqlite_utils_still_works_with_pandas_imported_later(db):
    """Hiding pandas while sqlite-utils loads leaves pandas importable afterwards, and a store
    opened first and pandas imported next work together (an export does exactly this)."""
    code = f"""
import json
from chartcode.store import Store
store = Store.open({str(db)!r})
import pandas
frame = pandas.DataFrame(store.records_with_note_counts())
print(json.dumps({{"rows": len(frame), "records": store.counts()["records"], "pandas": pandas.__version__}}))
"""
    result = _probe(code)
    assert result["rows"] == result["records"] > 0
    assert result["pandas"]


def test_coding_screen_start_loads_no_heavy_library_but_textual_nor_sqlite_utils(db):
    code = SPY.format(heavy=(*HEAVY, "sqlite_utils")) + (
        f"from chartcode.tui.app import make_app\n"
        f"app = make_app({str(db)!r}, 'intern')\n"
        "app.store.close()\n"
        "print(json.dumps({m: first.get(m) for m in HEAVY if m in sys.modules and m != 'textual'}))\n"
    )
    assert _probe(code) == {}


CLI_MODULES = """
import contextlib, io, json, sys
from chartcode.cli import run

with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
    rc = run({argv!r})
print(json.dumps({{"rc": rc, "cli": sorted(m for m in sys.modules if m.startswith("chartcode.cli."))}}))
"""


@pytest.mark.parametrize(
    ("argv", "module"),
    [
        (["code", "{db}", "--coder", "intern"], "screens"),
        (["status", "{db}"], "setup"),
        (["codes", "{db}", "--coder", "intern", "--as", "intern"], "coding"),
    ],
    ids=lambda v: v if isinstance(v, str) else v[0],
)
def test_a_command_imports_its_own_command_module_only(db, argv, module):
    """chartcode.cli imports a command's module when the command is looked up: `chartcode code`
    loads chartcode.cli.screens, none of the 15 other command modules nor what they import
    (`code` here stops at "needs a terminal", after click has dispatched to it)."""
    result = _probe(CLI_MODULES.format(argv=[a.format(db=db) for a in argv]))
    assert result["cli"] == sorted({"chartcode.cli.common", f"chartcode.cli.{module}"})
    assert result["rc"] == (2 if module == "screens" else 0)


def test_help_lists_every_command_in_the_order_of_work():
    """The lazily loaded commands are listed as they are declared, whatever was looked up first."""
    from chartcode.cli import COMMANDS, cli

    assert cli.get_command(click.Context(cli), "code") is not None
    assert list(cli.commands) == list(COMMANDS)
    ctx = click.Context(cli)
    assert cli.list_commands(ctx) == list(COMMANDS)
    assert all(cli.get_command(ctx, name).name == name for name in COMMANDS)
