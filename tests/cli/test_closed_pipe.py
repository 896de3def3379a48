"""A reader that stops early (`chartcode codes DB | head`) is a normal end: exit 0, nothing on stderr.

Run through a real OS pipe whose read end is closed after the first line, ten times per
command, because the failure was a race (4 runs in 10 exited 1 before the fix)."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    where = tmp_path_factory.mktemp("pipe")
    r = subprocess.run(
        [sys.executable, "-m", "chartcode", "demo", "--no-tui", "--complete", "--dir", str(where / "demo")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    return where / "demo" / "demo.db"


def _first_line_then_close(args: list[str]) -> tuple[int, str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "chartcode", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.readline().decode()
    proc.stdout.close()  # the reader goes away, as `head -1` does
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), first, err


@pytest.mark.parametrize(
    "extra",
    [["codes", "--as", "qi-lead"], ["codes", "--format", "json", "--as", "qi-lead"], ["history", "--as", "qi-lead"]],
    ids=["codes-csv", "codes-json", "history"],
)
def test_closed_pipe_exits_0_silently_every_time(demo_db, extra):
    results = [_first_line_then_close([extra[0], str(demo_db), *extra[1:]]) for _ in range(10)]
    assert all(first for _, first, _ in results), "each run wrote its first line"
    assert [(rc, err) for rc, _, err in results] == [(0, "")] * 10
