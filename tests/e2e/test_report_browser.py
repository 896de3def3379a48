"""The HTML report opened in headless Chromium, as a reader would: it renders, without console errors."""

from __future__ import annotations

import subprocess

import pytest

from tests.e2e.conftest import require_tool

pytestmark = pytest.mark.e2e

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def test_report_renders_in_chromium_without_console_errors(tmp_path, chartcode_exe):
    chromium = require_tool("chromium")
    subprocess.run([chartcode_exe, "demo", "--dir", str(tmp_path), "--no-tui"], check=True, capture_output=True)
    page = tmp_path / "report.html"
    subprocess.run(
        [chartcode_exe, "report", str(tmp_path / "demo.db"), "--out", str(page), "--bootstrap", "50"],
        check=True,
        capture_output=True,
    )
    profile = ["--user-data-dir=" + str(tmp_path / "profile")]
    shot = tmp_path / "report.png"
    r = subprocess.run(
        [
            chromium,
            *FLAGS,
            *profile,
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=420,2000",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    dom = subprocess.run(
        [chromium, *FLAGS, "--user-data-dir=" + str(tmp_path / "profile2"), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert dom.count("<table>") >= 3 and dom.count("<svg") >= 5
    assert "Krippendorff" in dom


def test_fidelity_report_renders_in_chromium_with_scores_profiles_and_action_lists(tmp_path, chartcode_exe):
    chromium = require_tool("chromium")
    subprocess.run(
        [chartcode_exe, "demo", "--audit", "ibbis-fidelity", "--dir", str(tmp_path)], check=True, capture_output=True
    )
    page = tmp_path / "fidelity.html"
    subprocess.run(
        [chartcode_exe, "report", str(tmp_path / "ibbis-demo.db"), "--out", str(page), "--bootstrap", "50"],
        check=True,
        capture_output=True,
    )
    shot = tmp_path / "fidelity.png"
    r = subprocess.run(
        [
            chromium,
            *FLAGS,
            "--user-data-dir=" + str(tmp_path / "profile"),
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=420,2400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert shot.exists() and shot.stat().st_size > 10_000, r.stderr[-2000:]
    console = [line for line in r.stderr.splitlines() if "CONSOLE" in line]
    assert not console, console
    dom = subprocess.run(
        [chromium, *FLAGS, "--user-data-dir=" + str(tmp_path / "profile2"), "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "Fidelity: " in dom
    for team in ("Team North", "Team East", "Team South"):
        assert f"<h2>{team}</h2>" in dom
    assert dom.count("item ratings") >= 3  # an item profile chart per team (SVG title text)
    assert dom.count("Action list, 2025-H2") == 3
    assert "Scores by unit and period" in dom
