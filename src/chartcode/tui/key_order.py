"""Keys reach the field that was focused when they were typed, however fast they come.

Textual routes each key the moment the app dequeues it: to whatever has focus *then*. The
consequences of the previous key travel through other queues (the entry's Changed message,
the screen's auto-save, the focus change the save makes via ``call_later``), so a digit typed
60 ms after a count field that saves itself could be routed to the count field's entry before
the screen had moved focus to the next field. ``KeyRouter`` hands keys to Textual one at a
time and routes the next key only once the previous one has settled: every message pump on
the path from the target up to the app (the target, its ancestors, the screen, the app) has
processed everything queued, including the focus change. Nothing is dropped or reordered;
a key simply waits (typically well under a millisecond) for the one before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from textual import events, messages

from chartcode.store import ConnectionLost
from chartcode.tui.keytrace import KeyTrace
from chartcode.tui.writer import server_away

if TYPE_CHECKING:
    from textual.app import App
    from textual.dom import DOMNode
    from textual.message_pump import MessagePump

# A key waits at most this long for the previous one to settle; a handler busy for longer
# than this has bigger problems, and input must not stop for it.
SETTLE_LIMIT_SECONDS = 2.0
_MAX_PASSES = 50


# What a screen refresh posts (a layout pass sends Resize/Show/Hide to the widgets it moved, a
# repaint Update/Layout, call_after_refresh InvokeLater, Prompt): none of it moves focus or codes
# anything, so a key does not wait for it. Waiting for it made each key wait for every layout
# and paint the previous key caused (a layout's Resize events trigger more refreshes): on a
# busy machine two or three passes of 100-300 ms each, before the next key was even routed.
_DRAWING: tuple[type, ...] = (
    events.Resize,
    events.Show,
    events.Hide,
    events.Idle,
    messages.Update,
    messages.Layout,
    messages.UpdateScroll,
    messages.InvokeLater,
    messages.Prompt,  # a nudge that wakes a pump, never dispatched
)


def _idle(pump: MessagePump) -> bool:
    """Nothing queued on ``pump`` that could change where the next key goes."""
    if pump._next_callbacks:
        return False
    queue: Any = pump._message_queue
    if queue.qsize() == 0:
        return True
    pending = _pending(queue)
    return pending is not None and all(isinstance(m, _DRAWING) for m in pending)


def _pending(queue: object) -> list[object] | None:
    """The messages in a pump's queue (Textual's own Queue keeps them in ``values``, the
    asyncio.Queue older Textual used in ``_queue``); None when neither is there."""
    values = getattr(queue, "values", None)
    if values is None:
        values = getattr(queue, "_queue", None)
    return None if values is None else list(values)


async def _barrier(pump: MessagePump) -> None:
    """Return once ``pump`` has processed every message queued before this call (and the one
    it is in the middle of): a callback posted behind them runs only after them."""
    done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def passed() -> None:
        if not done.done():  # the wait may have been given up (SETTLE_LIMIT_SECONDS)
            done.set_result(None)

    if pump.call_later(passed):
        await done


async def settle(app: App, target: DOMNode, trace: KeyTrace | None = None) -> None:
    """Return once the target, its ancestors and the app, and whatever now has focus, have
    processed everything queued, with nothing left queued after a pass of barriers."""
    for _ in range(_MAX_PASSES):
        focused = app.focused or app.screen
        pumps = list(dict.fromkeys([*target.ancestors_with_self, *focused.ancestors_with_self]))
        await asyncio.gather(*(_barrier(p) for p in pumps))
        busy = [p for p in pumps if not _idle(p)]
        moved = (app.focused or app.screen) is not focused
        if not busy and not moved:
            return
        if trace is not None:  # what kept the key waiting
            trace.mark("settle_pass", "focus moved" if moved else "", *(_queued(p) for p in busy))


def _queued(pump: MessagePump) -> str:
    names = ",".join(type(m).__name__ for m in _pending(pump._message_queue) or ())
    return f"{type(pump).__name__}:{pump._message_queue.qsize()}:{names}+{len(pump._next_callbacks)}"


class KeyRouter:
    """Feeds key events to ``dispatch`` one at a time, each after the previous has settled."""

    def __init__(
        self,
        app: App,
        dispatch: Callable[[events.Key], Awaitable[None]],
        trace: KeyTrace | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.app = app
        self.clock = clock
        self.trace = trace  # CHARTCODE_KEY_TRACE (tui/keytrace.py): the app's, when it keeps one
        self._dispatch = dispatch
        self._keys: asyncio.Queue[events.Key] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.last_key: float | None = None  # clock() when the last key was put

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="chartcode-key-router")

    def since_last_key(self) -> float | None:
        """Seconds since the last key came in (None before the first): widgets that are not the
        field being coded wait for a pause before they redraw (tui/widgets/footer.py)."""
        return None if self.last_key is None else self.clock() - self.last_key

    def put(self, event: events.Key) -> None:
        self.last_key = self.clock()
        if self.trace is not None:  # event.time: when Textual's input thread parsed the key
            self.trace.mark("key", event.time)
        self._keys.put_nowait(event)

    def pending(self) -> int:
        return self._keys.qsize()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            event = await self._keys.get()
            target: DOMNode = self.app.focused or self.app.screen
            trace = self.trace
            try:
                if trace is not None:
                    trace.mark("dispatch")
                await self._dispatch(event)
                if trace is not None:
                    trace.mark("dispatched")
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(settle(self.app, target, trace), SETTLE_LIMIT_SECONDS)
                if trace is not None:
                    trace.mark("settled")
            except ConnectionLost as error:  # what the key needed could not be read from the server
                server_away(self.app, error)
            except Exception as error:  # as Textual's own message loop does: the app reports it and exits
                self.app._handle_exception(error)
                return
