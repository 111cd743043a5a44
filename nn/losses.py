"""Losses: each takes Values (scores, logits or predictions) and plain targets, returns one Value.

All of them average over the samples, as PyTorch's ``reduction="mean"``, and all are stable for
any input: the log-losses go through ``softplus`` and ``logsumexp``, never ``log(sigmoid(z))``.
"""

from __future__ import annotations

import functools
import math
import numbers
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, Union

import autograd
from autograd import Value
from autograd.recording import is_recording
from nn.validation import overflow_hint

Number = Union[int, float]
Loss = TypeVar("Loss", bound=Callable[..., Value])


def _hinting_at_overflow(loss: Loss) -> Loss:
    """``loss``, an overflow inside it said shortly, with the size the model's outputs reached
    and a hint at the learning rate (``nn.validation.overflow_hint``)."""
    @functools.wraps(loss)
    def hinted(outputs: Any, targets: Any) -> Value:
        try:
            return loss(outputs, targets)
        except OverflowError as error:
            if is_recording():  # the hint reads the outputs' numbers, which is refused then
                raise
            raise overflow_hint(loss.__name__, error, _numbers(outputs),
                                "the model's outputs") from None
    return hinted  # type: ignore[return-value]


def _numbers(x: Any) -> Iterator[float]:
    """The floats in ``x``: Values, numbers and lists of them, nested."""
    if isinstance(x, Value):
        yield x.data
    elif _is_real(x):
        yield float(x)
    elif isinstance(x, (list, tuple)):
        for item in x:
            yield from _numbers(item)


@_hinting_at_overflow
def mse_loss(predictions: Sequence[Value | Number] | Value,
             targets: Sequence[Number] | Number) -> Value:
    """Mean squared error, ``mean((prediction - target)**2)``.

    A target may also be a ``Value`` (as the arguments of a function compiled by
    ``autograd.compile`` are): it is used as it is, its number unchecked.

    >>> mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data
    2.5
    """
    predictions, targets = _pair("mse_loss", predictions, targets)
    _check_numbers("mse_loss", targets)
    diffs = [p - t for p, t in zip(predictions, targets)]
    return autograd.dot(diffs, diffs) * (1.0 / len(diffs))  # Σ d² as one node


@_hinting_at_overflow
def hinge_loss(scores: Sequence[Value | Number] | Value,
               labels: Sequence[Number] | Number) -> Value:
    """The max-margin loss of micrograd's demo, ``mean(relu(1 - label * score))``; labels ±1.

    A sample costs nothing once its score is on the right side with a margin of at least 1.
    A label may also be a ``Value`` (inside a function compiled by ``autograd.compile`` the
    arguments are Values): it is used as it is, its number unchecked.

    >>> hinge_loss([Value(2.0), Value(0.5)], [1, -1]).data
    0.75
    >>> hinge_loss([2.0, 0.5], [1.0, -1.0]).data  # plain numbers are scores too
    0.75
    """
    scores, labels = _pair("hinge_loss", scores, labels)
    for i, y in enumerate(labels):
        if isinstance(y, Value):
            continue
        if isinstance(y, bool) or not _is_real(y) or y not in (1, -1):
            raise ValueError(f"hinge_loss: labels must be +1 or -1, got {y!r} at index {i}"
                             " (map 0/1 labels with 2 * y - 1)")
    margins = [(1.0 - _lift(s) * (y if isinstance(y, Value) else float(y))).relu()
               for s, y in zip(scores, labels)]
    return autograd.sum(margins) * (1.0 / len(margins))


@_hinting_at_overflow
def binary_cross_entropy_with_logits(logits: Sequence[Value | Number] | Value,
                                     targets: Sequence[Number] | Number) -> Value:
    """Binary cross-entropy of ``sigmoid(logit)`` against targets in [0, 1], computed stably.

    ``-[t log σ(z) + (1 - t) log(1 - σ(z))]`` equals ``softplus(z) - t z``, which never takes the
    log of 0 or exponentiates a large number, whatever ``z`` is. A target may also be a ``Value``
    (inside ``autograd.compile``): it is used as it is, unchecked.

    >>> round(binary_cross_entropy_with_logits([Value(0.0), Value(1000.0)], [1, 1]).data, 6)
    0.346574
    """
    logits, targets = _pair("binary_cross_entropy_with_logits", logits, targets)
    _check_numbers("binary_cross_entropy_with_logits", targets)
    for i, t in enumerate(targets):
        if not isinstance(t, Value) and not 0.0 <= t <= 1.0:
            raise ValueError(f"binary_cross_entropy_with_logits: targets must be in [0, 1], "
                             f"got {t!r} at index {i}")
    terms = [_lift(z).softplus() - z * (t if isinstance(t, Value) else float(t))
             for z, t in zip(logits, targets)]
    return autograd.sum(terms) * (1.0 / len(terms))


@_hinting_at_overflow
def cross_entropy(logits: Sequence[Value | Number] | Sequence[Sequence[Value | Number]],
                  target: int | Value | Sequence[int | Value]) -> Value:
    """``logsumexp(logits) - logits[target]``: softmax cross-entropy for one sample or a batch.

    ``logits`` holds one score per class and ``target`` is the index of the right class; for a
    batch, pass a list of logit lists and a list of indices (the mean is returned). A target
    may also be a ``Value`` holding the index (inside a function compiled by
    ``autograd.compile`` the arguments are Values): the logit is then picked by an
    ``autograd.take`` node, so a recording replays with another target; same numbers.

    >>> round(cross_entropy([Value(1.0), Value(2.0), Value(3.0)], 2).data, 6)
    0.407606
    >>> round(cross_entropy([[Value(0.0), Value(0.0)], [Value(5.0), Value(-5.0)]], [1, 0]).data, 6)
    0.346596
    """
    logits, target = _unwrap(logits), _unwrap(target)
    if not isinstance(target, numbers.Number) and hasattr(target, "__len__"):  # a batch
        if isinstance(logits, Value) or not all(hasattr(row, "__len__") for row in logits):
            raise ValueError("cross_entropy: a list of targets needs a list of logit lists, "
                             "one per sample")
        if len(logits) != len(target):
            raise ValueError(f"cross_entropy: {len(logits)} logit lists but {len(target)} "
                             f"targets")
        if len(target) == 0:
            raise ValueError("cross_entropy: needs at least one sample, got none")
        losses = [_cross_entropy_one(_unwrap(row), t, i)
                  for i, (row, t) in enumerate(zip(logits, target))]
        return autograd.sum(losses) * (1.0 / len(losses))
    return _cross_entropy_one(logits, target, None)


def _cross_entropy_one(logits: Sequence[Value | Number], target: int | Value,
                       index: int | None) -> Value:
    where = "" if index is None else f" for sample {index}"
    if isinstance(logits, Value) or not hasattr(logits, "__len__"):
        raise ValueError(f"cross_entropy: logits{where} must be a list with one score per class")
    if not logits:
        raise ValueError(f"cross_entropy: logits{where} are empty")
    if isinstance(target, Value):
        lifted = [_lift(z) for z in logits]
        return autograd.logsumexp(lifted) - autograd.take(lifted, target)
    if isinstance(target, bool) or not isinstance(target, numbers.Integral):
        raise ValueError(f"cross_entropy: the target{where} must be a class index (an int), "
                         f"got {target!r}")
    target = int(target)
    if not 0 <= target < len(logits):
        raise ValueError(f"cross_entropy: target {target}{where} is out of range for "
                         f"{len(logits)} classes (0 to {len(logits) - 1})")
    return autograd.logsumexp([_lift(z) for z in logits]) - logits[target]


def _lift(x: Value | Number) -> Value:
    return x if isinstance(x, Value) else Value(x)


def _unwrap(x):
    """A numpy array as a list (0-d: its number); anything else as it is."""
    if hasattr(x, "ndim") and hasattr(x, "tolist"):
        return x.tolist()
    return x


def _as_list(name: str, what: str, x) -> list:
    """One entry per sample: a lone Value or number is a batch of 1; arrays must be 1-D."""
    if hasattr(x, "ndim") and hasattr(x, "tolist") and x.ndim > 1:
        raise ValueError(f"{name}: {what} must hold one number per sample, got an array of "
                         f"shape {tuple(x.shape)} (flatten it: .ravel())")
    x = _unwrap(x)
    if isinstance(x, Value) or _is_real(x):
        return [x]
    if isinstance(x, (str, bytes)) or not hasattr(x, "__iter__"):
        raise TypeError(f"{name}: {what} must be a list with one entry per sample, got "
                        f"{type(x).__name__}")
    return list(x)


def _pair(name: str, outputs, targets) -> tuple[list, list]:
    """Both sides as lists of equal, non-zero length (a lone Value and number: a batch of 1)."""
    outputs, targets = _as_list(name, "the outputs", outputs), _as_list(name, "the targets",
                                                                         targets)
    if len(outputs) != len(targets):
        raise ValueError(f"{name}: got {len(outputs)} outputs but {len(targets)} targets")
    if not outputs:
        raise ValueError(f"{name}: needs at least one sample, got none")
    return outputs, targets


def _is_real(x: object) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _check_numbers(name: str, targets: list) -> None:
    """Targets are finite numbers, or Values (used as they are: inside ``autograd.compile`` the
    arguments are Values, whose numbers cannot be read while it records)."""
    for i, t in enumerate(targets):
        if isinstance(t, Value):
            continue
        if isinstance(t, bool) or not _is_real(t) or not math.isfinite(t):
            raise ValueError(f"{name}: targets must be finite numbers, got {t!r} at index {i}")
