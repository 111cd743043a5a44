"""nn by job (issue 20): one validation module with one wording, no private names imported
across modules, the loops free of their commands, and ``python -m nn train|gpt``."""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import nn
from autograd import Value
from nn import MLP, SGD, Embedding, Linear, Neuron, make_blobs, make_moons
from nn.cli import build_parser as train_parser
from nn.gpt_cli import build_parser as gpt_parser

ROOT = Path(__file__).resolve().parent.parent
NN = ROOT / "nn"
OTHER_HELPERS = {"nn._extra", "nn._autograd_check"}  # private modules of the package's own


def message(call) -> str:
    """The message of the TypeError or ValueError that ``call()`` raises."""
    try:
        call()
    except (TypeError, ValueError, argparse.ArgumentTypeError) as error:
        return str(error)
    raise AssertionError("no error")


def argument(parser: argparse.ArgumentParser, dest: str, text: str):
    """A call parsing ``text`` as the command-line option ``dest`` of ``parser``."""
    parse = next(action.type for action in parser._actions if action.dest == dest)
    return lambda: parse(text)


def adam_steps(steps):
    state = nn.Adam([Value(1.0)]).state_dict()
    return lambda: nn.Adam([Value(1.0)]).load_state_dict({**state, "steps": steps})


@pytest.mark.parametrize("call", [
    lambda: Neuron(0),
    lambda: MLP(2, [0]),
    lambda: Embedding(0, 4),
    lambda: Linear(2, 0),
    lambda: make_moons(1),
    adam_steps(-1),
    argument(train_parser(), "steps", "0"),
    argument(gpt_parser(), "samples", "-1"),
], ids=["Neuron", "MLP", "Embedding", "Linear", "make_moons", "Adam.load_state_dict",
        "--steps", "--samples"])
def test_every_int_rule_has_one_wording(call):
    text = message(call)
    assert "must be an int >= " in text, text


@pytest.mark.parametrize("call", [
    lambda: Embedding(3, 4, std=-1.0),
    lambda: make_blobs(10, cluster_std=-1.0),
    lambda: make_moons(10, noise=-1.0),
    lambda: SGD([Value(1.0)], lr=-1.0),
    argument(train_parser(), "l2", "-1"),
], ids=["Embedding", "make_blobs", "make_moons", "SGD", "--l2"])
def test_every_non_negative_rule_has_one_wording(call):
    text = message(call)
    assert "must be a finite number >= 0" in text, text


def nn_modules():
    return sorted(path for path in NN.glob("*.py"))


@pytest.mark.parametrize("path", nn_modules(), ids=lambda path: path.name)
def test_no_private_name_is_imported_across_nn_modules(path):
    tree = ast.parse(path.read_text())
    private = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "nn":
            if node.module in OTHER_HELPERS:
                continue
            private += [f"{node.module}.{alias.name}" for alias in node.names
                        if alias.name.startswith("_")]
            if any(part.startswith("_") for part in node.module.split(".")):
                private.append(node.module)
    assert not private, f"{path.name} imports private names: {private}"


@pytest.mark.parametrize(("loop", "command"), [("nn.train", "nn.cli"),
                                                ("nn.gpt", "nn.gpt_cli")])
def test_a_training_loop_imports_nothing_of_its_command(loop, command):
    code = f"import sys, {loop}; print(sorted(m for m in sys.modules if m.startswith('nn.')))"
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    loaded = run.stdout
    assert f"'{loop}'" in loaded and f"'{command}'" not in loaded


def test_neurons_forward_is_not_public():
    assert "neurons_forward" not in nn.__all__ and not hasattr(nn, "neurons_forward")


@pytest.mark.parametrize(("args", "status", "says"), [
    (["train", "--samples", "10", "--steps", "2", "--hidden", "4", "--json"], 0, '"status"'),
    (["gpt", "--steps", "2", "--samples", "1", "--json"], 0, '"status"'),
    (["train", "--help"], 0, "usage: python -m nn train "),
    (["gpt", "--help"], 0, "usage: python -m nn gpt "),
    (["--help"], 0, "usage: python -m nn {train,gpt} [ARGS]"),
    ([], 2, "usage: python -m nn {train,gpt} [ARGS]"),
    (["fit"], 2, "unknown command 'fit'; choose train or gpt"),
])
def test_python_m_nn_runs_both_commands(args, status, says):
    run = subprocess.run([sys.executable, "-m", "nn", *args], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == status, run.stderr
    assert says in run.stdout + run.stderr
    if args[-1:] == ["--json"]:
        assert json.loads(run.stdout.splitlines()[-1])["status"] == "completed"
