"""The interpreter settings an interactive screen needs, so a keystroke is never the one that pays
for housekeeping.

- Garbage collection: a full collection walks every tracked object (120k-140k once the app is
  up: modules, codebook, widgets), 150-200 ms on the UI thread, about every 4 s of coding. After
  start-up everything alive is frozen (``gc.freeze``: never walked again), young collections run
  less often, and the full collection that is still needed runs when the coder pauses.
  Young collections too run between keys: a timer collects the young generations once the keys
  have paused YOUNG_IDLE_S, so the allocation count never reaches the automatic threshold while
  a key is on its way to its commit (traced: a middle-generation collection took 140-160 ms of
  CPU, up to 640 ms on a busy machine, inside a keystroke). The threshold stays as the backstop.
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
# The young generations are normally collected between keys (collect_when_idle), which resets
# the counts; the automatic collection is the backstop for typing that never pauses (a paste):
# every 100,000 net allocations (not 700; one key allocates 10,000-30,000 objects), the middle
# generation every 20 of those, the full one every 10 middle ones, so garbage cycles stay bounded.
GC_THRESHOLDS = (100_000, 20, 10)
# The young generations are collected from the housekeeping timer (every TICK_S) once the keys
# have paused this long and this many allocations have built up: a few thousand objects each
# time, a millisecond or two, never inside a key's handling.
TICK_S = 0.1
YOUNG_IDLE_S = 0.05
YOUNG_MIN_ALLOCATIONS = 2_000
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
        self.young_collections = 0

    def after_startup(self) -> None:
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        gc.collect()
        gc.freeze()  # what start-up built stays for the session: never walked again
        gc.set_threshold(*GC_THRESHOLDS)
        gc.enable()  # off while the screen started (start_without_collections)

    def key(self) -> None:
        self.last_key = self.clock()

    def collect_when_idle(self) -> None:
        """Run from a timer (every TICK_S): the young generations once the keys have paused
        YOUNG_IDLE_S; a full collection once they have paused IDLE_BEFORE_GC_S, at most every 10 s."""
        now = self.clock()
        idle = now - self.last_key
        if idle >= YOUNG_IDLE_S and gc.get_count()[0] >= YOUNG_MIN_ALLOCATIONS:
            gc.collect(1)
            self.young_collections += 1
        if idle >= IDLE_BEFORE_GC_S and now - self.last_gc >= MIN_GC_INTERVAL_S:
            gc.collect()
            self.last_gc = self.clock()
            self.collections += 1
