"""The training command, ``chainrule-train`` (or ``python -m nn train``, ``python -m nn.train``).

It trains an MLP on a toy 2-D dataset with ``nn.train.train``, the loop, which knows nothing of
the command.

By default it is micrograd's demo: 100 points of the two moons (noise 0.1), ``MLP(2, [16, 16,
1])`` with relu, the hinge loss plus ``1e-4 * Σ p²``, and full-batch SGD whose learning rate
falls linearly from 1.0 to 0.1 over the run (micrograd's ``1.0 - 0.9 * k / steps``). It reaches
100% training accuracy within the 100 steps, in about a second.

    chainrule-train --out results/demo            # plots: decision_boundary.png, loss.png
    chainrule-train --dataset spirals --optimizer adam --steps 300   # 100% in ~3 s
    chainrule-train --json                        # one JSON summary line for scripts
    chainrule-train --compile                     # record once, replay: same numbers, faster

Exit status: 0 when training completed; 2 for bad arguments, including an ``--out`` or
``--save`` that cannot be written (checked before training); 1 when training diverged (the
message says at which step and why; nothing is saved); 130 on Ctrl-C, after saving the model as
it was after the last completed step when ``--save`` is given. With ``--json`` the last line is
always the JSON summary, whose ``"status"`` is ``"completed"``, ``"diverged"`` or
``"interrupted"``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
from collections.abc import Callable, Sequence
from typing import Any

from nn._extra import require
from nn.activations import ACTIVATIONS
from nn.data import make_blobs, make_circles, make_moons, make_spirals
from nn.module import MLP
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.serialization import check_target, save
from nn.train import LOSSES, History, TrainingDiverged, evaluate, train
from nn.validation import check_save_argument, int_argument, number_argument

PROG = "chainrule-train"

_BLOB_CENTERS = [[1.5 * math.cos(a), 1.5 * math.sin(a)]  # three centers 120° apart
                 for a in (math.pi / 2 + k * 2 * math.pi / 3 for k in range(3))]

DATASETS: dict[str, Callable[[int, int], tuple[Any, Any]]] = {
    "moons": lambda n, seed: make_moons(n, noise=0.1, random_state=seed),
    "circles": lambda n, seed: make_circles(n, noise=0.05, factor=0.5, random_state=seed),
    "spirals": lambda n, seed: make_spirals(n, n_classes=2, noise=0.05, random_state=seed),
    "blobs": lambda n, seed: make_blobs(n, centers=_BLOB_CENTERS, cluster_std=0.5,
                                        random_state=seed),
}
"""The datasets the command knows, as it makes them (all on a scale of about ±1.5)."""

OPTIMIZERS: dict[str, tuple[type[Optimizer], float]] = {
    "sgd": (SGD, 1.0), "adam": (Adam, 0.05), "adamw": (AdamW, 0.05),
}
"""Each optimizer's class and the learning rate the command uses when ``--lr`` is not given."""

PLOTS = ("decision_boundary.png", "loss.png")


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


def build_parser(prog: str = PROG) -> argparse.ArgumentParser:
    """The command's argument parser (``chainrule-train --help``).

    >>> build_parser().parse_args(["--hidden", "8,4"]).hidden
    [8, 4]
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Train an MLP on a toy 2-D dataset with chainrule's autograd engine. "
                    "The defaults are micrograd's demo: 100 moons, MLP(2, [16, 16, 1]), hinge "
                    "loss, SGD with a decaying learning rate, 100 steps.",
        epilog="Exit status: 0 trained; 1 diverged; 2 bad arguments (an --out or --save that "
               "cannot be written is found before training); 130 interrupted by Ctrl-C (the "
               "last completed step is saved with --save).")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="moons",
                        help="the toy dataset (default: moons)")
    parser.add_argument("--samples", type=int_argument(1), default=100,
                        help="number of points (default: 100)")
    parser.add_argument("--steps", type=int_argument(1), default=100,
                        help="full-batch training steps (default: 100)")
    parser.add_argument("--lr", type=number_argument(positive=True), default=None,
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
    parser.add_argument("--l2", type=number_argument(positive=False), default=1e-4,
                        help="coefficient of the penalty l2 * Σ p² added to the loss "
                             "(default: 1e-4, micrograd's)")
    parser.add_argument("--seed", type=int_argument(0), default=0,
                        help="seeds the data and the initial weights (default: 0)")
    parser.add_argument("--out", metavar="DIR",
                        help="write decision_boundary.png and loss.png into DIR (made if "
                             "missing)")
    parser.add_argument("--save", metavar="PATH", help="save the trained model's state dict "
                        "as JSON (load it with nn.load and MLP.load_state_dict)")
    parser.add_argument("--compile", action="store_true",
                        help="record the forward pass at the first step and replay it at every "
                             "other (autograd.compile): the same numbers, bit for bit, faster")
    parser.add_argument("--json", action="store_true",
                        help="print only a one-line JSON summary")
    return parser


def main(argv: Sequence[str] | None = None, prog: str = PROG) -> int:
    """Run the training command with ``argv`` (default: ``sys.argv[1:]``); returns the status.

    Bad arguments print the usage and raise ``SystemExit(2)``; the statuses are listed in the
    module doc (0 trained, 1 diverged, 130 interrupted).

    >>> main(["--samples", "10", "--steps", "2", "--hidden", "4", "--json"])  # doctest: +ELLIPSIS
    {"dataset": "moons", "samples": 10, "steps": 2, ...}
    0
    """
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    try:
        return _run(parser, args, prog)
    except KeyboardInterrupt:  # before training began, or a second Ctrl-C while saving
        print(f"{prog}: interrupted", file=sys.stderr, flush=True)
        return 130


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace, prog: str) -> int:
    require("tqdm", prog)
    if args.out:
        require("matplotlib", f"{prog} --out")
    _check_outputs(parser, args)
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
    summary: dict[str, Any] = {
        "dataset": args.dataset, "samples": args.samples, "steps": args.steps,
        "model": repr(model), "parameters": len(model.parameters()), "loss": loss,
        "optimizer": args.optimizer, "lr": lr, "schedule": args.schedule, "l2": args.l2,
        "seed": args.seed, "compile": args.compile,
    }
    if not args.json:
        print(f"{args.dataset}: {args.samples} points, {model} ({summary['parameters']} "
              f"parameters), {loss} loss + {args.l2:g}·Σp², {args.optimizer} lr {lr:g} "
              f"({args.schedule}), seed {args.seed}{', compiled' if args.compile else ''}",
              flush=True)

    completed = History()
    try:
        history = _train_with_progress(model, X, y, optimizer, args, loss, completed)
    except TrainingDiverged as error:
        summary.update(status="diverged", steps_completed=len(error.history.losses),
                       final_loss=None, accuracy=None, reason=str(error), plots=[], saved=None)
        _finish(args, summary, f"{prog}: {error}; nothing was saved", sys.stderr)
        return 1
    except KeyboardInterrupt:
        # the parameters are those of the last completed step (train() undoes a partial one)
        final_loss, accuracy = evaluate(model, X, y, loss, args.l2)
        saved = _save(model, args.save)
        summary.update(status="interrupted", steps_completed=len(completed.losses),
                       final_loss=final_loss, accuracy=accuracy, plots=[], saved=saved)
        note = f"; saved the model after step {len(completed.losses)} to {saved}" if saved else ""
        _finish(args, summary, f"{prog}: interrupted after {len(completed.losses)} of "
                               f"{args.steps} steps{note}", sys.stderr)
        return 130

    saved = _save(model, args.save)  # first: a failing plot must not lose the model
    written = _plot(model, X, y, history, args, loss)
    seconds = sum(history.step_seconds)
    per_step = statistics.median(history.step_seconds)
    summary.update(status="completed", steps_completed=args.steps,
                   final_loss=history.final_loss, accuracy=history.accuracy,
                   seconds=round(seconds, 4), seconds_per_step=round(per_step, 6),
                   plots=written, saved=saved)
    lines = [f"after {args.steps} steps: loss {history.final_loss:.4f}, training accuracy "
             f"{history.accuracy:.1%}",
             f"training took {seconds:.2f} s ({per_step * 1000:.1f} ms per step, median)",
             *(f"wrote {path}" for path in written)]
    if saved:
        lines.append(f"saved the model's state dict to {saved}")
    _finish(args, summary, "\n".join(lines), sys.stdout)
    return 0


def _finish(args: argparse.Namespace, summary: dict[str, Any], text: str, stream) -> None:
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(text, file=stream, flush=True)


def _check_outputs(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Refuse, before any training, an ``--out`` or ``--save`` that could not be written."""
    if args.out:
        if os.path.exists(args.out) and not os.path.isdir(args.out):
            parser.error(f"--out {args.out}: this is a file; --out names a folder for the plots")
        try:
            os.makedirs(args.out, exist_ok=True)
        except OSError as error:
            parser.error(f"--out {args.out}: cannot create the folder ({error.strerror})")
        for name in PLOTS:
            try:
                check_target(os.path.join(args.out, name))
            except OSError as error:
                parser.error(f"--out: {error}")
    if args.save:
        check_save_argument(parser, args.save)


def _save(model: MLP, path: str | None) -> str | None:
    if path:
        save(model.state_dict(), path)
    return path


def _plot(model: MLP, X, y, history: History, args: argparse.Namespace, loss: str) -> list[str]:
    if not args.out:
        return []
    from nn.plots import plot_decision_boundary, plot_loss_curve

    boundary, curve = (os.path.join(args.out, name) for name in PLOTS)
    plot_decision_boundary(model, X, y, boundary, title=f"{args.dataset}: accuracy "
                           f"{history.accuracy:.0%} after {args.steps} steps")
    plot_loss_curve(history.losses, curve, history.accuracies,
                    title=f"{args.dataset}: {loss} loss + L2, {args.optimizer}")
    return [boundary, curve]


def _train_with_progress(model: MLP, X, y, optimizer: Optimizer, args: argparse.Namespace,
                         loss: str, completed: History) -> History:
    """``train`` with a tqdm bar on stderr (shown when stderr is a terminal); ``completed``
    collects the steps as they finish, for a report after Ctrl-C."""
    from tqdm import tqdm

    with tqdm(total=args.steps, desc=args.dataset, unit="step", file=sys.stderr,
              disable=None, leave=False) as bar:
        def on_step(step: int, value: float, accuracy: float) -> None:
            completed.losses.append(value)
            completed.accuracies.append(accuracy)
            bar.set_postfix({"loss": f"{value:.4f}", "acc": f"{accuracy:.0%}"}, refresh=False)
            bar.update()

        return train(model, X, y, optimizer, args.steps, loss=loss, l2=args.l2,
                     schedule=args.schedule, on_step=on_step, compile=args.compile)


if __name__ == "__main__":
    sys.exit(main(prog="python -m nn.cli"))
