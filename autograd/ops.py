"""The op table: every primitive chainrule can differentiate, one entry each.

An entry reads like a line of a derivative sheet::

    name   forward on floats            local derivatives
    "*"    lambda x, y: x * y           lambda out, x, y: (y, x)

``forward(*inputs)`` computes the result from plain floats and raises a clear error outside the
op's domain. ``derivatives(out, *inputs)`` returns one partial derivative ∂out/∂input per input,
where ``out`` is the op's result. N-ary ops (``arity=0``: sum, dot, affine, logsumexp) take
their inputs as one sequence instead, ``forward(xs)`` and ``derivatives(out, xs)``, which spares
packing and unpacking dozens of arguments per node; ``Op.partials`` calls either kind alike.

The rules use only arithmetic and the helpers ``exp``, ``log``, ``sin``, ``cos``, ``erf`` and
``sigmoid`` below, which work on floats and on ``Value``s alike:

- on floats (``out`` and the inputs are ``.data``) they give the fast first-order backward pass;
- on ``Value``s (``out`` is the node itself, the inputs its parents) they build a graph, so a
  gradient can be differentiated again (``backward(create_graph=True)``, ``autograd.hessian``).

Each entry also states the ``domain`` its tests draw inputs from (one interval per input, or one
for all inputs of an n-ary op), the ``kinks`` the tests stay away from, and whether the rule is
itself differentiable (``twice_differentiable``). Adding an op is one entry here, plus a one-line
method on ``Value`` if it deserves one.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import repeat
from typing import Any, Callable, Sequence

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True)
class Op:
    """One primitive: its forward on floats and its local derivatives.

    >>> MUL.forward(2.0, 3.0), MUL.partials(6.0, [2.0, 3.0])
    (6.0, (3.0, 2.0))
    """

    name: str
    forward: Callable[..., float]
    derivatives: Callable[..., Sequence[Any]]
    arity: int  # number of inputs; 0 means any number (n-ary)
    domain: tuple[Interval, ...]  # where the tests draw each input from
    kinks: tuple[float, ...] = ()  # points where the derivative jumps; tests keep away
    twice_differentiable: bool = True
    label: str = field(default="", compare=False)  # the label of the one Value that owns a copy

    def partials(self, out: Any, inputs: Sequence[Any]) -> Sequence[Any]:
        """The local derivatives at ``inputs``, whatever the op's arity.

        >>> SUM.partials(3.0, [1.0, 2.0])
        (1.0, 1.0)
        """
        return self.derivatives(out, inputs) if self.arity == 0 else self.derivatives(out, *inputs)

    def near_kink(self, inputs: Sequence[float], distance: float = 0.05) -> bool:
        """Whether ``inputs`` lie within ``distance`` of a kink (a fused neuron's are in z).

        >>> RELU.near_kink([0.01]), RELU.near_kink([0.5])
        (True, False)
        """
        if not self.kinks:
            return False
        at = [_affine(inputs)] if self.name.startswith("affine>") else inputs
        return any(abs(x - k) <= distance for x in at for k in self.kinks)

    def labeled(self, label: str) -> Op:
        """A copy of this op carrying a Value's label (see ``Value.label``)."""
        return replace(self, label=label)


# A Value made by the user rather than by an op. It has no rules: backward stops there.
LEAF = Op("", forward=float, derivatives=lambda out: (), arity=0, domain=())

OPS: dict[str, Op] = {}
"""Every op the engine knows, by name; the tests walk this table."""


def _op(name: str, forward: Callable[..., float], derivatives: Callable[..., Sequence[Any]],
        arity: int, domain: Sequence[Interval], **details: Any) -> Op:
    op = Op(name, forward, derivatives, arity, tuple(domain), **details)
    OPS[name] = op
    return op


# --- helpers the rules are written with: floats in, float out; Values in, Value out ----------

def exp(x):
    return math.exp(x) if type(x) is float else x.exp()


def log(x):
    return math.log(x) if type(x) is float else x.log()


def sin(x):
    return math.sin(x) if type(x) is float else x.sin()


def cos(x):
    return math.cos(x) if type(x) is float else x.cos()


def erf(x):
    return math.erf(x) if type(x) is float else x.erf()


def sigmoid(x):
    return _sigmoid(x) if type(x) is float else x.sigmoid()


def sign(x) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


# --- forwards that guard their domain -------------------------------------------------------

def _outside(op: str, x: float, allowed: str) -> ValueError:
    return ValueError(f"{op}: got {x!r}, but {op} is only defined for {allowed}")


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        message = f"exp: exp({x!r}) overflows a float; exp needs an input <= 709.78"
        raise OverflowError(message) from None


def _finite(name: str, f: Callable[[float], float], x: float) -> float:
    if math.isinf(x):
        raise _outside(name, x, "finite inputs")
    return f(x)


def _log(x: float) -> float:
    if x <= 0.0:
        raise _outside("log", x, "inputs > 0")
    return math.log(x)


def _sqrt(x: float) -> float:
    if x < 0.0:
        raise _outside("sqrt", x, "inputs >= 0")
    return math.sqrt(x)


def _div(x: float, y: float) -> float:
    if y == 0.0:
        raise ZeroDivisionError(f"/: cannot divide {x!r} by zero")
    return x / y


def _sigmoid(x: float) -> float:
    # exp of a non-positive number never overflows, so pick the form that needs one
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x * SQRT1_2))


def _pow(x: float, y: float) -> float:
    if x <= 0.0:
        raise _outside("**", x, "a base > 0 when the exponent is a Value (d/dy x**y = x**y log x)")
    try:
        return x**y
    except OverflowError:
        raise OverflowError(f"**: {x!r} ** {y!r} overflows a float") from None


def _logsumexp(xs: Sequence[float]) -> float:
    top = max(xs)
    if math.isinf(top):
        return top
    return top + math.log(math.fsum([math.exp(x - top) for x in xs]))


def _dot(v: Sequence[float]) -> float:
    n = len(v) // 2
    return sum(map(operator.mul, v[:n], v[n:]))


def _affine(v: Sequence[float]) -> float:
    n = len(v) // 2
    return sum(map(operator.mul, v[:n], v[n:-1]), v[-1])


def _dot_partials(out, v):  # ∂/∂xi = yi and ∂/∂yi = xi
    n = len(v) // 2
    return (*v[n:], *v[:n])


def _affine_partials(out, v):  # as for dot, and 1 for the bias
    n = len(v) // 2
    return (*v[n:-1], *v[:n], 1.0)


SQRT1_2 = math.sqrt(0.5)
INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
ANY: Interval = (-2.0, 2.0)
POSITIVE: Interval = (0.1, 3.0)

# --- the table ------------------------------------------------------------------------------
#  name         forward                      derivatives(out, *inputs)                  domain

ADD = _op("+", operator.add, lambda out, x, y: (1.0, 1.0), 2, [ANY, ANY])
SUB = _op("-", operator.sub, lambda out, x, y: (1.0, -1.0), 2, [ANY, ANY])
MUL = _op("*", operator.mul, lambda out, x, y: (y, x), 2, [ANY, ANY])
DIV = _op("/", _div, lambda out, x, y: (1.0 / y, -out / y), 2, [ANY, POSITIVE])
POW = _op("**", _pow, lambda out, x, y: (y * x ** (y - 1.0), out * log(x)), 2, [POSITIVE, ANY])
IDENTITY = _op("identity", lambda x: x, lambda out, x: (1.0,), 1, [ANY])  # names a variable
NEG = _op("neg", operator.neg, lambda out, x: (-1.0,), 1, [ANY])
EXP = _op("exp", _exp, lambda out, x: (out,), 1, [ANY])
LOG = _op("log", _log, lambda out, x: (1.0 / x,), 1, [POSITIVE])
SQRT = _op("sqrt", _sqrt, lambda out, x: (0.5 / out,), 1, [POSITIVE])
SIN = _op("sin", lambda x: _finite("sin", math.sin, x), lambda out, x: (cos(x),), 1, [(-4.0, 4.0)])
COS = _op("cos", lambda x: _finite("cos", math.cos, x), lambda out, x: (-sin(x),), 1, [(-4.0, 4.0)])
TANH = _op("tanh", math.tanh, lambda out, x: (1.0 - out * out,), 1, [(-3.0, 3.0)])
SIGMOID = _op("sigmoid", _sigmoid, lambda out, x: (out * (1.0 - out),), 1, [(-6.0, 6.0)])
SOFTPLUS = _op("softplus", _softplus, lambda out, x: (sigmoid(x),), 1, [(-6.0, 6.0)])
ERF = _op("erf", math.erf, lambda out, x: (TWO_OVER_SQRT_PI * exp(-(x * x)),), 1, [ANY])
GELU = _op("gelu", _gelu,  # d/dx x Φ(x) = Φ(x) + x φ(x)
           lambda out, x: (0.5 * (1.0 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * exp(-0.5 * x * x),),
           1, [(-4.0, 4.0)])
# relu and abs: the derivative is a step (a constant even when x is a Value, as `x > 0` compares
# data), so the second derivative is 0 away from the kink
RELU = _op("relu", lambda x: x if x > 0.0 else 0.0, lambda out, x: (1.0 if x > 0 else 0.0,), 1,
           [ANY], kinks=(0.0,))
ABS = _op("abs", abs, lambda out, x: (sign(x),), 1, [ANY], kinks=(0.0,))

# n-ary ops: one node however many inputs; `xs` is the sequence of all inputs, in order
SUM = _op("sum", sum, lambda out, xs: (1.0,) * len(xs), 0, [ANY])
DOT = _op("dot", _dot, _dot_partials, 0, [ANY])  # inputs x1..xn, y1..yn
AFFINE = _op("affine", _affine, _affine_partials, 0, [ANY])  # inputs x1..xn, y1..yn, b
LOGSUMEXP = _op("logsumexp", _logsumexp, lambda out, xs: tuple(exp(x - out) for x in xs), 0,
                [(-3.0, 3.0)])
# softmax_i = exp(x_i - logsumexp(x)): one node per output, fed by x_i and the shared logsumexp
SOFTMAX = _op("softmax", lambda x, lse: math.exp(x - lse), lambda out, x, lse: (out, -out), 2,
              [ANY, ANY])


def power(p: float) -> Op:
    """The op ``x ** p`` for a constant exponent ``p`` (one op per exponent, cached).

    >>> power(2).forward(3.0), power(2.0).partials(9.0, [3.0])
    (9.0, (6.0,))
    """
    return _power(float(p))


@cache
def _power(p: float) -> Op:
    name = f"**{p:g}"

    def forward(x: float) -> float:
        if x < 0.0 and not p.is_integer():
            raise _outside(name, x, f"inputs >= 0 when the exponent {p:g} is not an integer")
        if x == 0.0 and p < 0.0:
            raise ZeroDivisionError(f"{name}: 0.0 cannot be raised to the negative power {p:g}")
        try:
            return x**p
        except OverflowError:
            raise OverflowError(f"{name}: {x!r} ** {p:g} overflows a float") from None

    domain = ANY if p.is_integer() and p >= 0.0 else POSITIVE
    if p == 0.0:  # x**0 is the constant 1 (and x**-1 at 0 must not be evaluated)
        return Op(name, forward, lambda out, x: (0.0,), 1, (domain,))
    return Op(name, forward, lambda out, x: (p * x ** (p - 1.0),), 1, (domain,))


def leaky_relu(slope: float) -> Op:
    """The op ``x if x > 0 else slope * x`` (one op per slope, cached).

    >>> leaky_relu(0.1).forward(-2.0)
    -0.2
    """
    return _leaky_relu(float(slope))


@cache
def _leaky_relu(slope: float) -> Op:
    return Op(f"leaky_relu({slope:g})", lambda x: x if x > 0.0 else slope * x,
              lambda out, x: (1.0 if x > 0 else slope,), 1, (ANY,), kinks=(0.0,))


@cache
def activated(activation: Op) -> Op:
    """The op ``activation(x1*y1 + ... + xn*yn + b)``: a whole neuron as one node (cached).

    Its inputs are those of ``affine``. The rule recomputes the pre-activation ``z`` and scales
    affine's partials by the activation's own derivative at ``z``; a zero there (a relu that
    is off) gives zeros without the products.

    >>> neuron = activated(RELU)
    >>> neuron.name, neuron.forward([2.0, 3.0, -1.0]), neuron.partials(5.0, [2.0, 3.0, -1.0])
    ('affine>relu', 5.0, (3.0, 2.0, 1.0))
    """
    if activation.arity != 1:
        raise ValueError(f"activated: needs a unary op, got {activation.name!r}")

    def forward(v: Sequence[float]) -> float:
        return activation.forward(_affine(v))

    def derivatives(out, v):
        n = len(v) // 2
        (slope,) = activation.derivatives(out, _affine(v))  # z, from floats or Values alike
        if type(slope) is float and slope == 0.0:
            return (0.0,) * len(v)
        scale = repeat(slope)
        return (*map(operator.mul, v[n:-1], scale), *map(operator.mul, v[:n], scale), slope)

    # the kinks are those of the activation, at the pre-activation z (see `Op.near_kink`)
    return Op(f"affine>{activation.name}", forward, derivatives, 0, (ANY,),
              kinks=activation.kinks, twice_differentiable=activation.twice_differentiable)


# the parameterised families join the table through a few representative members
for _family_member in (power(2.0), power(3.0), power(-1.0), power(0.5), power(-0.5), power(1.5),
                       leaky_relu(0.01), leaky_relu(0.2), activated(RELU), activated(TANH),
                       activated(GELU), activated(leaky_relu(0.01))):
    OPS[_family_member.name] = _family_member
