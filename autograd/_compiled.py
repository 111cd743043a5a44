"""Which engine runs: the compiled core (``autograd/_core.c``) or the pure-Python reference.

The compiled core replaces exactly ``Value``, ``apply``, the grad-mode flag and the first-order
``backward()``; everything else is the reference's Python, shared. ``autograd.value`` hands its
``Value`` and ``apply`` to ``select`` on its last line and gets the twins back when they are
built; ``autograd.grad_mode`` keeps its flag in C then. ``CHAINRULE_PURE_PYTHON=1`` forces the
reference.

The functions below are what the C code calls back whenever it does not decide by itself — a
number that is not a plain float or int, a result or gradient that is not finite, an op it does
not know, a wrong number of inputs — so its results and errors (types and messages) are the
reference's own, by construction.

>>> implementation in ("compiled", "python")
True
"""

from __future__ import annotations

import sys
import threading
from typing import Any, Sequence

from autograd import _install, ops

core: Any
reason: str  # why the core does not run, with advice for this install ("" when it runs)
core, reason = _install.load_core()

implementation = "python" if core is None else "compiled"
"""``"compiled"`` when the C core runs, ``"python"`` for the reference (``reason`` says why)."""

PythonValue: Any = None
"""The reference ``Value`` class, whichever class ``autograd.Value`` is."""
python_apply: Any = None
"""The reference ``apply``."""


def select(value_class: type, apply: Any) -> tuple[Any, Any]:
    """``(Value, apply)`` of the implementation that runs, given the reference's two."""
    global PythonValue, python_apply
    PythonValue, python_apply = value_class, apply
    if core is None:
        return value_class, apply
    return core.Value, core.apply


class CompiledGradMode(threading.local):
    """``autograd.grad_mode``'s per-thread state, with the flag itself kept in C."""

    def __init__(self) -> None:
        self.saved: list[bool] = []

    @property
    def enabled(self) -> bool:
        return core.is_grad_enabled()

    @enabled.setter
    def enabled(self, flag: bool) -> None:
        core.set_grad_enabled(flag)


# --- what the C code calls back (see the module docstring) -----------------------------------


def as_float(x: object) -> float:
    """A number as ``Value(x)`` reads it, or the reference's error."""
    from autograd import value

    return value._as_float(x)


def check_value(*args: Any, **kwargs: Any) -> float:
    """``Value(*args, **kwargs)``'s data, or the error of the reference's constructor."""
    return PythonValue(*args, **kwargs).data


def forward(op: Any, inputs: Sequence[Any]) -> float:
    """The data of ``apply(op, *inputs)``, by the reference's steps (inputs already lifted)."""
    from autograd import value

    if op.arity and len(inputs) != op.arity:
        python_apply(op, *inputs)  # raises the reference's error
    datas = [x.data for x in inputs]
    data = op.compute(datas)
    if data - data != 0.0:  # NaN, or an infinity
        value._check_result(op.name, data, datas)
    return data if type(data) is float else value._as_float(data)


def backward(root: Any, create_graph: bool) -> None:
    """The reference walk, ``autograd.engine.backward``."""
    from autograd import engine

    engine.backward(root, create_graph=create_graph)


def reduce(value: Any) -> tuple:
    """How a Value pickles (the reference's ``pickle_leaf``)."""
    from autograd import value as reference

    return reference.pickle_leaf(value)


def deepcopy(value: Any, memo: dict) -> Any:
    """A deep copy of the graph behind ``value`` (the reference's ``copy_graph``)."""
    from autograd import value as reference

    return reference.copy_graph(value, memo)


if core is not None:
    core._configure(ops, sys.modules[__name__])
