"""The interpreter settings an interactive screen needs, so a keystroke is never the one that pays
for housekeeping.

- Garbage collection: a full collection walks every tracked object (120k-140k once the app is
  up: modules, codebook, widgets), 150-200 ms on the UI thread, about every 4 s of coding. After
  start-up everything alive is frozen (``gc.freeze``: never walked again), young collections run
  less often, and the full collection that is still needed runs when the coder pauses.
- Start-up: no collection runs until the first screen is drawn (:func:`start_without_collections`).
  Importing Textual and building the screen allocates ~130k objects that all stay alive, so the
  collections the default thresholds trigger meanwhile free nothing: they cost ~0.09 s of CPU, a
  tenth of the start-up (100k-note audit). ``after_startup`` collects once, freezes, and turns
  collection back on.
- Thread switching: the writer thread and Textual's input thread wait for the interpreter lock
  up to the switch interval (5 ms) while the UI thread draws; 1 ms hands a commit or a key over
  sooner at a negligible cost in throughput.
"""

from __future__ import annotations

import contextlib
import gc
import sys
import time
from collections.abc import Callable, Iterator

SWITCH_INTERVAL_S = 0.001
# Young collections every 20,000 net allocations (not 700), the middle generation every 20 of
# those; the full collection normally runs in the coder's pauses (collect_when_idle, which resets
# the counts) and only otherwise every 10 middle ones (~650 keys), so garbage cycles stay bounded.
GC_THRESHOLDS = (20_000, 20, 10)
# A pause this long is reading, not typing (a full collection takes 100-200 ms, more when the
# machine is busy): shorter pauses between keys never get one.
IDLE_BEFORE_GC_S = 2.0
MIN_GC_INTERVAL_S = 10.0


@contextlib.contextmanager
def start_without_collections() -> Iterator[None]:
    """Garbage collection off while a screen starts; ``Housekeeping.after_startup`` turns it back on
    once the first screen is drawn, and leaving this block does if the screen never started."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


class Housekeeping:
    """Start-up tuning plus a full collection in the coder's pauses; ``key()`` on every key."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.last_key = clock()
        self.last_gc = clock()
        self.collections = 0

    def after_startup(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        gc.collect()
        gc.freeze()  # what start-up built stays for the session: never walked again
        gc.set_threshold(*GC_THRESHOLDS)
        gc.enable()  # off while the screen started (start_without_collections)

    def key(self) -> None:
        self.last_key = self.clock()

    def collect_when_idle(self) -> None:
        """Run from a timer: a full collection once the keys have paused, at most every 10 s."""
        now = self.clock()
        if now - self.last_key >= IDLE_BEFORE_GC_S and now - self.last_gc >= MIN_GC_INTERVAL_S:
            gc.collect()
            self.last_gc = self.clock()
            self.collections += 1
