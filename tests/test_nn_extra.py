"""nn._extra: a missing package's hint names the extra of the command that runs, by any of its
names (``chainrule-gpt``, ``python -m nn gpt``, ``python -m nn.gpt``, ``python -m nn.gpt_cli``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from autograd._install import install_command
from nn._extra import module_run
from tests.conftest import WASM, without

pytestmark = pytest.mark.skipif(WASM, reason="runs the commands as processes")


@pytest.mark.parametrize(("argv", "run"), [
    (["python", "-m", "nn", "gpt", "--steps", "5"], ("nn", ["gpt", "--steps", "5"])),
    (["python", "-mnn", "gpt"], ("nn", ["gpt"])),
    (["python", "-I", "-X", "dev", "-W", "error", "-m", "nn.gpt"], ("nn.gpt", [])),
    (["python", "-Xdev", "-Im", "nn.gpt_cli", "-m", "x"], ("nn.gpt_cli", ["-m", "x"])),
    (["python", "--check-hash-based-pycs", "always", "-m", "nn"], ("nn", [])),
    (["python", "-X", "importtime", "-m", "nn.train"], ("nn.train", [])),  # an m in a value
    (["python", "script.py", "-m", "nn", "gpt"], None),
    (["python", "-c", "import nn", "-m", "nn"], None),
    (["python", "-Ic", "pass"], None),
    (["python", "-", "-m", "nn"], None),
    (["python"], None),
    ([], None),
])
def test_module_run_reads_the_interpreters_command_line(argv, run):
    assert module_run(argv) == run


GPT_HINT = f"part of chainrule's [gpt] extra: {install_command('gpt')}"
NN_HINT = f"part of chainrule's [nn] extra: {install_command('nn')}"


@pytest.mark.parametrize(("command", "hint"), [
    (["-m", "nn", "gpt", "--steps", "1"], GPT_HINT),
    (["-X", "dev", "-m", "nn", "gpt", "--steps", "1"], GPT_HINT),
    (["-m", "nn.gpt_cli", "--steps", "1"], GPT_HINT),
    (["-m", "nn", "train", "--steps", "1"], NN_HINT),  # the other command keeps its own extra
    (["-m", "nn", "--help"], NN_HINT),
], ids=["nn-gpt", "options-first", "nn.gpt_cli", "nn-train", "nn-help"])
def test_each_name_of_a_command_gets_its_extras_hint(tmp_path, command, hint):
    """Without numpy, ``import nn`` fails before the command runs: the one line names the extra
    that installs everything the command needs (``[gpt]`` includes ``[nn]``)."""
    run = subprocess.run([sys.executable, *command], env=without(tmp_path, "numpy"),
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1 and run.stdout == ""
    assert run.stderr.strip() == f"nn needs numpy, {hint}"
