"""Which engine runs: the compiled core (``autograd/_core.c``) or the pure-Python reference.

``autograd.value`` defines the reference ``Value`` and ``apply``; its last line hands them to
``select``, which gives back the compiled twins when they are built (and not refused with
``CHAINRULE_PURE_PYTHON=1``), else the reference itself.

The functions below are what the compiled core calls back into whenever it does not decide by
itself — a number that is not a plain float or int, a result or gradient that is not finite, an
op it does not know — so that its results and errors (types and messages) are the reference's.

>>> implementation in ("compiled", "python")
True
"""

from __future__ import annotations

import os
import sys
from typing import Any, Sequence

from autograd import ops

core: Any = None
reason = ""
if os.environ.get("CHAINRULE_PURE_PYTHON", "") not in ("", "0"):
    reason = "CHAINRULE_PURE_PYTHON is set"
else:
    try:
        from autograd import _core as core
    except ImportError as error:  # no compiler at install time: the reference runs
        reason = f"the compiled core is not built ({error})"

implementation = "python" if core is None else "compiled"
"""``"compiled"`` when the C core runs, ``"python"`` for the reference (``reason`` says why)."""

PythonValue: Any = None
"""The reference class, kept for the checks below whichever class ``autograd.Value`` is."""


def select(value_class: type, apply: Any) -> tuple[type, Any]:
    """``(Value, apply)`` of the implementation that runs, given the reference's two."""
    global PythonValue
    PythonValue = value_class
    if core is None:
        return value_class, apply
    return core.Value, core.apply


def as_float(x: object) -> float:
    """A number as ``Value(x)`` reads it, or the reference's error."""
    from autograd import value

    return value._as_float(x)


def check_value(*args: Any, **kwargs: Any) -> float:
    """``Value(*args, **kwargs)``'s data, checked by the reference's constructor."""
    return PythonValue(*args, **kwargs).data


def forward(op: ops.Op, inputs: Sequence[Any]) -> float:
    """The data of ``apply(op, *inputs)`` computed by the reference (or its error)."""
    datas = [x.data for x in inputs]
    data = op.forward(datas) if op.arity == 0 else op.forward(*datas)
    if data != data:
        raise ValueError(f"{op.name}: the result is NaN for inputs {datas}")
    return data


def backward(root: Any, create_graph: bool) -> None:
    """The reference walk (``autograd.engine.backward``)."""
    from autograd import engine

    engine.backward(root, create_graph=create_graph)


def reduce(value: Any) -> tuple:
    """What pickles a Value: its data, grad and label (a node pickles as a leaf)."""
    return (type(value), (value.data, value.label))


if core is not None:
    core._configure(ops, sys.modules[__name__])
