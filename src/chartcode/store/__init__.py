"""The audit database. Never imports Textual; safe from worker threads."""

from chartcode.store.store import CodeChange, Store, utcnow

__all__ = ["CodeChange", "Store", "utcnow"]
