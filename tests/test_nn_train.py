"""The training command end to end, in-process through ``main([...])``."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

import nn
from nn import MLP, SGD
from nn.cli import main
from nn.train import History, train

ROOT = Path(__file__).resolve().parent.parent


def run_json(capsys, *args) -> dict:
    assert main([*args, "--json"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    return json.loads(lines[-1])


def test_small_run_end_to_end(tmp_path, capsys):
    out, saved = tmp_path / "plots", tmp_path / "models" / "moons.json"
    summary = run_json(capsys, "--samples", "40", "--steps", "40", "--hidden", "8,8",
                       "--out", str(out), "--save", str(saved))
    assert summary["dataset"] == "moons" and summary["steps"] == 40
    assert summary["accuracy"] >= 0.9
    assert summary["final_loss"] < 0.5
    assert summary["seconds"] > 0 and summary["seconds_per_step"] > 0
    for name in ("decision_boundary.png", "loss.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 1000
    assert sorted(summary["plots"]) == sorted(str(out / n) for n in ("decision_boundary.png",
                                                                       "loss.png"))
    # the saved model reproduces the reported accuracy
    model = MLP(2, [8, 8, 1], seed=0)
    model.load_state_dict(nn.load(saved))
    X, y = nn.make_moons(40, noise=0.1, seed=0)
    hits = [(model(x).data > 0) == (t == 1) for x, t in zip(X.tolist(), y.tolist())]
    assert sum(hits) / len(hits) == summary["accuracy"]


def test_human_output(capsys):
    assert main(["--samples", "20", "--steps", "3", "--hidden", "4"]) == 0
    out = capsys.readouterr().out
    assert "MLP(2, [4, 1], activation='relu')" in out and "training accuracy" in out


@pytest.mark.parametrize(("args", "loss"), [
    (["--dataset", "blobs", "--optimizer", "adam"], "cross_entropy"),
    (["--dataset", "circles", "--optimizer", "adamw", "--activation", "tanh"], "hinge"),
    (["--dataset", "spirals", "--loss", "bce", "--schedule", "constant"], "bce"),
    (["--dataset", "moons", "--loss", "cross_entropy", "--activation", "gelu"], "cross_entropy"),
    (["--hidden", "", "--l2", "0"], "hinge"),
])
def test_other_datasets_losses_and_optimizers(capsys, args, loss):
    summary = run_json(capsys, "--samples", "30", "--steps", "15", "--hidden", "6", *args)
    assert summary["loss"] == loss
    assert 0.0 <= summary["accuracy"] <= 1.0


def test_blobs_are_learned(capsys):
    summary = run_json(capsys, "--dataset", "blobs", "--samples", "60", "--steps", "30",
                       "--hidden", "8", "--optimizer", "adam")
    assert summary["accuracy"] >= 0.9
    assert summary["model"] == "MLP(2, [8, 3], activation='relu')"


def test_the_default_demo_reaches_100_percent(capsys):
    summary = run_json(capsys)
    assert summary["accuracy"] == 1.0
    assert summary["model"] == "MLP(2, [16, 16, 1], activation='relu')"
    assert summary["parameters"] == 337


@pytest.mark.parametrize("args", [
    ["--hidden", "16,x"],
    ["--hidden", "16,0"],
    ["--hidden", "16,,16"],
    ["--steps", "0"],
    ["--steps", "-3"],
    ["--steps", "1.5"],
    ["--samples", "0"],
    ["--lr", "-1"],
    ["--lr", "0"],
    ["--lr", "nan"],
    ["--lr", "fast"],
    ["--l2", "-1e-4"],
    ["--seed", "-1"],
    ["--dataset", "mnist"],
    ["--optimizer", "rmsprop"],
    ["--activation", "swish"],
    ["--dataset", "blobs", "--loss", "hinge"],
    ["--dataset", "blobs", "--samples", "2"],
    ["--no-such-flag"],
])
def test_bad_arguments_exit_2(capsys, args):
    with pytest.raises(SystemExit) as error:
        main(args)
    assert error.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_help_exits_0(capsys):
    with pytest.raises(SystemExit) as error:
        main(["--help"])
    assert error.value.code == 0
    assert "--dataset" in capsys.readouterr().out


def test_train_function_records_history():
    X, y = nn.make_moons(30, seed=1)
    model = MLP(2, [8, 1], seed=1)
    opt = SGD(model.parameters(), lr=0.5)
    seen = []
    history = train(model, X, y, opt, steps=6, on_step=lambda *a: seen.append(a))
    assert isinstance(history, History)
    assert len(history.losses) == len(history.accuracies) == len(history.step_seconds) == 6
    assert [s for s, _, _ in seen] == [1, 2, 3, 4, 5, 6]
    assert opt.lr == 0.5  # the schedule restores the learning rate it started from
    assert history.losses[-1] < history.losses[0]
    with pytest.raises(ValueError, match="one output"):
        train(MLP(2, [4, 2], seed=0), X, y, SGD([nn.Neuron(1).bias], lr=0.1), steps=1)
    with pytest.raises(ValueError, match="unknown loss"):
        train(model, X, y, opt, steps=1, loss="l1")


def test_examples_demo_runs(capsys):
    runpy.run_path(str(ROOT / "examples" / "demo.py"), run_name="__main__")
    assert "accuracy 100%" in capsys.readouterr().out.strip().splitlines()[-1]
