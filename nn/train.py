"""``train``: full-batch training of a model on a toy dataset, the loop behind the command.

The loop imports nothing of the command. The command (``chainrule-train``, ``python -m nn
train``, or ``python -m nn.train`` by the lines at the end of this file) lives in ``nn/cli.py``.

Each step builds the graph of the whole batch, backpropagates and updates, with CPython's cycle
collector paused (``autograd.gc_paused``): the graph has no reference cycles, so the collector
would only rescan the growing graph again and again; reference counting frees it after the step.

A step is all-or-nothing for the parameters: if it is interrupted (Ctrl-C) or diverges (the loss,
a gradient or a parameter stops being a finite number), the parameters are put back as they were
after the last completed step, and the exception says so.

With ``compile=True`` the forward pass goes through ``autograd.compile``: the first step records
the graph, every later step replays it on the parameters' new numbers without making a node.
The losses, gradients and parameters are the same, bit for bit.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

import autograd
from autograd import Value, gc_paused, no_grad
from autograd.recording import read_floats, write_floats
from nn.losses import binary_cross_entropy_with_logits, cross_entropy, hinge_loss
from nn.module import Module
from nn.optim import Optimizer
from nn.validation import without_inputs

LOSSES = ("hinge", "bce", "cross_entropy")
"""The losses ``train`` knows by name."""


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


class TrainingDiverged(ArithmeticError):
    """Training stopped at ``step`` because the loss, a gradient or a parameter was not finite.

    The model's parameters are those of the last completed step; ``history`` holds the steps
    before. The usual cause is a learning rate too large for the problem.

    >>> str(TrainingDiverged(3, "the loss is inf", History(), lr=1e6))
    'training diverged at step 3: the loss is inf (the learning rate 1e+06 is probably too large)'
    """

    def __init__(self, step: int, reason: str, history: History, lr: float) -> None:
        super().__init__(f"training diverged at step {step}: {reason} (the learning rate "
                         f"{lr:g} is probably too large)")
        self.step, self.reason, self.history = step, reason, history


def train(model: Module, X: np.ndarray, y: np.ndarray, optimizer: Optimizer, steps: int,
          loss: str = "hinge", l2: float = 1e-4, schedule: str = "linear",
          on_step: Callable[[int, float, float], None] | None = None,
          compile: bool = False) -> History:
    """Full-batch training of ``model`` on ``(X, y)`` (``y`` class indices, as the datasets give).

    ``loss`` is ``"hinge"`` (labels mapped to ±1, one output), ``"bce"`` (one output, a logit)
    or ``"cross_entropy"`` (one output per class). The objective adds ``l2 * Σ p²``. With
    ``schedule="linear"`` the learning rate falls from ``optimizer.lr`` to a tenth of it.
    ``on_step(step, loss, accuracy)`` is called after each completed step. ``compile=True``
    records the forward pass once and replays it (``autograd.compile``): same numbers, faster.

    Raises ``TrainingDiverged`` when the loss, a gradient or a parameter stops being finite; on
    that or on ``KeyboardInterrupt`` the parameters are those of the last completed step.

    >>> from nn import MLP, SGD, make_moons
    >>> X, y = make_moons(20, random_state=0)
    >>> model = MLP(2, [8, 1], seed=0)
    >>> history = train(model, X, y, SGD(model.parameters(), lr=0.5), steps=5)
    >>> len(history.losses), 0.0 <= history.accuracy <= 1.0
    (5, True)
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of: {', '.join(LOSSES)}")
    if schedule not in ("linear", "constant"):
        raise ValueError(f"unknown schedule {schedule!r}; choose linear or constant")
    rows = _rows(X)
    labels = _labels(y, len(rows))
    inputs = [[Value(v) for v in row] for row in rows]  # constant leaves, made once
    objective = _objective(loss, labels, model.parameters(), l2)

    def forward() -> tuple[Value, list]:
        outputs = [model(x) for x in inputs]
        return objective(outputs), outputs

    if compile:
        forward = autograd.compile(forward)
    params = optimizer.params
    base_lr = optimizer.lr
    history = History()
    try:
        for k in range(steps):
            start = time.perf_counter()
            if schedule == "linear":
                optimizer.lr = base_lr * (1.0 - 0.9 * k / steps)
            before = read_floats(params, "data")
            try:
                value, accuracy = _step(forward, labels, optimizer)
            except (_NotFinite, OverflowError) as error:
                write_floats(params, "data", before)
                reason = without_inputs(str(error))  # whole, but for the op's inputs
                raise TrainingDiverged(k + 1, reason, history, optimizer.lr) from error
            except BaseException:  # Ctrl-C or an error: undo a half-done update
                write_floats(params, "data", before)
                raise
            history.losses.append(value)
            history.accuracies.append(accuracy)
            history.step_seconds.append(time.perf_counter() - start)
            if on_step is not None:
                on_step(k + 1, value, accuracy)
    finally:
        optimizer.lr = base_lr
    history.final_loss, history.accuracy = evaluate(model, X, y, loss, l2)
    return history


def evaluate(model: Module, X: np.ndarray, y: np.ndarray, loss: str = "hinge",
             l2: float = 1e-4) -> tuple[float, float]:
    """The objective ``train`` minimises and the accuracy, for the model as it is (no graph).

    >>> from nn import MLP, make_moons
    >>> X, y = make_moons(20, random_state=0)
    >>> loss, accuracy = evaluate(MLP(2, [8, 1], seed=0), X, y)
    >>> loss > 0, 0.0 <= accuracy <= 1.0
    (True, True)
    """
    rows = _rows(X)
    labels = _labels(y, len(rows))
    with no_grad():
        outputs = [model(row) for row in rows]
        value = _objective(loss, labels, model.parameters(), l2)(outputs).data
    return value, _accuracy(outputs, labels)


class _NotFinite(ArithmeticError):
    """A step produced a loss, gradient or parameter that is not a finite number."""


def _step(forward: Callable[[], tuple[Value, list]], labels: list[int],
          optimizer: Optimizer) -> tuple[float, float]:
    """One full-batch step; returns the loss and the accuracy before the update."""
    with gc_paused():
        total, outputs = forward()
        if not math.isfinite(total.data):
            raise _NotFinite(f"the loss is {total.data}")
        optimizer.zero_grad()
        total.backward()
        if not _finite(optimizer.params, "grad"):
            raise _NotFinite("a gradient is not a finite number")
        optimizer.step()
        if not _finite(optimizer.params, "data"):
            raise _NotFinite("a parameter is not a finite number after the update")
        result = total.data, _accuracy(outputs, labels)
        # free the graph while the collector is still paused: once it resumes, it would scan
        # every node still alive
        del outputs, total
    return result


def _finite(params: Sequence[Value], attribute: str) -> bool:
    """Whether every parameter's ``.data`` (or ``.grad``) is a finite number."""
    return bool(np.isfinite(np.frombuffer(read_floats(params, attribute))).all())


def _rows(X: np.ndarray) -> list[list[float]]:
    X = np.asarray(X, dtype=float)
    if X.ndim != 2:
        raise ValueError(f"X must be a 2-D array, one sample per row; got shape {X.shape}")
    return X.tolist()


def _labels(y: np.ndarray, n: int) -> list[int]:
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must hold one class index per row of X ({n}), got shape {y.shape}")
    return y.astype(int).tolist()


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
    if not isinstance(outputs[0], (list, tuple)):  # one output: a Value, or a replayed one
        hits = sum((out.data > 0.0) == (t == 1) for out, t in zip(outputs, labels))
    else:
        hits = sum(max(range(len(out)), key=lambda i: out[i].data) == t
                   for out, t in zip(outputs, labels))
    return hits / len(labels)


if __name__ == "__main__":  # python -m nn.train: the command (nn/cli.py), by that name
    from nn.cli import main

    sys.exit(main(prog="python -m nn.train"))
