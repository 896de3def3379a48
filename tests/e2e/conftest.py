"""End-to-end tests in a real terminal (tmux) and browser. On CI the tools must be there: no skipping."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.tmux import Tmux


def require_tool(name: str) -> str:
    """The tool's path; skips on a machine without it, but FAILS on CI (CI=true), where it must be installed."""
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required on CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed on this machine (apt-get install {name})")
    return path


@pytest.fixture
def tmux(tmp_path) -> Iterator[Tmux]:
    """A private tmux server (own socket, no ~/.tmux.conf, fixed env), killed after the test, pass or fail."""
    require_tool("tmux")
    server = Tmux(home=tmp_path / "home")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def chartcode_exe() -> str:
    """The installed `chartcode` console script of this Python environment."""
    exe = Path(sys.executable).parent / "chartcode"
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the package (pip install .)")
    return str(exe)
