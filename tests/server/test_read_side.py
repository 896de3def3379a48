"""The read and analysis side on a team server gives what the file gives for the same data:
agreement, disagreements, final, stats, export (every format), report, verify, consensus and
codebook diff/upgrade, run through the command line on a file audit and on a server audit whose
coders have the same names and whose codes were entered the same way."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from chartcode.importers.notes import import_notes
from chartcode.store import Store, open_store
from tests.conftest import SAMPLE_NOTES
from tests.server.conftest import Cluster, lead_name, make_team
from tests.whole_records import submit_whole

# (coder, record, note, field, value): two coders, three records, some disagreements
CODES = [
    ("intern", "R1", None, "sex", 1),
    ("intern", "R1", None, "mh_diagnosis", 1),
    ("intern", "R1", "R1-N1", "psychoeducation", 1),
    ("intern", "R2", None, "sex", 2),
    ("intern", "R2", None, "mh_diagnosis", 0),
    ("intern", "R3", None, "sex", 1),
    ("intern", "R3", None, "mh_diagnosis", 1),
    *[("intern", r, None, "accepted_followup", v) for r, v in (("R1", 1), ("R2", 0), ("R3", 1))],
    *[("supervisor", r, None, "accepted_followup", v) for r, v in (("R1", 1), ("R2", 0), ("R3", 1))],
    ("supervisor", "R1", None, "sex", 1),
    ("supervisor", "R1", None, "mh_diagnosis", 0),
    ("supervisor", "R1", "R1-N1", "psychoeducation", 1),
    ("supervisor", "R2", None, "sex", 2),
    ("supervisor", "R2", None, "mh_diagnosis", 0),
    ("supervisor", "R3", None, "sex", 2),
    ("supervisor", "R3", None, "mh_diagnosis", 1),
]


@dataclass
class Pair:
    file: str
    server: dict[str, str]  # who -> URL
    names: dict[str, str]  # who -> coder name (the same on both)


@pytest.fixture
def pair(admin_url: str, pg_cluster: Cluster, tmp_path: Path) -> Pair:
    from chartcode.audit import load_audit

    team = make_team(admin_url, pg_cluster, tmp_path)
    names = {w: lead_name(u) for w, u in team.urls.items()}
    audit = load_audit("conjoint-pain")
    db = tmp_path / "audit.db"
    roles = {"intern": "coder", "supervisor": "supervisor", "lead": "lead", "intern2": "coder"}
    with Store.create(
        db,
        audit.codebook,
        audit=audit.as_dict(),
        audit_source=audit.source,
        coders=[(names[w], r) for w, r in roles.items()],
    ) as s:
        notes = tmp_path / "notes.csv"
        notes.write_text(SAMPLE_NOTES)
        import_notes(s, notes)
        for who in ("intern", "supervisor"):
            s.assign(names[who], ["R1", "R2", "R3"])
    for target in (str(db), team.urls["intern"], team.urls["supervisor"]):
        with open_store(target) as store:
            for who, rid, note, field, value in CODES:
                if target == str(db) or team.urls[who] == target:
                    store.set_code(names[who], rid, field, value, note_id=note)
            for who in ("intern", "supervisor"):
                if target == str(db) or team.urls[who] == target:
                    for rid in ("R1", "R2", "R3"):
                        submit_whole(store, names[who], rid)
    return Pair(str(db), team.urls, names)


def _same(pair: Pair, cli, *args, who: str = "lead") -> tuple[str, str]:
    """Run one command on the file and on the server (as ``who``); both succeed; the outputs, with
    the audit's name shown as AUDIT."""
    url = pair.server[who]
    from chartcode.store.pg import redacted

    f = cli(args[0], pair.file, *args[1:])
    s = cli(args[0], url, *args[1:])
    assert f.code == 0, (args, f.err)
    assert s.code == 0, (args, s.err)
    assert "Traceback" not in s.err and url.split(":")[2].split("@")[0] not in s.out + s.err  # no password
    return (f.out.replace(pair.file, "AUDIT"), s.out.replace(redacted(url), "AUDIT"))


@pytest.mark.parametrize(
    "args",
    [
        ("agreement",),
        ("agreement", "--json"),
        ("disagreements",),
        ("disagreements", "--json"),
        ("final",),
        ("final", "--format", "json"),
        ("stats",),
    ],
    ids=lambda a: " ".join(a),
)
def test_the_same_numbers_on_both_backends(pair: Pair, cli, args):
    f, s = _same(pair, cli, *args)
    assert f == s
    assert f.strip()


def test_disagreements_list_the_units_the_coders_split_on(pair: Pair, cli):
    _, s = _same(pair, cli, "disagreements", "--json")
    units = {(u["record_id"], u["field"]) for u in json.loads(s)["disagreements"]}
    assert units == {("R1", "mh_diagnosis"), ("R3", "sex")}


def test_exports_hold_the_same_data_on_both_backends(pair: Pair, cli, tmp_path):
    import pandas as pd
    import pyreadstat

    for fmt in ("csv", "xlsx", "sav", "dta", "json", "redcap"):
        fo, so = tmp_path / f"f.{fmt}", tmp_path / f"s.{fmt}"
        assert cli("export", pair.file, "--format", fmt, "--out", fo).code == 0
        r = cli("export", pair.server["lead"], "--format", fmt, "--out", so)
        assert r.code == 0, (fmt, r.err)
        assert so.stat().st_mode & 0o777 == 0o600
        if fmt in ("csv", "redcap"):
            assert pd.read_csv(so).equals(pd.read_csv(fo)), fmt
        elif fmt == "xlsx":
            fs, ss = pd.read_excel(fo, sheet_name=None), pd.read_excel(so, sheet_name=None)
            assert fs.keys() == ss.keys()
            for sheet in fs.keys() - {"audit"}:  # the audit sheet names the history's own chain head
                assert fs[sheet].equals(ss[sheet]), sheet
        elif fmt in ("sav", "dta"):
            read = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
            (fd, fm), (sd, sm) = read(str(fo)), read(str(so))
            assert fd.equals(sd) and fm.variable_value_labels == sm.variable_value_labels, fmt
        else:
            fj, sj = json.loads(fo.read_text()), json.loads(so.read_text())
            for j in (fj, sj):
                j.pop("history_head"), j.pop("history_entries")
            assert fj == sj
    lead = ("--as", pair.names["lead"])
    assert cli("export", pair.file, "--long", "--format", "csv", "--out", tmp_path / "fl.csv", *lead).code == 0
    assert (
        cli("export", pair.server["lead"], "--long", "--format", "csv", "--out", tmp_path / "sl.csv", *lead).code == 0
    )
    long = pd.read_csv(tmp_path / "sl.csv")
    assert len(long) >= len(CODES)
    cols = ["coder", "record_id", "note_id", "field", "value"]
    assert long[cols].equals(pd.read_csv(tmp_path / "fl.csv")[cols])


def test_a_coder_exports_and_reports_only_what_the_rule_shows_them(pair: Pair, cli, tmp_path):
    # intern2 is assigned nothing: on the server they see no one's codes, however they ask
    out = tmp_path / "x.csv"
    r = cli("export", pair.server["intern2"], "--long", "--format", "csv", "--out", out)
    assert r.code == 0, r.err
    assert "R1" not in out.read_text()
    r = cli("agreement", pair.server["intern2"], "--json")
    assert r.code == 0, r.err
    assert "R1" not in r.out and all(not f.get("n_units") for f in json.loads(r.out).get("fields", []))


def test_report_on_both_backends(pair: Pair, cli, tmp_path):
    for fmt in ("md", "html"):
        fo, so = tmp_path / f"f.{fmt}", tmp_path / f"s.{fmt}"
        assert cli("report", pair.file, "--out", fo).code == 0
        r = cli("report", pair.server["lead"], "--out", so)
        assert r.code == 0, r.err
        assert so.stat().st_mode & 0o777 == 0o600
        assert pair.server["lead"].split(":")[2].split("@")[0] not in so.read_text()  # no password


def test_verify_on_the_server_checks_the_chain_and_replays_for_a_lead(pair: Pair, cli, admin_url):
    import psycopg

    r = cli("verify", pair.server["lead"], "--json")
    assert r.code == 0, r.err
    out = json.loads(r.out)
    assert out["ok"] and out["entries"] > len(CODES) and out["replay_skipped"] is None
    head = out["history_head"]
    assert cli("verify", pair.server["lead"], "--head", head[:16]).code == 0
    coder = cli("verify", pair.server["intern"])
    assert coder.code == 0 and "not replayed" in coder.out
    with psycopg.connect(admin_url) as admin:  # an administrator going round the triggers is caught
        admin.execute("ALTER TABLE chartcode.history DISABLE TRIGGER history_is_append_only")
        admin.execute(
            "UPDATE chartcode.history SET new_value = '2' WHERE action = 'set' AND field = 'sex' AND record_id = 'R1'"
        )
    bad = cli("verify", pair.server["lead"])
    assert bad.code == 2 and "does not match its contents" in bad.out
    assert cli("verify", pair.server["intern"]).code == 2  # the chain check needs no privilege on the history


def test_consensus_is_decided_by_the_login(pair: Pair, cli):
    sup, lead = pair.server["supervisor"], pair.server["lead"]
    refused = cli(
        "consensus",
        pair.server["intern"],
        "--record",
        "R3",
        "--field",
        "sex",
        "--value",
        "1",
        "--reason",
        "chart says male",
    )
    assert refused.code == 2 and "needs a supervisor or lead" in refused.err
    other = cli(
        "consensus",
        sup,
        "--record",
        "R3",
        "--field",
        "sex",
        "--value",
        "1",
        "--reason",
        "x",
        "--by",
        pair.names["lead"],
    )
    assert other.code == 2 and "on a server you act as the role you log in as" in other.err
    r = cli("consensus", sup, "--record", "R3", "--field", "sex", "--value", "1", "--reason", "chart says male")
    assert r.code == 0 and "saved" in r.out, r.err
    assert cli("consensus", lead, "--auto-agreed").code == 0
    final = {(u["record_id"], u["field"]): u for u in cli("final", lead, "--format", "json").json}
    assert final[("R3", "sex")]["value"] == 1 and final[("R3", "sex")]["source"] == "consensus"
    left = {(u["record_id"], u["field"]) for u in cli("disagreements", lead, "--json").json["disagreements"]}
    assert ("R3", "sex") not in left and ("R1", "mh_diagnosis") in left
    hist = cli("history", lead, "--json").json
    assert any(h["action"] == "consensus" and h["actor"] == pair.names["supervisor"] for h in hist)
    assert cli("verify", lead).code == 0


def test_codebook_diff_and_upgrade_on_the_server(pair: Pair, cli, tmp_path):
    from chartcode import resources

    lead, sup = pair.server["lead"], pair.server["supervisor"]
    r = cli("codebook", "diff", lead, "conjoint-pain")
    assert r.code == 0 and "same codebook as stored in" in r.out and "@" in r.out
    source = Path(resources.resolve("codebooks", "conjoint-pain")).read_text()
    added = tmp_path / "v2.yaml"
    added.write_text(
        source.replace('version: "1.1"', 'version: "1.2"')  # the shipped codebook is 1.1 (its show_if)
        .replace("version: '1.1'", "version: '1.2'")
        .replace("version: 1.1", "version: 1.2")
    )
    assert "1.2" in added.read_text()
    refused = cli("codebook", "upgrade", sup, added)
    assert refused.code == 2 and "needs a lead" in refused.err
    r = cli("codebook", "upgrade", lead, added)
    assert r.code == 0, r.err
    assert cli("codebook", "diff", lead, added).code == 0
    assert cli("verify", lead).code == 0


def test_messages_naming_a_server_audit_never_show_its_password(pair: Pair, cli):
    url = pair.server["lead"]
    password = url.split(":")[2].split("@")[0]
    r = cli("reviews", url)  # conjoint-pain declares no timeliness block: refused, naming the audit
    assert r.code == 2 and "timeliness" in r.err and password not in r.err
    r = cli("verify", url)
    assert r.code == 0 and password not in r.out
