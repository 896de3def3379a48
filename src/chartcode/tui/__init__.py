"""The Textual user interface: a thin shell over the store (the only package that imports Textual)."""
