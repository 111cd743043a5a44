"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = (a * b + a.exp()).tanh()
>>> c.backward()
>>> round(a.grad, 6), round(b.grad, 6)
(0.967244, 0.440753)

The reading path: ``ops.py`` (the op table: forward and local derivatives of each primitive),
``value.py`` (``Value`` and ``apply``, which records a node), ``engine.py`` (the backward walk).
``autograd.sum`` is the fused sum; ``from autograd import *`` leaves the builtin ``sum`` alone.
"""

import sys

from autograd import _compiled, fused, recording
from autograd.engine import gc_paused, gradients, topological_order
from autograd.functional import grad, hessian, jacobian, value_and_grad
from autograd.fused import dot, linear, logsumexp, softmax, take
from autograd.grad_mode import (
    DataDependentError,
    enable_grad,
    is_grad_enabled,
    no_grad,
    set_grad_enabled,
)
from autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from autograd.ops import OPS, Op
from autograd.value import Value, apply

sum = fused.sum
compile = recording.compile  # shadows the builtin only as autograd.compile

if sys.platform == "emscripten":  # Pyodide: free graphs of any depth (see autograd/_deep_free.py)
    from autograd import _deep_free

    _deep_free.install(_compiled.PythonValue)

implementation = _compiled.implementation
"""Which engine runs: ``"compiled"`` (the C twin, autograd/_core.c) or ``"python"`` (the
reference; forced with ``CHAINRULE_PURE_PYTHON=1``, and the fallback where no compiler built
the twin — ``autograd._compiled.reason`` says why)."""

__all__ = [
    "OPS",
    "DataDependentError",
    "GradcheckError",
    "Op",
    "Value",
    "apply",
    "dot",
    "enable_grad",
    "gc_paused",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "gradients",
    "hessian",
    "is_grad_enabled",
    "jacobian",
    "linear",
    "logsumexp",
    "no_grad",
    "set_grad_enabled",
    "softmax",
    "take",
    "topological_order",
    "value_and_grad",
]
