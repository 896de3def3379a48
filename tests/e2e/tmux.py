"""A private tmux server for one end-to-end test: the only way tests here talk to tmux.

Why private: tmux's default socket is shared by every tmux user of the machine, so a test
that used it could see another user's server (their ~/.tmux.conf, window sizes, a
`kill-server`) and fail with "no server running" while passing alone. Here each test gets
its own socket (``-S`` in a fresh temporary folder), no user config (``-f /dev/null``), a
fixed environment and a fixed window size, and the server is killed in teardown.

Why no sleeps: on a loaded machine an app may take seconds to react. Every step waits
on what the screen (or the database) shows, polling until a predicate holds or a
generous timeout passes; a timeout fails with the last screen captured.

Usage (the ``tmux`` fixture in conftest.py makes and kills the server)::

    tmux.start([chartcode_exe, "code", str(db), "--coder", "intern"])
    tmux.wait_for("VET-019 · note 1 of")
    tmux.type("3")                # literal text, as typed
    tmux.press("C-q")             # named keys, as tmux spells them
    assert tmux.wait_for_exit() == 0
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

#: Seconds a wait may take before it fails; doubled on CI, where machines are shared and slow.
#: CHARTCODE_E2E_TIMEOUT (seconds) overrides both.
DEFAULT_TIMEOUT = float(os.environ.get("CHARTCODE_E2E_TIMEOUT") or (60 if os.environ.get("CI") == "true" else 30))
POLL_SECONDS = 0.05
WIDTH, HEIGHT = 120, 40
SESSION = "e2e"
#: Printed by the pane's shell when the command under test ends (see ``start``).
EXIT_MARK = "chartcode-e2e: exit status"
EXIT_RE = re.compile(re.escape(EXIT_MARK) + r" (\d+)")

Expect = str | re.Pattern[str] | Callable[[str], bool]


def describe(expect: Expect) -> str:
    if isinstance(expect, str):
        return repr(expect)
    if isinstance(expect, re.Pattern):
        return f"/{expect.pattern}/"
    return getattr(expect, "__name__", repr(expect))


def matches(expect: Expect, screen: str) -> bool:
    if isinstance(expect, str):
        return expect in screen
    if isinstance(expect, re.Pattern):
        return expect.search(screen) is not None
    return bool(expect(screen))


class Tmux:
    """One tmux server on its own socket, running one session; see the module docstring."""

    def __init__(self, home: Path | None = None, *, timeout: float = DEFAULT_TIMEOUT):
        # A short folder of our own: a unix socket path must stay under ~100 bytes, and
        # pytest's tmp_path (long test names) can be longer than that.
        self.dir = Path(tempfile.mkdtemp(prefix="chartcode-tmux-", dir="/tmp" if Path("/tmp").is_dir() else None))
        self.socket = self.dir / "sock"
        self.timeout = timeout
        home = home or self.dir / "home"
        home.mkdir(parents=True, exist_ok=True)
        # The server (and every pane it starts) inherits this and nothing else from the test
        # process: no TMUX, COLUMNS/LINES, NO_COLOR, TEXTUAL_* or the user's HOME leak in.
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
            "HOME": str(home),
            "SHELL": "/bin/sh",
            "TERM": "xterm-256color",  # the (absent) client's terminal; panes get default-terminal
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "TMUX_TMPDIR": str(self.dir),
        }
        self.started = False
        self.server_pid: int | None = None
        self.last_screen = ""
        self.output = ""  # set by wait_for_exit

    # ------------------------------------------------------------------ low level
    def run(self, *args: str, check: bool = True) -> str:
        """``tmux -S <our socket> -f /dev/null ARGS``; stdout. A failure names the command and tmux's words."""
        cmd = [shutil.which("tmux") or "tmux", "-S", str(self.socket), "-f", "/dev/null", *args]
        r = subprocess.run(
            cmd, capture_output=True, text=True, env=self.env, stdin=subprocess.DEVNULL, timeout=max(self.timeout, 30)
        )
        if check and r.returncode != 0:
            raise AssertionError(
                f"{' '.join(cmd)} failed ({r.returncode}): {r.stderr.strip()}\nlast screen:\n{self.last_screen}"
            )
        return r.stdout

    def display(self, fmt: str) -> str:
        return self.run("display-message", "-p", "-t", SESSION, fmt).strip()

    # ------------------------------------------------------------------ lifecycle
    def start(self, argv: Sequence[str], *, width: int = WIDTH, height: int = HEIGHT, cwd: Path | None = None) -> None:
        """Start the server and a session of ``width`` x ``height`` running ``argv`` (no shell parsing of it).

        The command runs under a small shell that, when it ends, prints ``EXIT_MARK <status>``
        and then idles, so the pane and its last output stay for ``wait_for_exit`` (a pane whose
        process exits at once can lose its last output in tmux). remain-on-exit keeps the pane
        even if that shell dies, so a failure shows a screen rather than "no server running".
        """
        assert not self.started, "one session per server"
        wrapper = f'"$@"; echo "{EXIT_MARK} $?"; exec tail -f /dev/null'
        self.started = True  # from here on kill() runs kill-server, even if starting fails halfway
        self.run(
            "start-server",
            ";",
            "set-option",
            "-g",
            "remain-on-exit",
            "on",
            ";",
            "set-option",
            "-g",
            "default-terminal",
            "tmux-256color",
            ";",
            "set-option",
            "-g",
            "history-limit",
            "2000",
            ";",
            "set-option",
            "-g",
            "status",
            "off",
            ";",
            "new-session",
            "-d",
            "-s",
            SESSION,
            "-x",
            str(width),
            "-y",
            str(height),
            "-c",
            str(cwd or self.dir),
            "/bin/sh",
            "-c",
            wrapper,
            "chartcode-e2e",
            *argv,
        )
        self.server_pid = int(self.display("#{pid}"))
        size = self.display("#{window_width}x#{window_height}")
        assert size == f"{width}x{height}", f"the tmux window is {size}, not {width}x{height}"

    def kill(self) -> None:
        """Kill the server (its panes get SIGHUP) and remove the socket folder; safe to call twice."""
        if self.started:
            self.run("kill-server", check=False)
            if self.server_pid is not None:
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and _alive(self.server_pid):
                    time.sleep(POLL_SECONDS)
                if _alive(self.server_pid):
                    os.kill(self.server_pid, signal.SIGKILL)
            self.started = False
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------------ keys
    def type(self, text: str) -> None:
        """Send ``text`` literally, as if typed (no key-name lookup: "C-q" would be three characters)."""
        self.run("send-keys", "-t", SESSION, "-l", "--", text)

    def press(self, *keys: str) -> None:
        """Send named keys as tmux spells them: ``Enter``, ``Escape``, ``C-q``, ``Down``…"""
        self.run("send-keys", "-t", SESSION, *keys)

    # ------------------------------------------------------------------ screen
    def capture(self, *, history: bool = False) -> str:
        """The visible screen as text (``history``: with the scrollback, wrapped lines joined)."""
        args = ["-J", "-S", "-"] if history else []
        self.last_screen = self.run("capture-pane", "-p", *args, "-t", SESSION)
        return self.last_screen

    def wait_for(self, expect: Expect, *, timeout: float | None = None) -> str:
        """The screen, once ``expect`` (text on it, a regex matching it, or a predicate of it) holds."""

        def shown() -> str | None:
            screen = self.capture()
            return screen if matches(expect, screen) else None

        return self.wait_until(shown, f"{describe(expect)} on the screen", timeout=timeout)

    def wait_until(self, condition: Callable[[], T], what: str, *, timeout: float | None = None) -> T:
        """Poll ``condition`` (a screen, a database…) until it is truthy; its value.

        A timeout fails saying ``what`` was awaited, with the last screen captured.
        """
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                break
            time.sleep(POLL_SECONDS)
        try:
            screen = self.capture(history=True)
        except AssertionError as e:  # the server itself is gone
            screen = f"(no screen: {e})"
        raise AssertionError(
            f"waited {timeout:.0f} s for {what}; it never held. The last screen was:\n"
            f"{'-' * 40}\n{screen.rstrip()}\n{'-' * 40}"
        )

    def wait_for_exit(self, *, timeout: float | None = None) -> int:
        """Wait for the command to end; its exit status (128 + N when killed by signal N).

        ``output`` then holds everything the pane printed, scrollback included, with wrapped
        lines joined (a long error message is one line).
        """

        def ended() -> re.Match[str] | None:
            return EXIT_RE.search(self.capture(history=True))

        status = int(self.wait_until(ended, f"the command to end ({EXIT_MARK} N)", timeout=timeout).group(1))
        self.output = self.last_screen
        return status

    def app_pid(self) -> int:
        """The pid of the command under test (the child of the pane's shell)."""
        shell = int(self.display("#{pane_pid}"))

        def child() -> int | None:
            for stat in Path("/proc").glob("[0-9]*/stat"):
                try:
                    fields = stat.read_text().rsplit(")", 1)[1].split()
                except (OSError, IndexError):
                    continue
                if int(fields[1]) == shell:  # fields after "(comm)": state, ppid, ...
                    return int(stat.parent.name)
            return None

        return self.wait_until(child, f"a child process of the pane's shell (pid {shell})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (not yet reaped) counts as gone
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True
