"""Writes to the store, one after another, off the UI thread.

Coding actions must commit in the order the keys were pressed, and a commit may wait for
another process's write lock; so one long-lived Textual thread worker takes jobs from a
queue and posts a message back when each has committed (or failed).

Checkpoints (copying the WAL into the database file, with an fsync) are kept out of the
keystroke's commit: the store's automatic checkpoint is pushed far out, and a second thread,
with its own connection, runs a passive checkpoint once the coder pauses. A passive checkpoint
never blocks a commit, and a commit is durable in the WAL before it is acknowledged
(synchronous=FULL), so nothing acknowledged depends on it.
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

# Checkpoint after this many commits once the writer has been idle CHECKPOINT_IDLE_S, or after
# any commits once it has been idle CHECKPOINT_LONG_IDLE_S: small checkpoints, between keys.
CHECKPOINT_AFTER_COMMITS = 16
CHECKPOINT_IDLE_S = 0.15
CHECKPOINT_LONG_IDLE_S = 1.0


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

    def __init__(self, target: Widget, checkpoint: Callable[[], Any] | None = None):
        self.target = target
        self._queue: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self._started = False
        self.last_job: Job | None = None
        self._checkpoint = checkpoint
        self._commits = 0  # since the last checkpoint
        self._last_commit = time.monotonic()
        self.checkpoints = 0

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._app = self.target.app
            self.target.run_worker(
                self._loop, thread=True, name="store-writer", group="store-writer", exit_on_error=False
            )
            if self._checkpoint is None:  # the app's store, when the app has one
                store: Any = getattr(self._app, "store", None)  # looked up on the type: a team server has none
                self._checkpoint = store.checkpoint if hasattr(type(store), "checkpoint") else None
            if self._checkpoint is not None:
                self.target.run_worker(
                    self._checkpoints, thread=True, name="store-checkpoint", group="store-writer", exit_on_error=False
                )

    def _checkpoints(self) -> None:
        from textual.worker import get_current_worker

        worker = get_current_worker()
        assert self._checkpoint is not None
        while not worker.is_cancelled and self._app.is_running and not self._stopped:
            time.sleep(0.05)
            if not self._commits or self._queue.unfinished_tasks:
                continue
            idle = time.monotonic() - self._last_commit
            if (self._commits >= CHECKPOINT_AFTER_COMMITS and idle >= CHECKPOINT_IDLE_S) or (
                idle >= CHECKPOINT_LONG_IDLE_S
            ):
                self._commits = 0
                if self._checkpoint() is not None:  # None: it could not run now; it runs later
                    self.checkpoints += 1

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

    _stopped = False

    def stop(self) -> None:
        """End the worker after the jobs already queued (nothing submitted is dropped)."""
        self._stopped = True
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
                    self._commits += 1
                    self._last_commit = time.monotonic()
                    self.target.post_message(Saved(job, result, job.committed - job.submitted))
            finally:
                self._queue.task_done()
