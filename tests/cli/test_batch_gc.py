"""Batch commands collect garbage in fewer, larger batches (chartcode.gc_policy): the collector's
default thresholds cost an export of 100,000 records about a sixth of its time."""

from __future__ import annotations

import subprocess
import sys

from chartcode import gc_policy


def _thresholds_after(script: str) -> tuple[int, ...]:
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    return tuple(int(x) for x in out.stdout.split()[-3:])


def test_a_command_runs_with_the_batch_thresholds() -> None:
    script = "import gc\nfrom chartcode.cli import run\nrun(['--version'])\nprint(*gc.get_threshold())\n"
    assert _thresholds_after(script) == gc_policy.BATCH_THRESHOLDS


def test_the_batch_thresholds_still_collect_every_generation() -> None:
    young, middle, old = gc_policy.BATCH_THRESHOLDS
    assert 700 < young <= 200_000  # larger batches, still a bounded amount of garbage between them
    assert middle > 0 and old > 0  # 0 would turn a generation's collection off for good


def test_garbage_cycles_are_freed_under_the_batch_thresholds() -> None:
    script = (
        "import gc, weakref\n"
        "from chartcode import gc_policy\n"
        "gc_policy.for_batch_work()\n"
        "class Node: pass\n"
        "first = Node(); first.me = first; alive = weakref.ref(first); del first\n"
        "for _ in range(300_000): a = [];  a.append(a)\n"  # cyclic garbage past the young threshold
        "print(int(alive() is None), 0, 0)\n"
    )
    assert _thresholds_after(script)[0] == 1
