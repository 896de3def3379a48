"""Reports: a self-contained HTML page or Markdown, built from the audit database."""

from chartcode.report.build import build_report

__all__ = ["build_report"]
