"""The training command: ``python -m nn.train`` trains an MLP on a toy 2-D dataset.

By default it is micrograd's demo: 100 points of the two moons (noise 0.1), ``MLP(2, [16, 16,
1])`` with relu, the hinge loss plus ``1e-4 * Σ p²``, and full-batch SGD whose learning rate
falls linearly from 1.0 to 0.1 over the run (micrograd's ``1.0 - 0.9 * k / steps``). It reaches
100% training accuracy within the 100 steps, in about a second.

    python -m nn.train --out results/demo            # plots: decision_boundary.png, loss.png
    python -m nn.train --dataset spirals --optimizer adam --steps 300   # 100% in ~3 s
    python -m nn.train --json                        # one JSON summary line for scripts

Each step builds the graph of the whole batch, backpropagates and updates, with CPython's cycle
collector paused (``autograd.gc_paused``): the graph has no reference cycles, so the collector
would only rescan the growing graph again and again; reference counting frees it after the step.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import autograd
from autograd import Value, gc_paused, no_grad
from nn.data import make_blobs, make_circles, make_moons, make_spirals
from nn.losses import binary_cross_entropy_with_logits, cross_entropy, hinge_loss
from nn.module import ACTIVATIONS, MLP, Module
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.serialization import save

_BLOB_CENTERS = [[1.5 * math.cos(a), 1.5 * math.sin(a)]  # three centers 120° apart
                 for a in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]

DATASETS: dict[str, Callable[[int, int], tuple[np.ndarray, np.ndarray]]] = {
    "moons": lambda n, seed: make_moons(n, noise=0.1, seed=seed),
    "circles": lambda n, seed: make_circles(n, noise=0.05, factor=0.5, seed=seed),
    "spirals": lambda n, seed: make_spirals(n, n_classes=2, noise=0.05, seed=seed),
    "blobs": lambda n, seed: make_blobs(n, centers=_BLOB_CENTERS, cluster_std=0.5, seed=seed),
}
"""The datasets the command knows, as it makes them (all on a scale of about ±1.5)."""

OPTIMIZERS: dict[str, tuple[type[Optimizer], float]] = {
    "sgd": (SGD, 1.0), "adam": (Adam, 0.05), "adamw": (AdamW, 0.05),
}
"""Each optimizer's class and the learning rate the command uses when ``--lr`` is not given."""

LOSSES = ("hinge", "bce", "cross_entropy")


@dataclass
class History:
    """What ``train`` records: per step the loss and the training accuracy before the update,
    and the seconds the step took; then the loss and accuracy of the trained model.

    >>> History().losses
    []
    """

    losses: list[float] = field(default_factory=list)
    accuracies: list[float] = field(default_factory=list)
    step_seconds: list[float] = field(default_factory=list)
    final_loss: float = math.nan
    accuracy: float = math.nan


def train(model: Module, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, steps: int,
          loss: str = "hinge", l2: float = 1e-4, schedule: str = "linear",
          on_step: Callable[[int, float, float], None] | None = None) -> History:
    """Full-batch training of ``model`` on ``(X, y)`` (``y`` class indices, as the datasets give).

    ``loss`` is ``"hinge"`` (labels mapped to ±1, one output), ``"bce"`` (one output, a logit)
    or ``"cross_entropy"`` (one output per class). The objective adds ``l2 * Σ p²``. With
    ``schedule="linear"`` the learning rate falls from ``optimizer.lr`` to a tenth of it.
    ``on_step(step, loss, accuracy)`` is called after each step.

    >>> from nn import MLP, SGD, make_moons
    >>> X, y = make_moons(20, seed=0)
    >>> model = MLP(2, [8, 1], seed=0)
    >>> history = train(model, X, y, SGD(model.parameters(), lr=0.5), steps=5)
    >>> len(history.losses), 0.0 <= history.accuracy <= 1.0
    (5, True)
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    if schedule not in ("linear", "constant"):
        raise ValueError(f"unknown schedule {schedule!r}; choose linear or constant")
    rows = np.asarray(X, dtype=float).tolist()
    labels = np.asarray(y).astype(int).tolist()
    inputs = [[Value(v) for v in row] for row in rows]  # constant leaves, made once
    objective = _objective(loss, labels, model.parameters(), l2)
    base_lr = optimizer.lr
    history = History()
    for k in range(steps):
        start = time.perf_counter()
        with gc_paused():
            outputs = [model(x) for x in inputs]
            total = objective(outputs)
            optimizer.zero_grad()
            total.backward()
            if schedule == "linear":
                optimizer.lr = base_lr * (1.0 - 0.9 * k / steps)
            optimizer.step()
            history.losses.append(total.data)
            history.accuracies.append(_accuracy(outputs, labels))
            # free the graph while the collector is still paused: once it resumes, it would
            # scan every node still alive
            del outputs, total
        history.step_seconds.append(time.perf_counter() - start)
        if on_step is not None:
            on_step(k + 1, history.losses[-1], history.accuracies[-1])
    optimizer.lr = base_lr
    with no_grad():
        outputs = [model(row) for row in rows]
        history.final_loss = objective(outputs).data
    history.accuracy = _accuracy(outputs, labels)
    return history


def _objective(loss: str, labels: list[int], params: list[Value],
               l2: float) -> Callable[[list], Value]:
    if loss == "hinge":
        signs = [2 * t - 1 for t in labels]
        data_loss = lambda outputs: hinge_loss(_single(outputs, loss), signs)
    elif loss == "bce":
        data_loss = lambda outputs: binary_cross_entropy_with_logits(_single(outputs, loss),
                                                                     labels)
    else:
        data_loss = lambda outputs: cross_entropy(outputs, labels)
    if not l2:
        return data_loss
    # Σ p² as one node
    return lambda outputs: data_loss(outputs) + l2 * autograd.dot(params, params)


def _single(outputs: list, loss: str) -> list[Value]:
    if not isinstance(outputs[0], Value):
        raise ValueError(f"the {loss} loss needs a model with one output, got "
                         f"{len(outputs[0])}")
    return outputs


def _accuracy(outputs: list, labels: list[int]) -> float:
    if isinstance(outputs[0], Value):
        hits = sum((out.data > 0.0) == (t == 1) for out, t in zip(outputs, labels))
    else:
        hits = sum(max(range(len(out)), key=lambda i: out[i].data) == t
                   for out, t in zip(outputs, labels))
    return hits / len(labels)


# --- the command line -----------------------------------------------------------------------

def _integer(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value
    parse.__name__ = f"integer >= {minimum}"
    return parse


def _number(positive: bool) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(
                f"must be a finite number {'> 0' if positive else '>= 0'}, got {text}")
        return value
    parse.__name__ = "positive number" if positive else "non-negative number"
    return parse


def _hidden(text: str) -> list[int]:
    """``"16,16"`` → ``[16, 16]``; an empty string means no hidden layer (a linear model)."""
    if not text.strip():
        return []
    sizes = []
    for part in text.split(","):
        part = part.strip()
        if not part.isdigit() or int(part) < 1:
            raise argparse.ArgumentTypeError(
                f"{text!r}: hidden layer sizes are positive integers separated by commas, "
                f"like 16,16 ({part!r} is not one)")
        sizes.append(int(part))
    return sizes


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser (``python -m nn.train --help``).

    >>> build_parser().parse_args(["--hidden", "8,4"]).hidden
    [8, 4]
    """
    parser = argparse.ArgumentParser(
        prog="python -m nn.train",
        description="Train an MLP on a toy 2-D dataset with chainrule's autograd engine. "
                    "The defaults are micrograd's demo: 100 moons, MLP(2, [16, 16, 1]), hinge "
                    "loss, SGD with a decaying learning rate, 100 steps.")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="moons",
                        help="the toy dataset (default: moons)")
    parser.add_argument("--samples", type=_integer(1), default=100,
                        help="number of points (default: 100)")
    parser.add_argument("--steps", type=_integer(1), default=100,
                        help="full-batch training steps (default: 100)")
    parser.add_argument("--lr", type=_number(positive=True), default=None,
                        help="initial learning rate (default: 1.0 for sgd, 0.05 for adam/adamw)")
    parser.add_argument("--schedule", choices=("linear", "constant"), default="linear",
                        help="linear: the learning rate falls to a tenth of --lr over the run, "
                             "as in micrograd (default); constant: it stays --lr")
    parser.add_argument("--hidden", type=_hidden, default=[16, 16],
                        help="hidden layer sizes, comma-separated (default: 16,16)")
    parser.add_argument("--activation", choices=sorted(ACTIVATIONS), default="relu",
                        help="hidden layers' activation (default: relu)")
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="sgd",
                        help="default: sgd")
    parser.add_argument("--loss", choices=LOSSES, default=None,
                        help="default: hinge for two classes, cross_entropy for more")
    parser.add_argument("--l2", type=_number(positive=False), default=1e-4,
                        help="coefficient of the penalty l2 * Σ p² added to the loss "
                             "(default: 1e-4, micrograd's)")
    parser.add_argument("--seed", type=_integer(0), default=0,
                        help="seeds the data and the initial weights (default: 0)")
    parser.add_argument("--out", metavar="DIR",
                        help="write decision_boundary.png and loss.png into DIR")
    parser.add_argument("--save", metavar="PATH", help="save the trained model's state dict "
                        "as JSON (load it with nn.load and MLP.load_state_dict)")
    parser.add_argument("--json", action="store_true",
                        help="print only a one-line JSON summary")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the training command with ``argv`` (default: ``sys.argv[1:]``); returns 0.

    Bad arguments print argparse's usage message and raise ``SystemExit(2)``.

    >>> main(["--samples", "10", "--steps", "2", "--hidden", "4", "--json"])  # doctest: +ELLIPSIS
    {"dataset": "moons", "samples": 10, "steps": 2, ...}
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        X, y = DATASETS[args.dataset](args.samples, args.seed)
    except ValueError as error:  # e.g. fewer samples than classes
        parser.error(f"--dataset {args.dataset} --samples {args.samples}: {error}")
    n_classes = int(y.max()) + 1
    loss = args.loss or ("hinge" if n_classes == 2 else "cross_entropy")
    if loss != "cross_entropy" and n_classes != 2:
        parser.error(f"--loss {loss} needs two classes; {args.dataset} has {n_classes} "
                     f"(use --loss cross_entropy)")
    outputs = n_classes if loss == "cross_entropy" else 1
    model = MLP(2, [*args.hidden, outputs], activation=args.activation, seed=args.seed)
    optimizer_class, default_lr = OPTIMIZERS[args.optimizer]
    lr = args.lr if args.lr is not None else default_lr
    optimizer = optimizer_class(model.parameters(), lr=lr)

    if not args.json:
        print(f"{args.dataset}: {args.samples} points, {model} ({len(model.parameters())} "
              f"parameters), {loss} loss + {args.l2:g}·Σp², {args.optimizer} lr {lr:g} "
              f"({args.schedule}), seed {args.seed}")
    history = _train_with_progress(model, X, y, optimizer, args, loss)
    seconds = sum(history.step_seconds)
    per_step = statistics.median(history.step_seconds)

    written = []
    if args.out:
        from nn.plots import plot_decision_boundary, plot_loss_curve

        os.makedirs(args.out, exist_ok=True)
        boundary = os.path.join(args.out, "decision_boundary.png")
        curve = os.path.join(args.out, "loss.png")
        plot_decision_boundary(model, X, y, boundary, title=f"{args.dataset}: accuracy "
                               f"{history.accuracy:.0%} after {args.steps} steps")
        plot_loss_curve(history.losses, curve, history.accuracies,
                        title=f"{args.dataset}: {loss} loss + L2, {args.optimizer}")
        written = [boundary, curve]
    if args.save:
        directory = os.path.dirname(args.save)
        if directory:
            os.makedirs(directory, exist_ok=True)
        save(model.state_dict(), args.save)

    summary = {
        "dataset": args.dataset, "samples": args.samples, "steps": args.steps,
        "model": repr(model), "parameters": len(model.parameters()), "loss": loss,
        "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule, "l2": args.l2,
        "seed": args.seed, "final_loss": history.final_loss, "accuracy": history.accuracy,
        "seconds": round(seconds, 4), "seconds_per_step": round(per_step, 6),
        "plots": written, "saved": args.save,
    }
    if args.json:
        print(json.dumps(summary))
    else:
        print(f"after {args.steps} steps: loss {history.final_loss:.4f}, training accuracy "
              f"{history.accuracy:.1%}")
        print(f"training took {seconds:.2f} s ({per_step * 1000:.1f} ms per step, median)")
        for path in written:
            print(f"wrote {path}")
        if args.save:
            print(f"saved the model's state dict to {args.save}")
    return 0


def _train_with_progress(model: Module, X: np.ndarray, y: np.ndarray, optimizer: Optimizer,
                         args: argparse.Namespace, loss: str) -> History:
    """``train`` with a tqdm bar on stderr (shown when stderr is a terminal)."""
    from tqdm import tqdm

    with tqdm(total=args.steps, desc=args.dataset, unit="step", file=sys.stderr,
              disable=None, leave=False) as bar:
        def on_step(step: int, value: float, accuracy: float) -> None:
            bar.set_postfix({"loss": f"{value:.4f}", "acc": f"{accuracy:.0%}"}, refresh=False)
            bar.update()

        return train(model, X, y, optimizer, args.steps, loss=loss, l2=args.l2,
                     schedule=args.schedule, on_step=on_step)


if __name__ == "__main__":
    sys.exit(main())
