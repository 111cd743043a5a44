"""chainrule's engine: scalar reverse-mode automatic differentiation.

>>> from autograd import Value
>>> a, b = Value(2.0, label="a"), Value(-3.0, label="b")
>>> c = (a * b + a.exp()).tanh()
>>> c.backward()
>>> round(a.grad, 6), round(b.grad, 6)
(0.967244, 0.440753)
"""

from autograd._compiled import implementation
from autograd.engine import gc_paused, gradients, topological_order
from autograd.functional import grad, hessian, jacobian, value_and_grad
from autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from autograd.ops import OPS, Op
from autograd.value import (
    Value,
    apply,
    dot,
    enable_grad,
    is_grad_enabled,
    linear,
    logsumexp,
    no_grad,
    softmax,
    sum,
)

__all__ = [
    "OPS",
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
    "implementation",
    "is_grad_enabled",
    "jacobian",
    "linear",
    "logsumexp",
    "no_grad",
    "softmax",
    "sum",
    "topological_order",
    "value_and_grad",
]
