"""A computation on data this process already holds, run in a forked child on another CPU while
this process goes on, its result sent back through a pipe (pickled).

    with Forked(fit_models, frame, specs) as models:
        agreement = agreement_table(store)  # meanwhile, here
        analyses = models.result()          # what fit_models(frame, specs) returns

For CPU-bound work that reads nothing but its arguments: the child must not use a database
connection, a file or a lock of this process's. It never returns: it leaves by ``os._exit``, so no
finalizer, ``atexit`` hook or buffered file of this process's runs or is flushed there (an SQLite
connection closed in the child could checkpoint or unlink the parent's WAL).

The result is the function's in every case: when there is no ``os.fork``, when other threads are
alive (a lock one holds would stay held in the child), when the fork fails, or when the child fails,
is killed or sends what cannot be read, ``result()`` calls the function here, so an error is raised
here, with its own traceback, exactly as without a child. A block left before ``result()`` (an
error) kills and reaps the child.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def can_fork() -> bool:
    """A child may be forked here: the platform has fork and this process runs one thread."""
    if not hasattr(os, "fork") or threading.active_count() != 1:
        return False
    try:
        return len(os.sched_getaffinity(0)) > 1  # one CPU: a child only takes turns with this process
    except AttributeError:  # not on Linux
        return (os.cpu_count() or 1) > 1


def give_back_freed_memory() -> None:
    """Return the heap this process has freed to the system (glibc's ``malloc_trim``), before a
    child is forked: a child starts with this process's resident memory, freed pages included (54
    MB of a report's 214 MB after a 100,000-record read). Elsewhere than on glibc: nothing."""
    import ctypes

    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return
    trim(0)


class Forked(Generic[T]):
    """``fn(*args)`` in a forked child from construction on; :meth:`result` gives its value."""

    def __init__(self, fn: Callable[..., T], *args: Any, run: bool = True) -> None:
        """``run=False``: no child; :meth:`result` calls ``fn`` here (for work too small for a process)."""
        self._fn, self._args = fn, args
        self._child: tuple[int, int] | None = None  # (pid, read end of its pipe)
        self.forked = False  # a child was started (for tests and benches)
        if run and can_fork():
            with contextlib.suppress(OSError):  # no process to be had (EAGAIN, ENOMEM): run here later
                self._child = self._start()
                self.forked = True

    def _start(self) -> tuple[int, int]:
        read, write = os.pipe()
        gc.freeze()  # the child's collections do not touch (and so copy) this process's objects
        try:
            pid = os.fork()
        except BaseException:
            gc.unfreeze()
            os.close(read)
            os.close(write)
            raise
        if pid:
            gc.unfreeze()
            os.close(write)
            return pid, read
        code = 1
        try:  # the child: never returns, whatever happens
            os.close(read)
            data = pickle.dumps(self._fn(*self._args), protocol=pickle.HIGHEST_PROTOCOL)
            view = memoryview(data)
            while view:
                view = view[os.write(write, view) :]
            code = 0
        finally:
            os._exit(code)

    def result(self) -> T:
        """The function's value: the child's, or, if it had none to give, computed here."""
        child, self._child = self._child, None
        if child is not None:
            got = _collect(*child)
            if got is not None:
                return got[0]
        return self._fn(*self._args)

    def cancel(self) -> None:
        """Stop the child, if one runs, and reap it."""
        child, self._child = self._child, None
        if child is not None:
            with contextlib.suppress(OSError):
                os.kill(child[0], signal.SIGKILL)
            _collect(*child)

    def __enter__(self) -> Forked[T]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.cancel()


def _collect(pid: int, fd: int) -> tuple[Any] | None:
    """(value,) that the child sent before exiting 0; None if it failed or sent nothing readable."""
    chunks = []
    try:
        while chunk := os.read(fd, 1 << 20):  # read before waiting: a large result fills the pipe
            chunks.append(chunk)
    except OSError:
        chunks = []
    except BaseException:  # e.g. Ctrl-C while waiting: the child is stopped, not waited for
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
        raise
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    if not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0 or not chunks:
        return None
    try:
        return (pickle.loads(b"".join(chunks)),)
    except Exception:  # noqa: BLE001 - a value that cannot be read back is computed here instead
        return None
