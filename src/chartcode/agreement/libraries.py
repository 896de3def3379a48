"""The statistics libraries agreement calls, imported as light as they can be.

statsmodels' ``inter_rater`` (Cohen's and Fleiss' kappa) starts with ``from scipy import stats``
and uses it in one place only: ``KappaResults`` (the z test and the confidence interval of
``cohens_kappa(..., return_results=True)``). Agreement asks for the number alone
(``return_results=False``) and never reaches it, but importing scipy.stats brings most of scipy
(optimize, integrate, interpolate, spatial, special, ndimage, fft, linalg). Likewise statsmodels'
package imports ``statsmodels.tools.tools``, which starts with ``import scipy.linalg`` and uses it
in functions only. :func:`inter_rater` imports the module with stand-ins for those two
(:class:`_OnFirstUse`), each of which imports the real module the first time anything is looked up
on it: the functions are statsmodels' own, unchanged, and a caller that does want
``KappaResults`` gets them, at the import's cost then.

A stand-in is in ``sys.modules`` only while inter_rater's own import runs, and only when the real
module has not been imported yet; afterwards ``import scipy.stats`` anywhere gives the real module.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import Any

# what the coefficients use (coefficients.py, registry.py, design.py, collect.py): imported by
# chartcode.agreement.read in a thread while SQLite scans. statsmodels imports pandas itself
# (statsmodels.tools), scipy.sparse is the design's pattern sums.
LIBRARIES = ("pandas", "scipy.sparse", "krippendorff", "statsmodels.stats.inter_rater")

# module-level imports of statsmodels.stats.inter_rater and of what it imports (statsmodels' package
# imports statsmodels.tools.tools, which starts with ``import scipy.linalg``) used only in functions
# agreement does not call
_DEFERRED = ("scipy.stats", "scipy.linalg")


class _OnFirstUse(types.ModuleType):
    """Stands in for a module: the first attribute looked up imports the real module and is read from it."""

    def __getattr__(self, name: str) -> Any:
        if sys.modules.get(self.__name__) is self:  # used while it still stands in: make way for the real one
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def inter_rater() -> types.ModuleType:
    """``statsmodels.stats.inter_rater``, imported without importing scipy.stats for it (see the module
    docstring)."""
    if "statsmodels.stats.inter_rater" in sys.modules or all(name in sys.modules for name in _DEFERRED):
        return importlib.import_module("statsmodels.stats.inter_rater")  # (waits for an import under way)
    placed = {}
    for name in _DEFERRED:
        stand_in = _OnFirstUse(name)
        if sys.modules.setdefault(name, stand_in) is stand_in:  # (one step: another thread's import may race)
            placed[name] = stand_in
    try:
        return importlib.import_module("statsmodels.stats.inter_rater")
    finally:
        for name, stand_in in placed.items():
            if sys.modules.get(name) is stand_in:  # not replaced by the real module meanwhile
                del sys.modules[name]


def import_libraries() -> None:
    """Import :data:`LIBRARIES` (statsmodels' inter_rater through :func:`inter_rater`); an import that
    fails stops here, quietly: the caller's own import says so, in its thread."""
    for name in LIBRARIES:
        try:
            if name == "statsmodels.stats.inter_rater":
                inter_rater()
            else:
                importlib.import_module(name)
        except ImportError:
            return
