"""The README's Python examples run as written (in a scratch folder: they save files)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def test_the_readme_has_examples():
    assert len(BLOCKS) >= 3


@pytest.mark.skipif(shutil.which("dot") is None, reason="the examples render with Graphviz's dot")
@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_readme_example_runs(index, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(BLOCKS[index], f"README.md example {index + 1}", "exec"), {"__name__": "readme"})
    written = {path.name for path in tmp_path.iterdir()}
    for name in re.findall(r'render\("(\w+)", format="(\w+)"', BLOCKS[index]):
        assert f"{name[0]}.{name[1]}" in written
