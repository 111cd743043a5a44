"""The training command end to end, in-process through ``main([...])``."""

from __future__ import annotations

import json
import math
import os
import runpy
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import nn
import nn.cli
import nn.train
from autograd._install import install_command
from nn import MLP, SGD
from nn.cli import main
from nn.train import History, TrainingDiverged, train
from tests.conftest import without

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


# --- the command's outputs are checked before training (issue 13, D12) ------------------------

SMALL = ["--samples", "10", "--steps", "2", "--hidden", "4"]


@pytest.fixture
def no_training(monkeypatch):
    """Make any training fail the test: the checks must come first."""
    def refuse(*args, **kwargs):
        raise AssertionError("training started before the outputs were checked")

    monkeypatch.setattr(nn.cli, "train", refuse)


@pytest.mark.parametrize(("option", "make", "message"), [
    ("--out", lambda d: (d / "afile").write_text("x") and d / "afile", "this is a file"),
    ("--out", lambda d: (d / "afile").write_text("x") and d / "afile" / "plots",
     "cannot create the folder"),
    ("--save", lambda d: d, "it is a folder"),
    ("--save", lambda d: (d / "afile").write_text("x") and d / "afile" / "m.json",
     "cannot create the folder|is a file, not a folder"),
])
def test_bad_output_paths_exit_2_before_training(tmp_path, capsys, no_training, option, make,
                                                  message):
    path = make(tmp_path)
    with pytest.raises(SystemExit) as error:
        main([*SMALL, option, str(path)])
    assert error.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and option in err
    assert any(part in err for part in message.split("|"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_a_read_only_save_target_exits_2_before_training(tmp_path, capsys, no_training):
    target = tmp_path / "m.json"
    nn.save({"b": 1.0}, target)
    os.chmod(target, 0o444)
    with pytest.raises(SystemExit) as error:
        main([*SMALL, "--save", str(target)])
    assert error.value.code == 2 and "read-only" in capsys.readouterr().err


def test_missing_output_folders_are_made(tmp_path, capsys):
    summary = run_json(capsys, *SMALL, "--save", str(tmp_path / "a" / "b" / "m.json"))
    assert summary["saved"] == str(tmp_path / "a" / "b" / "m.json")
    assert nn.load(tmp_path / "a" / "b" / "m.json")


# --- divergence and Ctrl-C (issue 13, D13) ----------------------------------------------------

DIVERGES = [*SMALL, "--hidden", "16,16", "--steps", "50", "--lr", "1e6"]


def test_divergence_is_reported_with_a_json_line(tmp_path, capsys):
    saved = tmp_path / "m.json"
    assert main([*DIVERGES, "--json", "--save", str(saved)]) == 1
    out = capsys.readouterr().out.strip().splitlines()
    summary = json.loads(out[-1])
    assert summary["status"] == "diverged" and summary["accuracy"] is None
    assert "training diverged at step" in summary["reason"]
    assert "learning rate" in summary["reason"]
    assert not saved.exists()


def test_divergence_message_without_json(capsys):
    assert main(DIVERGES) == 1
    err = capsys.readouterr().err
    assert "training diverged at step" in err and "nothing was saved" in err
    assert "Traceback" not in err


def test_ctrl_c_saves_the_last_completed_step(tmp_path, capsys, monkeypatch):
    real_train = nn.train.train

    def step(k, loss, accuracy):
        if k == 3:
            raise KeyboardInterrupt

    def train_then_interrupt(*args, on_step, **kwargs):
        def both(k, loss, accuracy):
            on_step(k, loss, accuracy)
            step(k, loss, accuracy)

        return real_train(*args, on_step=both, **kwargs)

    monkeypatch.setattr(nn.cli, "train", train_then_interrupt)
    saved = tmp_path / "m.json"
    assert main([*SMALL, "--steps", "50", "--json", "--save", str(saved)]) == 130
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["status"] == "interrupted" and summary["steps_completed"] == 3
    # the file holds the model after exactly 3 steps of the same run
    X, y = nn.make_moons(10, noise=0.1, random_state=0)
    model = MLP(2, [4, 1], seed=0)
    with pytest.raises(KeyboardInterrupt):
        real_train(model, X, y, SGD(model.parameters(), lr=1.0), steps=50,
                   on_step=lambda k, loss, accuracy: step(k, loss, accuracy))
    assert nn.load(saved) == model.state_dict()


@pytest.mark.skipif(os.name != "posix", reason="sends SIGINT")
def test_sigint_exits_130_cleanly_and_saves(tmp_path):
    saved = tmp_path / "m.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "nn.train", "--steps", "100000", "--samples", "50", "--save",
         str(saved)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.readline()  # the header: training has begun
    time.sleep(0.3)
    process.send_signal(signal.SIGINT)
    try:
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()  # a hung command is not left running after the test
    assert process.returncode == 130, err
    assert "Traceback" not in err and "interrupted after" in err
    model = MLP(2, [16, 16, 1], seed=0)
    model.load_state_dict(nn.load(saved))


def test_train_undoes_a_step_cut_short(monkeypatch):
    X, y = nn.make_moons(20, noise=0.1, random_state=0)
    model = MLP(2, [4, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=0.5)
    train(model, X, y, optimizer, steps=2)
    after_two = model.state_dict()
    real_step = optimizer.step

    def half_a_step():
        optimizer.params[0].data += 1.0  # part of the update happened
        raise KeyboardInterrupt

    monkeypatch.setattr(optimizer, "step", half_a_step)
    with pytest.raises(KeyboardInterrupt):
        train(model, X, y, optimizer, steps=2)
    assert model.state_dict() == after_two and optimizer.lr == 0.5
    monkeypatch.setattr(optimizer, "step", real_step)


def test_train_raises_training_diverged_and_keeps_the_last_finite_parameters():
    X, y = nn.make_moons(20, noise=0.1, random_state=0)
    model = MLP(2, [8, 1], seed=0)
    optimizer = SGD(model.parameters(), lr=1e6)
    seen = []
    with pytest.raises(TrainingDiverged) as error:
        train(model, X, y, optimizer, steps=50, on_step=lambda k, *_: seen.append(
            [p.data for p in model.parameters()]))
    assert error.value.step == len(seen) + 1 == len(error.value.history.losses) + 1
    reason = error.value.reason  # whole, but for the engine's list of an op's inputs
    assert " at inputs [" not in reason and not reason.endswith("...")
    assert all(math.isfinite(p.data) for p in model.parameters())
    if seen:
        assert [p.data for p in model.parameters()] == seen[-1]


# --- --compile: record once, replay (issue 19) ---------------------------------------------------

@pytest.mark.parametrize(("dataset", "optimizer"), [("moons", "sgd"), ("blobs", "adam"),
                                                    ("circles", "adamw")])
def test_compile_gives_the_same_losses_and_model(tmp_path, capsys, dataset, optimizer):
    """Bit for bit: every step's loss and accuracy, and the saved model."""
    summaries = []
    for flag in ([], ["--compile"]):
        saved = tmp_path / f"model{len(flag)}.json"
        args = [*SMALL, "--dataset", dataset, "--optimizer", optimizer, "--steps", "6"]
        if dataset == "circles":
            args += ["--loss", "bce"]
        assert main([*args, *flag, "--json", "--save", str(saved)]) == 0
        summaries.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    assert [s["compile"] for s in summaries] == [False, True]
    assert summaries[0]["final_loss"] == summaries[1]["final_loss"]
    assert (tmp_path / "model0.json").read_bytes() == (tmp_path / "model1.json").read_bytes()


def test_compiled_training_history_is_the_eager_one():
    X, y = nn.make_moons(20, noise=0.1, random_state=0)
    histories, models = [], []
    for compile in (False, True):
        model = MLP(2, [8, 8, 1], seed=0)
        histories.append(train(model, X, y, nn.Adam(model.parameters(), lr=0.05), steps=5,
                               compile=compile))
        models.append(model.state_dict())
    assert histories[0].losses == histories[1].losses
    assert histories[0].accuracies == histories[1].accuracies
    assert models[0] == models[1]


def test_compiled_training_diverges_as_the_eager_one(capsys):
    reasons = []
    for flag in ([], ["--compile"]):
        assert main([*DIVERGES, *flag, "--json"]) == 1
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        reasons.append((summary["steps_completed"], summary["reason"]))
    assert reasons[0] == reasons[1]


# --- the command's names and its extra (issue 9 item 5, issue 11 item 6) ----------------------

def test_help_calls_the_command_by_its_name(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert capsys.readouterr().out.startswith("usage: chainrule-train ")
    run = subprocess.run([sys.executable, "-m", "nn.train", "--help"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert run.stdout.startswith("usage: python -m nn.train ")


def test_python_dash_m_nn_train_still_trains():
    run = subprocess.run([sys.executable, "-m", "nn.train", *SMALL, "--json"], cwd=ROOT,
                         capture_output=True, text=True, check=True)
    assert json.loads(run.stdout.splitlines()[-1])["status"] == "completed"


def test_the_script_entry_point_is_the_cli():
    tomllib = pytest.importorskip("tomllib")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["chainrule-train"].partition(":")
    assert (module, function) == ("nn.cli", "main")


HINT = install_command("nn")  # as chainrule was installed: 'pip install "chainrule[nn]"' from PyPI


def test_import_nn_without_numpy_gives_the_install_hint(tmp_path):
    run = subprocess.run([sys.executable, "-c", "import nn"], env=without(tmp_path, "numpy"),
                         capture_output=True, text=True)
    assert run.returncode == 1
    assert f"ModuleNotFoundError: nn needs numpy, part of chainrule's [nn] extra: {HINT}" in \
        run.stderr


@pytest.mark.parametrize(("module", "command"), [
    ("numpy", ["-m", "nn.train", *SMALL]),
    ("numpy", ["-c", "import sys; sys.argv[0] = '/venv/bin/chainrule-train'; "
                     "from nn.cli import main; sys.exit(main())"]),
    ("tqdm", ["-m", "nn.train", *SMALL]),
    ("matplotlib", ["-m", "nn.train", *SMALL, "--out", "never-made"]),
])
def test_the_command_without_its_extra_prints_one_line(tmp_path, module, command):
    run = subprocess.run([sys.executable, *command], env=without(tmp_path, module),
                         cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"needs {module}" in lines[0] and HINT in lines[0]
    assert not (tmp_path / "never-made").exists()
