"""End-to-end tests in a real terminal (tmux). On CI the tools must be there: no skipping."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{name} is required on CI (.ci/run installs it)")
        pytest.skip(f"{name} is not installed on this machine (apt-get install {name})")
    return path


@pytest.fixture
def chartcode_exe() -> str:
    """The installed `chartcode` console script of this Python environment."""
    exe = Path(sys.executable).parent / "chartcode"
    if not exe.exists():
        pytest.fail(f"{exe} not found: install the package (pip install .)")
    return str(exe)
