"""A functional API in the style of JAX and HIPS autograd: transform ``f`` into its derivative.

``f`` takes scalar positional arguments and returns a Value. Called on plain numbers, the
transformed functions return floats; called on Values (inside another traced function) they
return Values connected to the graph, so they compose to any order::

    >>> from autograd import grad
    >>> cube = lambda x: x * x * x
    >>> grad(cube)(2.0), grad(grad(cube))(2.0), grad(grad(grad(cube)))(2.0)
    (12.0, 12.0, 6.0)

Inside another transformed function, the results are Values even for number arguments, so a
derivative that depends on a variable of the outer function (closed over by ``f``) keeps that
dependence: ``grad(lambda x: x * grad(lambda y: x * y)(1.0))(1.0) == 2.0``. No ``.grad``
attribute is read or written.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence, Union

from autograd import ops
from autograd.engine import gradients
from autograd.grad_mode import enable_grad
from autograd.value import Value, apply

ArgNums = Union[int, Sequence[int]]
Scalar = Union[float, Value]


class _Tracing(threading.local):
    depth = 0  # how many transformed functions are running in this thread


_tracing = _Tracing()


@contextmanager
def _tracing_level() -> Iterator[None]:
    _tracing.depth += 1
    try:
        yield
    finally:
        _tracing.depth -= 1


def grad(f: Callable[..., Value], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The derivative of ``f`` with respect to argument ``argnums`` (a tuple for a tuple).

    >>> grad(lambda x, y: x * y, argnums=(0, 1))(3.0, 4.0)
    (4.0, 3.0)
    """
    def derivative(*args: Scalar) -> Any:
        return value_and_grad(f, argnums)(*args)[1]

    return derivative


def value_and_grad(f: Callable[..., Value], argnums: ArgNums = 0) -> Callable[..., Any]:
    """Like ``grad``, but return ``(f(*args), derivative)`` from one forward pass.

    >>> value_and_grad(lambda x: x * x)(3.0)
    (9.0, 6.0)
    """
    @enable_grad()  # tracing needs a graph, even when called inside no_grad
    def both(*args: Scalar) -> tuple[Scalar, Any]:
        indices = _argnums(argnums, len(args))
        traced, variables, differentiable = _trace(args, indices)
        with _tracing_level():
            out = f(*traced)
        if not isinstance(out, Value):
            raise TypeError(f"grad: f must return a single Value, but it returned "
                            f"{type(out).__name__}: {out!r}")
        grads = _gradients(out, variables, differentiable)
        value = out if differentiable else out.data
        return value, (grads[0] if isinstance(argnums, int) else tuple(grads))

    return both


def jacobian(f: Callable[..., Sequence[Value]]) -> Callable[..., list[list[Scalar]]]:
    """The matrix d f_i / d x_j for ``f`` returning a list of Values: one row per output.

    >>> jacobian(lambda x, y: [x * y, x + y])(2.0, 3.0)
    [[3.0, 2.0], [1.0, 1.0]]
    """
    @enable_grad()
    def matrix(*args: Scalar) -> list[list[Scalar]]:
        traced, variables, differentiable = _trace(args, range(len(args)))
        with _tracing_level():
            outputs = f(*traced)
        if isinstance(outputs, Value):
            outputs = [outputs]
        rows = []
        for i, out in enumerate(outputs):
            if isinstance(out, Value):
                rows.append(_gradients(out, variables, differentiable))
            elif isinstance(out, (int, float)):  # a constant output has a zero row
                rows.append([_constant(0.0, differentiable)] * len(variables))
            else:
                raise TypeError(f"jacobian: output {i} of f must be a Value, got "
                                f"{type(out).__name__}: {out!r}")
        return rows

    return matrix


def hessian(f: Callable[..., Value]) -> Callable[..., list[list[Scalar]]]:
    """The matrix of second derivatives d²f / dx_i dx_j over all positional arguments.

    >>> hessian(lambda x, y: x * x * y)(1.0, 2.0)
    [[4.0, 2.0], [2.0, 0.0]]
    """
    def matrix(*args: Scalar) -> list[list[Scalar]]:
        return jacobian(grad(f, argnums=tuple(range(len(args)))))(*args)

    return matrix


def _argnums(argnums: ArgNums, n_args: int) -> tuple[int, ...]:
    indices = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not indices or not all(isinstance(i, int) and not isinstance(i, bool) for i in indices):
        raise TypeError(f"argnums must be an int or a non-empty tuple of ints, got {argnums!r}")
    for i in indices:
        if not -n_args <= i < n_args:
            raise ValueError(f"argnums {i} is out of range for a call with {n_args} arguments")
    return tuple(i % n_args for i in indices)


def _trace(args: Sequence[Scalar], indices: Sequence[int]):
    """Make a fresh node for each differentiated argument.

    A number becomes a leaf; a Value becomes an identity node on top of it, so the result stays
    connected to the outer graph, and an argument passed twice still gets two derivatives.
    Results are Values (``differentiable``) when an argument is a Value or when this call runs
    inside another transformed function.
    The other arguments are passed as Values too (numbers become constant leaves).
    """
    traced = [x if isinstance(x, Value) else _leaf(x, i) for i, x in enumerate(args)]
    # inside another transformed function, f may close over that function's variables
    differentiable = _tracing.depth > 0 or any(isinstance(args[i], Value) for i in indices)
    variables = []
    for i in indices:
        x = args[i]
        if isinstance(x, Value):
            traced[i] = apply(ops.IDENTITY, x)
        variables.append(traced[i])
    return traced, variables, differentiable


def _leaf(x: object, position: int) -> Value:
    if isinstance(x, (list, tuple)) or getattr(x, "ndim", 0):
        raise TypeError(f"argument {position} is a {type(x).__name__} ({x!r:.60}): the "
                        "transformed functions take one number per argument; unpack it, e.g. "
                        "grad(f, argnums=(0, 1))(*xs) for f(x0, x1)")
    return Value(x)


def _gradients(out: Value, variables: list[Value], differentiable: bool) -> list[Scalar]:
    grads = gradients(out, variables, create_graph=differentiable)
    return [_constant(grads.get(v, 0.0), differentiable) for v in variables]


def _constant(x: Scalar, differentiable: bool) -> Scalar:
    """Values out when the caller is tracing, floats otherwise."""
    if differentiable:
        return x if isinstance(x, Value) else Value(x)
    return x.data if isinstance(x, Value) else float(x)
