"""The end-to-end harness itself: CI never skips a missing tool, and each test's tmux is its own."""

from __future__ import annotations

import re

import pytest

from tests.e2e import conftest
from tests.e2e.tmux import Tmux, _alive

pytestmark = pytest.mark.e2e


def test_a_missing_tool_fails_on_ci(monkeypatch):
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="tmux is required on CI"):
        conftest.require_tool("tmux")


def test_a_missing_tool_skips_on_a_laptop_saying_why(monkeypatch):
    monkeypatch.setattr(conftest.shutil, "which", lambda name: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="chromium is not installed"):
        conftest.require_tool("chromium")


def test_the_server_is_private_sized_and_has_a_fixed_environment(monkeypatch):
    conftest.require_tool("tmux")
    monkeypatch.setenv("COLUMNS", "33")  # the test process's terminal must not leak in
    monkeypatch.setenv("TMUX", "/tmp/someone-elses-socket,1,0")
    server = Tmux()
    try:
        server.start(["sh", "-c", 'stty size; echo "T=$TERM L=$LC_ALL C=${COLUMNS-unset} X=${TMUX%%,*}"; sleep 60'])
        screen = server.wait_for("T=")
        assert "40 120" in screen
        # The pane's TMUX names our socket, so every tmux call from it would go to our server too.
        assert f"T=tmux-256color L=C.UTF-8 C=unset X={server.socket}" in screen, screen
        assert server.run("show-options", "-g", "remain-on-exit").strip() == "remain-on-exit on"
    finally:
        server.kill()


def test_a_wait_that_times_out_shows_the_last_screen(tmux):
    tmux.start(["sh", "-c", "echo the app says hello; sleep 60"])
    tmux.wait_for("hello")
    with pytest.raises(AssertionError, match=re.compile(r"waited 1 s for 'goodbye'.*the app says hello", re.S)):
        tmux.wait_for("goodbye", timeout=1)


def test_exit_status_and_last_output_survive_a_command_that_ends_at_once(tmux):
    tmux.start(["sh", "-c", "echo bye; exit 3"])
    assert tmux.wait_for_exit() == 3
    assert "bye" in tmux.output


def test_kill_stops_the_server_and_removes_its_socket():
    conftest.require_tool("tmux")
    server = Tmux()
    server.start(["sleep", "60"])
    pid = server.server_pid
    assert server.socket.exists() and _alive(pid)
    server.kill()
    assert not _alive(pid) and not server.dir.exists()
    server.kill()  # twice is harmless (teardown after a test that killed it itself)
