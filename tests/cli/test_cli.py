"""The command line as a whole: help everywhere, exit codes, init, codebook commands."""

from __future__ import annotations

import click
import pytest

from chartcode.cli import cli as root
from chartcode.store import Store
from tests.whole_records import completed_csv


def all_commands(group=root, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name), cmd
        if isinstance(cmd, click.Group):
            yield from all_commands(cmd, (*prefix, name))


@pytest.mark.parametrize("path", [p for p, _ in all_commands()], ids=" ".join)
def test_every_command_has_help(cli, path):
    r = cli(*path, "--help")
    assert r.code == 0
    assert "Usage:" in r.out
    cmd = dict(all_commands())[path]
    assert cmd.help and len(cmd.help.strip()) > 20, f"{' '.join(path)} needs a real description"


def test_version_and_top_level_help(cli):
    assert cli("--version").code == 0
    r = cli("--help")
    assert "chartcode demo" in r.out


def test_usage_error_exits_2(cli):
    assert cli("status").code == 2
    assert cli("no-such-command").code == 2


def test_init_needs_exactly_one_source(cli, tmp_path):
    r = cli("init", tmp_path / "a.db")
    assert r.code == 2 and "exactly one of --audit FILE or --codebook FILE" in r.err
    assert not (tmp_path / "a.db").exists()


def test_init_from_codebook_with_coders(cli, tmp_path, status):
    db = tmp_path / "a.db"
    r = cli("init", db, "--codebook", "conjoint-pain", "--coder", "ann", "--coder", "bob:supervisor")
    assert r.code == 0, r.err
    assert status(db)["coders"] == ["ann", "bob"]


def test_init_refuses_an_existing_audit_and_names_codebook_changes(cli, tmp_path):
    db = tmp_path / "a.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    r = cli("init", db, "--audit", "conjoint-pain")
    assert r.code == 2 and "already exists" in r.err
    from chartcode import resources

    changed = tmp_path / "cb.yaml"
    changed.write_text(
        resources.resolve("codebooks", "conjoint-pain")
        .read_text()
        .replace("5: Patient continued in services", "5: Continued")
    )
    r = cli("init", db, "--codebook", changed)
    assert r.code == 2
    assert "differs from the codebook stored" in r.err and "choice 5 relabelled" in r.err


def test_init_with_a_bad_audit_file_names_the_line(cli, tmp_path):
    bad = tmp_path / "audit.yaml"
    bad.write_text("id: x\ntitle: X\ncodebook: conjoint-pain\ncoders:\n  - name: a\n    role: boss\n")
    r = cli("init", tmp_path / "a.db", "--audit", bad)
    assert r.code == 2 and "audit.yaml:5: coder 'a': role 'boss'" in r.err
    assert not (tmp_path / "a.db").exists()


def test_codebook_check_reports_errors_and_exits_2(cli, tmp_path):
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "id: x\ntitle: X\nversion: 1\nfields:\n  - name: termination\n    label: T\n    type: nominal\n"
        "    choices:\n      1: A\n      2: B\n      3: C\n      3: D\n"
    )
    r = cli("codebook", "check", bad)
    assert r.code == 2
    assert f"{bad}:12: field 'termination': choice code 3 appears twice" in r.err
    assert cli("codebook", "check", "conjoint-pain").code == 0


def test_codebook_diff_and_upgrade(cli, audit_db, tmp_path):
    from chartcode import resources

    new = tmp_path / "cb.yaml"
    new.write_text(
        resources.resolve("codebooks", "conjoint-pain")
        .read_text()
        .replace('version: "1.0"', 'version: "1.1"')
        .replace(
            "      5: Patient continued in services\n", "      5: Patient continued in services\n      6: Transferred\n"
        )
    )
    r = cli("codebook", "diff", audit_db, new)
    assert "choice 6 (Transferred) added" in r.out
    r = cli("codebook", "upgrade", audit_db, new)
    assert r.code == 0 and "upgraded" in r.out
    r = cli("codebook", "diff", audit_db, new)
    assert "same codebook" in r.out


def test_records_add_and_coders_add(cli, audit_db, status):
    r = cli("records", "add", audit_db, "TEAM-A", "TEAM-B", "R1")
    assert r.code == 0 and "2 new records" in r.out
    assert status(audit_db)["records"] == 5
    assert cli("coders", "add", audit_db, "rater2", "--role", "supervisor").code == 0
    assert "rater2" in status(audit_db)["coders"]


def test_history_lists_changes(cli, audit_db, tmp_path):
    with Store.open(audit_db) as store:  # the whole record, so that it is submitted
        (tmp_path / "c.csv").write_text(completed_csv(store, "record_id,note_id,field,value\nR1,,age,61\n"))
    cli("import-codes", audit_db, tmp_path / "c.csv", "--coder", "intern")
    r = cli("history", audit_db, "--coder", "intern", "--as", "intern")
    assert "set" in r.out and "R1/age  -> 61" in r.out
    assert cli("history", audit_db, "--json").json[0]["action"] == "create"
