"""Writes to the store, one after another, off the UI thread.

Coding actions must commit in the order the keys were pressed, and a commit may wait for
another process's write lock; so one long-lived Textual thread worker takes jobs from a
queue and posts a message back when each has committed (or failed).
"""

from __future__ import annotations

import itertools
import queue
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from textual.message import Message
from textual.widget import Widget

_STOP = object()


@dataclass
class Job:
    id: int
    fn: Callable[[], Any]
    kind: str
    context: Any
    submitted: float
    committed: float | None = None  # perf_counter when the transaction returned


class Saved(Message):
    """A job committed; ``result`` is what its function returned."""

    def __init__(self, job: Job, result: Any, seconds: float) -> None:
        super().__init__()
        self.job = job
        self.result = result
        self.seconds = seconds


class SaveFailed(Message):
    def __init__(self, job: Job, error: BaseException) -> None:
        super().__init__()
        self.job = job
        self.error = error


class Waiting(Message):
    """A write is waiting for another program's write lock (posted about once a second from the
    writer thread, then once with ``waiting`` False when the wait ends). The job stays queued,
    and every job after it, in order: nothing is dropped."""

    def __init__(self, seconds: float, waiting: bool) -> None:
        super().__init__()
        self.seconds = seconds
        self.waiting = waiting

    def text(self, queued: int) -> str:
        return f"waiting for the database ({int(self.seconds)} s), {queued} change(s) kept in order"


class StoreWriter:
    """Owns the queue; ``target`` receives Saved / SaveFailed messages."""

    def __init__(self, target: Widget):
        self.target = target
        self._queue: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self._started = False
        self.last_job: Job | None = None

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._app = self.target.app
            self.target.run_worker(
                self._loop, thread=True, name="store-writer", group="store-writer", exit_on_error=False
            )

    def submit(self, fn: Callable[[], Any], kind: str, context: Any = None) -> Job:
        job = Job(next(self._ids), fn, kind, context, time.perf_counter())
        self.last_job = job
        self._queue.put(job)
        return job

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def drain(self, timeout: float | None = None) -> bool:
        """Wait (in a thread) until every submitted job has committed or failed; without a
        timeout, as long as that takes (a write waiting for another program's lock included)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    def stop(self) -> None:
        """End the worker after the jobs already queued (nothing submitted is dropped)."""
        self._queue.put(_STOP)

    def _loop(self) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        while True:
            try:
                job = self._queue.get(timeout=0.25)
            except queue.Empty:
                # Nothing queued: stop if the app is gone (however it ended).
                if worker.is_cancelled or not self._app.is_running:
                    return
                continue
            try:
                if job is _STOP:
                    return
                try:
                    result = job.fn()
                except BaseException as exc:  # reported to the screen, which decides what to say
                    self.target.post_message(SaveFailed(job, exc))
                else:
                    job.committed = time.perf_counter()
                    self.target.post_message(Saved(job, result, job.committed - job.submitted))
            finally:
                self._queue.task_done()
