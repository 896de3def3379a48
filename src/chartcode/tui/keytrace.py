"""Per-key timestamps, to find where a slow key's time goes instead of guessing.

``CHARTCODE_KEY_TRACE=FILE chartcode code ...`` records, for every key, when Textual's input thread
parsed it, when the app received it and dispatched it, when the screen queued its write, when the
writer began and committed the transaction and when the screen heard back; and around them every
screen refresh and garbage collection. The events stay in memory (a few tuples per key: nothing
is written while the coder types) and are written, one tab-separated line each, when the app
exits (0600, atomically). Each line: ``time.monotonic()`` seconds, the event, the thread, that
thread's CPU seconds (``time.thread_time()``: what the work cost, when the machine is too busy
for wall times to say), then the event's details. Monotonic seconds are the clock another process on
the machine reads too (bench/terminal_latency.py lines them up with the keys it sent). Nothing
from the notes or codes is recorded: event names, job ids and kinds, GC generations.

The app owns its trace (``ChartcodeApp.key_trace``, made by :func:`from_env` when the app is built;
:func:`of` finds it from any widget's app); without the variable it is None and each call site costs
one comparison. The app writes the trace when it unmounts (and at exit, if it never did).
"""

from __future__ import annotations

import atexit
import gc
import os
import threading
import time
from pathlib import Path
from typing import Any

ENV = "CHARTCODE_KEY_TRACE"


class KeyTrace:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.events: list[tuple[Any, ...]] = []
        self._gc_started = (0.0, 0.0)
        self._closed = False
        gc.callbacks.append(self._gc)
        atexit.register(self.write)

    def mark(self, name: str, *extra: Any) -> None:
        # list.append is atomic under the interpreter lock: the UI, writer and input threads all mark
        self.events.append((time.monotonic(), name, threading.current_thread().name, time.thread_time(), *extra))

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = (time.monotonic(), time.thread_time())
        else:
            thread, generation = threading.current_thread().name, info.get("generation")
            self.events.append((*self._gc_started[:1], "gc", thread, self._gc_started[1], generation))
            self.events.append((time.monotonic(), "gc_end", thread, time.thread_time(), generation))

    def wrap(self, obj: object, method: str, name: str) -> None:
        """Mark ``name`` and ``name_end`` around every call of ``obj.method`` (an instance attribute
        that shadows the class's method, so nothing changes for objects that are not traced)."""
        inner = getattr(obj, method)

        def traced(*args: Any, **kwargs: Any) -> Any:
            self.mark(name)
            try:
                return inner(*args, **kwargs)
            finally:
                self.mark(f"{name}_end")

        setattr(obj, method, traced)

    def write(self) -> None:
        from chartcode.files import atomic_write_text

        lines = ["\t".join(f"{x:.6f}" if isinstance(x, float) else str(x) for x in e) for e in sorted(self.events)]
        atomic_write_text(self.path, "\n".join(lines) + "\n")

    def close(self) -> None:
        """Write the trace and stop recording garbage collections (the app unmounts)."""
        if self._closed:
            return
        self._closed = True
        if self._gc in gc.callbacks:
            gc.callbacks.remove(self._gc)
        atexit.unregister(self.write)
        self.write()


def from_env() -> KeyTrace | None:
    """A trace to the file ``CHARTCODE_KEY_TRACE`` names, or None when it is not set."""
    path = os.environ.get(ENV)
    return KeyTrace(Path(path)) if path else None


def of(app: object) -> KeyTrace | None:
    """The trace of ``app`` (a ChartcodeApp's ``key_trace``); None for an app that keeps none."""
    trace = getattr(app, "key_trace", None)
    return trace if isinstance(trace, KeyTrace) else None
