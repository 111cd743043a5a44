"""Which engine runs: the compiled core (``autograd/_core.c``) or the pure-Python reference.

The compiled core replaces exactly ``Value``, ``apply``, the grad-mode flag and the first-order
``backward()``; everything else is the reference's Python, shared. ``autograd.value`` hands its
``Value`` and ``apply`` to ``select`` on its last lines, with everything the C code calls back
(the op table and the reference's functions, see ``value._REFERENCE``), and gets the twins
back when they are built: the core receives what it needs in that one call. This module imports
nothing of autograd, so the package's imports form no circle (``grad_mode`` keeps its flag in
C through ``CompiledGradMode``). ``CHAINRULE_PURE_PYTHON=1`` forces the reference.

>>> implementation in ("compiled", "python")
True
"""

from __future__ import annotations

import threading
from typing import Any

from autograd import _install

core: Any
reason: str  # why the core does not run, with advice for this install ("" when it runs)
core, reason = _install.load_core()

implementation = "python" if core is None else "compiled"
"""``"compiled"`` when the C core runs, ``"python"`` for the reference (``reason`` says why)."""

PythonValue: Any = None
"""The reference ``Value`` class, whichever class ``autograd.Value`` is."""


def select(value_class: type, apply: Any, ops: Any, reference: Any) -> tuple[Any, Any]:
    """``(Value, apply)`` of the implementation that runs, given the reference's two.

    ``ops`` is the op table's module and ``reference`` the functions the C code calls back
    (``autograd.value._REFERENCE``): the core is configured with them, once.
    """
    global PythonValue
    PythonValue = value_class
    if core is None:
        return value_class, apply
    core._configure(ops, reference)
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
