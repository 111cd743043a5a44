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

import importlib
import os
import sys
import threading
from typing import Any, Sequence

from autograd import ops

core: Any = None
reason = ""
if os.environ.get("CHAINRULE_PURE_PYTHON", "") not in ("", "0"):
    reason = "CHAINRULE_PURE_PYTHON is set"
else:
    try:
        core = importlib.import_module("autograd._core")
    except ModuleNotFoundError as error:  # installed without a compiler: the reference runs
        if error.name != "autograd._core":
            raise
        reason = ("the compiled core is not built: no C compiler or Python headers when chainrule "
                  "was installed (install them and reinstall: pip install -e .)")
    except ImportError as error:  # built, but not loadable here (another Python's build?)
        reason = f"the compiled core cannot be loaded: {error}"

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


def as_number(local: object) -> float:
    """A first-order rule's derivative as the reference walk reads it, or its error."""
    from autograd import engine

    return engine._as_number(local)


def as_label(label: object) -> str:
    """A label as the reference's ``Value.label`` takes it, or its error."""
    from autograd import value

    return value._as_label(label)


def reference_method(name: str) -> Any:
    """The reference ``Value``'s method ``name`` (its TypeError names irregular arguments)."""
    return getattr(PythonValue, name)


def check_value(*args: Any, **kwargs: Any) -> float:
    """``Value(*args, **kwargs)``'s data, or the error of the reference's constructor."""
    return PythonValue(*args, **kwargs).data


def forward(op: Any, inputs: Sequence[Any]) -> float:
    """The data of ``apply(op, *inputs)``, by the reference's steps (inputs already lifted)."""
    from autograd import value

    if len(inputs) != op.arity or op.layout:
        op.check_count(len(inputs))  # the reference's error
    datas = [x.data for x in inputs]
    data = op.compute(datas)
    if data - data != 0.0:  # NaN, or an infinity
        value._check_result(op.name, data, datas)
    return data if type(data) is float else value._as_float(data)


# The reference walk's errors, for the C walk to raise the same (autograd/engine.py makes them).

RULE_ERRORS = (ArithmeticError, ValueError, TypeError)
"""The errors of a rule that the walk names after the op and its inputs (engine.walk)."""


def rule_error(node: Any, error: Exception) -> Exception:
    """``backward through <op> at inputs [...]: <error>``, as the reference walk raises it."""
    from autograd import engine

    return engine._backward_error(node, error)


def rule_check(node: Any) -> Exception | None:
    """The error the reference's first-order rule raises at ``node``, or None."""
    try:
        node._op.partials_at(node)
    except RULE_ERRORS as error:
        return rule_error(node, error)
    return None


def gradient_error(node: Any, grad: float) -> Exception:
    """The reference walk's error for a node whose gradient is not finite."""
    from autograd import engine

    return engine._backward_error(node, engine._not_finite(grad))


def leaf_error(leaf: Any, grad: float) -> Exception:
    """The reference walk's error for a leaf whose gradient is not finite."""
    from autograd import engine

    return engine._end_error(leaf, grad)


def accumulate_error(leaf: Any, grad: float) -> Exception:
    """The reference's error when a leaf's ``.grad + grad`` overflows."""
    from autograd import engine

    return engine._accumulate_error(leaf, grad)


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
