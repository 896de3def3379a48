"""codebooks/README.md is for codebook authors: every YAML example in it passes `codebook check`,
and it names no machine's paths or internal Python APIs."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "codebooks" / "README.md"


def test_every_yaml_example_is_a_valid_codebook(cli, tmp_path):
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 2
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(block, encoding="utf-8")
        r = cli("codebook", "check", path)
        assert r.code == 0, f"example {i}: {r.out}{r.err}"


def test_no_machine_paths_or_internal_apis():
    text = README.read_text(encoding="utf-8")
    for leak in ("/work/", "venv/bin", "Store.", "src/chartcode", ".py"):
        assert leak not in text, leak
