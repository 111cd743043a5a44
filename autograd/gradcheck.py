"""Check backprop's gradients against central finite differences."""

from __future__ import annotations

import math
import numbers
from typing import Any, Callable, Sequence

from autograd.engine import gradients
from autograd.grad_mode import enable_grad, no_grad
from autograd.value import Number, Value


class GradcheckError(AssertionError):
    """Raised by ``gradcheck`` when an analytical and a numerical derivative disagree."""


def gradcheck(f: Callable[..., Value], inputs: Sequence[Number], eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-3, order: int = 1) -> bool:
    """Compare the derivatives of ``f`` from backprop with central differences, in float64.

    ``f`` takes one Value per input and returns a Value. Each derivative must satisfy
    ``|analytical - numerical| <= atol + rtol * |numerical|``. With ``order=2`` the second
    derivatives (the Hessian, from ``create_graph``) are checked against central differences of
    the backprop gradient. Returns True, or raises ``GradcheckError`` naming the input, both
    values and their difference.

    >>> gradcheck(lambda x, y: x * y.exp(), [1.5, -0.5])
    True
    """
    if order not in (1, 2):
        raise ValueError(f"gradcheck: order must be 1 or 2, got {order!r}")
    if not (_is_real(eps) and 0 < eps < math.inf):
        raise ValueError(f"gradcheck: eps (the finite-difference step) must be a number > 0, "
                         f"got {eps!r}")
    for name, tolerance in (("atol", atol), ("rtol", rtol)):
        if not (_is_real(tolerance) and 0 <= tolerance < math.inf):
            raise ValueError(f"gradcheck: {name} must be a finite number >= 0, got {tolerance!r}")
    point = [float(x) for x in inputs]
    if order == 1:
        analytical = _gradient(f, point)
        for i in range(len(point)):
            numerical = _central_difference(lambda xs: _evaluate(f, xs), point, i, eps)
            _compare(analytical[i], numerical, atol, rtol, f"d f / d input[{i}]")
        return True
    hessian = _hessian(f, point)
    for j in range(len(point)):
        numerical = _central_difference(lambda xs: _gradient(f, xs), point, j, eps)
        for i in range(len(point)):
            _compare(hessian[i][j], numerical[i], atol, rtol,
                     f"d2 f / d input[{i}] d input[{j}]")
    return True


def _is_real(x: object) -> bool:  # any real number but a bool, numpy's scalars included
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def gradgradcheck(f: Callable[..., Value], inputs: Sequence[Number], eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3) -> bool:
    """``gradcheck(..., order=2)`` under PyTorch's name.

    >>> gradgradcheck(lambda x: x.sin(), [0.3])
    True
    """
    return gradcheck(f, inputs, eps=eps, atol=atol, rtol=rtol, order=2)


def _output(f: Callable[..., Value], xs: Sequence[Value]) -> Value:
    out = f(*xs)
    if not isinstance(out, Value):
        raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}: {out!r}")
    return out


def _evaluate(f: Callable[..., Value], point: Sequence[float]) -> float:
    with no_grad():
        return _output(f, [Value(x) for x in point]).data


@enable_grad()  # backprop needs the graph, even when gradcheck is called inside no_grad
def _gradient(f: Callable[..., Value], point: Sequence[float]) -> list[float]:
    xs = [Value(x) for x in point]
    grads = gradients(_output(f, xs), xs)
    return [float(grads.get(x, 0.0)) for x in xs]


@enable_grad()
def _hessian(f: Callable[..., Value], point: Sequence[float]) -> list[list[float]]:
    xs = [Value(x) for x in point]
    first = gradients(_output(f, xs), xs, create_graph=True)
    rows = []
    for x in xs:
        g = first.get(x, 0.0)
        second = gradients(g, xs) if isinstance(g, Value) else {}
        rows.append([float(second.get(y, 0.0)) for y in xs])
    return rows


def _central_difference(evaluate: Callable[[list[float]], Any], point: Sequence[float], i: int,
                        eps: float) -> Any:
    """(F(x + eps e_i) - F(x - eps e_i)) / 2 eps, for F returning a float or a list of floats."""
    up, down = list(point), list(point)
    up[i] += eps
    down[i] -= eps
    high, low = evaluate(up), evaluate(down)
    if isinstance(high, list):
        return [(h - lo) / (2 * eps) for h, lo in zip(high, low)]
    return (high - low) / (2 * eps)


def _compare(analytical: float, numerical: float, atol: float, rtol: float, what: str) -> None:
    difference = abs(analytical - numerical)
    if not difference <= atol + rtol * abs(numerical):
        raise GradcheckError(
            f"gradcheck failed for {what}: analytical {analytical!r}, numerical {numerical!r}, "
            f"difference {difference:.3g} > atol + rtol * |numerical| = "
            f"{atol + rtol * abs(numerical):.3g}"
        )
