"""The README's path for a new user, end to end through the command line."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET

from chartcode.store import Store
from tests.whole_records import completed_csv


def test_new_user_path(cli, tmp_path, status):
    # 1. the demo
    r = cli("demo", "--dir", tmp_path / "demo", "--no-tui")
    assert r.code == 0, r.err
    demo = status(tmp_path / "demo" / "demo.db")
    assert demo["records"] == 24 and set(demo["coders"]) >= {"intern", "supervisor"}

    # 2. a new audit, notes from CSV
    db = tmp_path / "audit.db"
    assert cli("init", db, "--audit", "conjoint-pain").code == 0
    notes = tmp_path / "notes.csv"
    notes.write_text(
        "record_id,note_id,note_date,note_type,author,text\n"
        "P1,P1-1,2024-02-01,conjoint,Dr A,Assessed sleep and taught breathing.\n"
        "P2,P2-1,2024-02-03,conjoint,Dr A,Declined the psychology part.\n"
    )
    assert cli("import", db, notes).code == 0

    # 3. codes for two coders, each record coded whole (only a whole record is submitted)
    intern = "record_id,note_id,field,value\nP1,P1-1,session_content,3\nP1,,age,60\nP2,P2-1,session_content,1\n"
    supervisor = "record_id,note_id,field,value\nP1,P1-1,session_content,2\n"
    with Store.open(db) as store:
        (tmp_path / "intern.csv").write_text(completed_csv(store, intern))
        (tmp_path / "supervisor.csv").write_text(completed_csv(store, supervisor))
    assert cli("import-codes", db, tmp_path / "intern.csv", "--coder", "intern").code == 0
    assert cli("import-codes", db, tmp_path / "supervisor.csv", "--coder", "supervisor").code == 0

    # 4. list them as the lead (who sees every coder's codes)
    rows = list(csv.DictReader(io.StringIO(cli("codes", db, "--format", "csv", "--as", "qi-lead").out)))
    listed = {(r["coder"], r["record_id"], r["field"], r["value"]) for r in rows}
    assert {
        ("intern", "P1", "session_content", "3"),
        ("intern", "P1", "age", "60"),
        ("intern", "P2", "session_content", "1"),
        ("supervisor", "P1", "session_content", "2"),
    } <= listed
    given = {
        (coder, r["record_id"], r["field"], r["value"])
        for coder in ("intern", "supervisor")
        for r in csv.DictReader((tmp_path / f"{coder}.csv").open(encoding="utf-8"))
    }
    assert listed == given

    # 5. the codebook for REDCap and for QDA software
    assert cli("codebook", "export", "conjoint-pain", "--format", "redcap", "--out", tmp_path / "dd.csv").code == 0
    with open(tmp_path / "dd.csv", encoding="utf-8") as fh:
        dd = list(csv.DictReader(fh))
    assert dd[0]["Variable / Field Name"] == "record_id"
    assert {"session_content", "termination", "age"} <= {d["Variable / Field Name"] for d in dd}
    assert cli("codebook", "export", db, "--format", "qdc", "--out", tmp_path / "cb.qdc").code == 0
    root = ET.parse(tmp_path / "cb.qdc").getroot()
    assert root.tag == "{urn:QDA-XML:codebook:1.0}CodeBook"


# ---------------------------------------------------------------------------- every README block
# Every ```sh block of README.md runs, in order, in one fresh copy of the repository (a temp dir,
# as a new clone), with the venv's bin on PATH, each under `bash -e -o pipefail` in a real
# pseudo-terminal; a block that opens a screen (the demo, `code`, `reconcile`, `rate`) is closed
# with Ctrl+Q as a user would. Any non-zero exit fails, naming the block and showing its output.
#
# Two steps of the "Fresh machine" blocks are not rerun here, and only these: creating the venv
# with `pip install` (this test runs inside that venv; the temp copy's `.venv` links to it) and
# `python -m pytest` (the suite this test belongs to). `.ci/run` runs both exactly as written, on
# a clean checkout. Everything else in those blocks (`.venv/bin/chartcode demo`) runs.

import os  # noqa: E402
import pty  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
NOT_RERUN = (
    re.compile(r"^python3 -m venv \.venv$"),
    re.compile(r"^\.venv/bin/pip install .*$"),
    re.compile(r"^\.venv/bin/python -m pytest\b.*$"),
)
ALT_SCREEN_ON, ALT_SCREEN_OFF = b"\x1b[?1049h", b"\x1b[?1049l"
BLOCK_TIMEOUT = float(os.environ.get("CHARTCODE_E2E_TIMEOUT") or 600)


def readme_shell_blocks(text: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash|shell)\n(.*?)^```", text, re.M | re.S)


def _without_setup_steps(block: str) -> str:
    lines = []
    for line in block.splitlines():
        steps = [s.strip() for s in line.split("&&")]
        kept = [s for s in steps if not any(p.match(s) for p in NOT_RERUN)]
        if kept:
            lines.append(" && ".join(kept))
    return "\n".join(lines)


def _fresh_clone(dest: Path) -> None:
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for rel in listed:
        src = REPO / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
    (dest / ".venv").symlink_to(Path(sys.prefix))


def _run_in_terminal(script: str, cwd: Path, env: dict) -> tuple[int, str]:
    """Run `bash -e -o pipefail -c script` on a pty (120x40); press Ctrl+Q whenever a screen is open."""
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    proc = subprocess.Popen(
        ["bash", "-e", "-o", "pipefail", "-c", script],
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    out = bytearray()
    screens_open = 0
    last_quit = 0.0
    deadline = time.monotonic() + BLOCK_TIMEOUT
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the pty closed: every process on it has ended
                    chunk = b""
                if not chunk:
                    break
                out += chunk
                screens_open += chunk.count(ALT_SCREEN_ON) - chunk.count(ALT_SCREEN_OFF)
            if screens_open > 0 and time.monotonic() - last_quit > 2.0:
                os.write(master, b"\x11")  # Ctrl+Q: quit the screen, as the footer says
                last_quit = time.monotonic()
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        rc = proc.wait(timeout=60)
    finally:
        os.close(master)
    text = re.sub(r"\x1b\[[0-9;?<>=]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b[=>]|\r", "", out.decode("utf-8", "replace"))
    return rc, text[-4000:]


@pytest.mark.skipif(shutil.which("git") is None and os.environ.get("CI") != "true", reason="needs git")
def test_every_readme_shell_block_runs_in_order(tmp_path):
    blocks = readme_shell_blocks((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 8, "README.md has its shell blocks"
    clone = tmp_path / "chartcode"
    _fresh_clone(clone)
    bindir = str(Path(sys.executable).parent)
    env = {
        "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
        "HOME": str(tmp_path / "home"),
        "TERM": "xterm-256color",
        "LANG": "C.UTF-8",
        "CI": os.environ.get("CI", ""),
    }
    (tmp_path / "home").mkdir()
    for i, block in enumerate(blocks, 1):
        script = _without_setup_steps(block)
        rc, output = _run_in_terminal(script, clone, env)
        assert rc == 0, f"README shell block {i} of {len(blocks)} exited {rc}:\n{block}\n--- output ---\n{output}"
