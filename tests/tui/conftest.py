"""Fixtures for driving the Textual app headless with Pilot."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from chartcode.demo import build_demo
from chartcode.store import Store
from chartcode.tui.app import ChartcodeApp


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    return build_demo(tmp_path_factory.mktemp("demo-template"))


@pytest.fixture
def demo_db(demo_template, tmp_path) -> Path:
    """A fresh copy of the demo audit for one test."""
    target = tmp_path / "demo.db"
    for suffix in ("", "-wal"):
        src = Path(f"{demo_template}{suffix}")
        if src.exists():
            shutil.copy(src, f"{target}{suffix}")
    return target


def make_app(db: Path, coder: str = "intern") -> ChartcodeApp:
    return ChartcodeApp(Store.open(db), coder, frozen_clock=True)


async def settle(pilot) -> None:
    """Wait until every write has committed and its message has been handled."""
    screen = pilot.app.coding_screen
    for _ in range(500):
        await pilot.pause()
        if screen is None or (not screen.writer.pending() and not screen.pending):
            await pilot.pause()
            return
        await asyncio.sleep(0.01)
    raise AssertionError("writes did not settle")


def run(coro):
    return asyncio.run(coro)
