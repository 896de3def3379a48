"""chartcode: code EHR chart notes against codebooks, measure agreement, reconcile, report."""

__version__ = "0.1.0"
