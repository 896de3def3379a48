"""Bring notes and codes into an audit database: atomic, streaming, line-numbered errors."""
