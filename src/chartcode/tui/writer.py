"""Writes to the store, one after another, off the UI thread.

Coding actions must commit in the order the keys were pressed, and a commit may wait for
another process's write lock; so one long-lived Textual thread worker takes jobs from a
queue and posts a message back when each has committed (or failed).

Checkpoints (copying the WAL into the database file, with an fsync) are kept out of the
keystroke's commit: the store's automatic checkpoint is pushed far out, and a second thread,
with its own connection, runs a passive checkpoint once the coder pauses. A passive checkpoint
never blocks a commit, and a commit is durable in the WAL before it is acknowledged
(synchronous=FULL), so nothing acknowledged depends on it.

On a team server the connection can go away (the server restarts, an administrator ends the
session, the network drops). The store then raises ConnectionLost, and the writer sends the same
job again, after a short and growing pause, until the server answers, posting Waiting
("reconnecting") meanwhile; the jobs behind it wait their turn, in order. A job is only reported
Saved once its transaction has committed. Each job carries a key of its own that its writes are
sent with (``store.request(key)``): when a COMMIT's reply was lost, the server has recorded the
key with the write, so the job sent again gets the recorded result back instead of writing twice.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from textual.message import Message
from textual.widget import Widget

from chartcode.store import ConnectionLost
from chartcode.tui import keytrace

_STOP = object()

# Checkpoint after this many commits once the writer has been idle CHECKPOINT_IDLE_S, or after
# any commits once it has been idle CHECKPOINT_LONG_IDLE_S: small checkpoints, between keys.
CHECKPOINT_AFTER_COMMITS = 16
CHECKPOINT_IDLE_S = 0.15
CHECKPOINT_LONG_IDLE_S = 1.0

# commit_first waits at most this long for a key's commit before the key's redraw goes ahead.
COMMIT_FIRST_S = 0.05

# Pauses before sending a job again after a lost connection: at once (a stale connection, the server
# is up), then growing to one attempt a second while the server is away.
RECONNECT_PAUSES_S = (0.0, 0.05, 0.1, 0.2, 0.5)
RECONNECT_PAUSE_MAX_S = 1.0

LOCK = "lock"
RECONNECTING = "reconnecting"


@dataclass
class Job:
    id: int
    fn: Callable[[], Any]
    kind: str
    context: Any
    submitted: float
    committed: float | None = None  # perf_counter when the transaction returned
    key: str = ""  # sent with the job's writes on every attempt (store.request), so none lands twice
    attempts: int = 0
    finished: threading.Event = field(default_factory=threading.Event)  # committed or failed


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
    """A write is waiting: for another program's write lock (``reason`` LOCK), or for the team
    server to answer again (RECONNECTING). Posted about once a second from the writer thread, then
    once with ``waiting`` False when the wait ends. The job stays queued, and every job after it, in
    order: nothing is dropped."""

    def __init__(self, seconds: float, waiting: bool, reason: str = LOCK) -> None:
        super().__init__()
        self.seconds = seconds
        self.waiting = waiting
        self.reason = reason

    def text(self, queued: int) -> str:
        if self.reason == RECONNECTING:
            return f"reconnecting to the server ({int(self.seconds)} s), {queued} change(s) kept in order"
        return f"waiting for the database ({int(self.seconds)} s), {queued} change(s) kept in order"


def server_away(app: Any, error: ConnectionLost) -> None:
    """A key's action needed a read from the team server and the server is away: the action is
    dropped (the key can be pressed again), the app and every change queued for the server stay."""
    app.notify(
        f"{error}. Changes already typed are kept in order and sent when it answers.",
        title="Server not answering",
        severity="warning",
        timeout=8,
    )


class StoreWriter:
    """Owns the queue; ``target`` receives Saved / SaveFailed messages."""

    def __init__(self, target: Widget, checkpoint: Callable[[], Any] | None = None, store: Any = None) -> None:
        self.target = target
        self._store = store  # the app's store when None: its request() keys each job's writes
        self._queue: queue.Queue = queue.Queue()
        self._ids = itertools.count(1)
        self._started = False
        self.last_job: Job | None = None
        self._checkpoint = checkpoint
        self._commits = 0  # since the last checkpoint
        self._last_commit = time.monotonic()
        self.checkpoints = 0
        self._checkpointing = threading.Lock()
        self._trace: keytrace.KeyTrace | None = None  # the app's (CHARTCODE_KEY_TRACE), from start()

    def start(self) -> None:
        if not self._started:
            self._started = True
            self._app = self.target.app
            self._trace = keytrace.of(self._app)
            self.target.run_worker(
                self._loop, thread=True, name="store-writer", group="store-writer", exit_on_error=False
            )
            if self._store is None:
                self._store = getattr(self._app, "store", None)
            if self._checkpoint is None and hasattr(type(self._store), "checkpoint"):
                # looked up on the type: a team server has none (it checkpoints itself)
                self._checkpoint = self._store.checkpoint
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
                with self._checkpointing:  # stop() waits for it: the store is closed after
                    if self.stopped() or not self._app.is_running:  # stop() may have run meanwhile
                        return
                    if self._trace is not None:
                        self._trace.mark("checkpoint")
                    done = self._checkpoint()
                    if self._trace is not None:
                        self._trace.mark("checkpoint_end")
                if done is not None:  # None: it could not run now; it runs later
                    self.checkpoints += 1

    def submit(self, fn: Callable[[], Any], kind: str, context: Any = None) -> Job:
        job = Job(next(self._ids), fn, kind, context, time.perf_counter(), key=uuid.uuid4().hex)
        self.last_job = job
        if self._trace is not None:
            self._trace.mark("submit", job.id, kind)
        self._queue.put(job)
        return job

    def pending(self) -> int:
        return self._queue.unfinished_tasks

    def commit_first(self, job: Job, timeout: float | None = None) -> bool:
        """UI thread, right after ``submit``: wait (at most ``timeout``) until ``job`` has committed
        or failed, so the redraw the key causes next does not compete with its transaction for the
        interpreter lock (the UI thread waits without it; the writer runs alone). A commit that
        waits longer (another program's write lock, a team server reconnecting, a slow disk) is
        not waited for: the screen redraws and hears Saved later, as before. Keys typed meanwhile
        wait in Textual's input queue, in order. True when the job finished in time (``timeout``:
        COMMIT_FIRST_S)."""
        if timeout is None:
            timeout = COMMIT_FIRST_S
        if not self._started or self._stopped:
            return job.finished.is_set()
        if self._trace is not None:
            self._trace.mark("commit_wait", job.id)
        done = job.finished.wait(timeout)
        if self._trace is not None:
            self._trace.mark("commit_wait_end", job.id, done)
        return done

    def drain(self, timeout: float | None = None) -> bool:
        """Wait (in a thread) until every submitted job has committed or failed; without a
        timeout, as long as that takes (a write waiting for another program's lock included)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.005)
        return not self._queue.unfinished_tasks

    _stopped = False

    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the worker after the jobs already queued (nothing submitted is dropped), and
        wait for a checkpoint under way to finish: the app closes the store's connections next,
        and closing one while its checkpoint runs on another thread crashed the process."""
        self._stopped = True
        self._queue.put(_STOP)
        with self._checkpointing:
            pass

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
                self._run(job, worker)
            finally:
                if job is not _STOP:
                    job.finished.set()
                self._queue.task_done()

    def _attempt(self, job: Job) -> Any:
        job.attempts += 1
        if self._trace is not None:
            self._trace.mark("begin", job.id, job.kind)
        request = getattr(type(self._store), "request", None)
        again = job.attempts > 1
        with request(self._store, job.key, again=again) if request is not None else contextlib.nullcontext():
            return job.fn()

    def _run(self, job: Job, worker: Any) -> None:
        """Send ``job`` until it commits or fails for a reason other than a lost connection."""
        lost_since: float | None = None
        pauses = iter(RECONNECT_PAUSES_S)
        while True:
            try:
                result = self._attempt(job)
            except ConnectionLost:
                now = time.monotonic()
                if lost_since is None:
                    lost_since = now
                self.target.post_message(Waiting(now - lost_since, True, RECONNECTING))
                if not self._pause(next(pauses, RECONNECT_PAUSE_MAX_S), worker):
                    return  # the app is gone: nothing more is sent (nothing was shown as saved)
                continue
            except BaseException as exc:  # reported to the screen, which decides what to say
                self._reconnected(lost_since)
                self.target.post_message(SaveFailed(job, exc))
            else:
                if self._trace is not None:
                    self._trace.mark("commit", job.id, job.kind)
                job.committed = time.perf_counter()
                self._commits += 1
                self._last_commit = time.monotonic()
                self._reconnected(lost_since)
                self.target.post_message(Saved(job, result, job.committed - job.submitted))
            return

    def _reconnected(self, lost_since: float | None) -> None:
        """The wait for the server is over (posted before the job's own result, which then shows)."""
        if lost_since is not None:
            self.target.post_message(Waiting(time.monotonic() - lost_since, False, RECONNECTING))

    def _pause(self, seconds: float, worker: Any) -> bool:
        """Sleep ``seconds`` unless the app ends meanwhile (False)."""
        deadline = time.monotonic() + seconds
        while True:
            if worker.is_cancelled or not self._app.is_running:
                return False
            left = deadline - time.monotonic()
            if left <= 0:
                return True
            time.sleep(min(left, 0.05))
