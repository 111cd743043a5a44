"""The op table: every primitive chainrule can differentiate, one entry each.

An entry reads like a line of a derivative sheet::

    name   forward on floats            local derivatives
    "*"    lambda x, y: x * y           lambda out, x, y: (y, x)

``forward(*inputs)`` computes the result from plain floats and raises a clear error outside the
op's domain. ``derivatives(out, *inputs)`` returns one partial derivative ∂out/∂input per input,
where ``out`` is the op's result. Every op takes its inputs as separate arguments, an n-ary op
(``arity=0``: sum, dot, affine, logsumexp) as many as it is given, so there is one calling
convention (``op.compute(inputs)`` and ``op.partials(out, inputs)`` spell it for a sequence,
``op.compute_at(values)`` and ``op.partials_at(node)`` at the nodes of a graph).

The rules use only arithmetic and the helpers ``exp``, ``log``, ``sin``, ``cos``, ``erf`` and
``sigmoid`` below, which work on floats and on ``Value``s alike:

- on floats (``out`` and the inputs are ``.data``) they give the first-order backward pass;
- on ``Value``s (``out`` is the node itself, the inputs its parents) they build a graph, so a
  gradient can be differentiated again (``backward(create_graph=True)``, ``autograd.hessian``).

Each entry also states the ``domain`` its tests draw inputs from (one interval per input, or one
for all inputs of an n-ary op), the ``kinks`` the tests stay away from, and whether the rule is
itself differentiable (``twice_differentiable``). Adding an op is one entry: ``Op(...)`` here (or
in your own code) and ``autograd.apply(op, *inputs)`` to use it; a method on ``Value`` is optional.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import TYPE_CHECKING, Any, Callable, Sequence

if TYPE_CHECKING:
    from autograd.value import Value

Interval = tuple[float, float]


@dataclass(frozen=True, slots=True, eq=False)
class Op:
    """One primitive: its forward on floats and its local derivatives.

    Ops compare by identity; the families below cache their recent members, so
    ``power(2) is power(2)``.

    >>> MUL.compute([2.0, 3.0]), MUL.partials(6.0, [2.0, 3.0])
    (6.0, (3.0, 2.0))
    >>> fma = Op("fma", lambda x, y, z: x * y + z, lambda out, x, y, z: (y, x, 1.0), arity=3,
    ...          domain=[(-2, 2)] * 3)
    >>> fma.compute([2.0, 3.0, 1.0]), fma.partials(7.0, [2.0, 3.0, 1.0])
    (7.0, (3.0, 2.0, 1.0))
    """

    name: str
    forward: Callable[..., float]
    derivatives: Callable[..., Sequence[Any]]
    arity: int  # number of inputs; 0 means any number (n-ary: one sequence)
    domain: Sequence[Interval]  # where the tests draw each input from
    kinks: tuple[float, ...] = ()  # points where the derivative jumps; tests keep away
    twice_differentiable: bool = True
    family: str = ""  # "power", "leaky_relu" or "activated" for a member of a family below
    parameter: float | None = None  # a family member's constant: the exponent, the slope
    activation: Op | None = None  # the activation inside a fused neuron (family "activated")
    # the rule cannot fail where the forward succeeded: the walk need not evaluate it where the
    # gradient is 0, as nothing would pass on (see engine.walk); unknown for a user's op
    always_defined: bool = False
    # how an n-ary op's inputs are laid out: "" (any number), "pairs" (x1..xn, y1..yn),
    # "pairs and bias" (x1..xn, y1..yn, b) or "index first" (i, x0..xn-1); `check_count`
    # enforces it
    layout: str = ""
    # set only by the families below: the compiled core may then run its own rule for the member.
    # Not an argument, so an Op copied with other rules (dataclasses.replace) never has it.
    native: tuple[Any, ...] | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "domain", tuple(tuple(interval) for interval in self.domain))

    def check_count(self, count: int) -> None:
        """Raise ``TypeError`` unless the op takes ``count`` inputs.

        >>> DOT.check_count(4)
        >>> DOT.check_count(3)
        Traceback (most recent call last):
        TypeError: dot: takes x1..xn, y1..yn (an even number of inputs, at least 2), got 3
        """
        if self.arity:
            if count != self.arity:
                raise TypeError(f"{self.name}: takes {self.arity} inputs, got {count}")
        elif self.layout == "pairs":
            if count < 2 or count % 2:
                raise TypeError(f"{self.name}: takes x1..xn, y1..yn (an even number of inputs, "
                                f"at least 2), got {count}")
        elif self.layout == "pairs and bias" and (count < 3 or count % 2 == 0):
            raise TypeError(f"{self.name}: takes x1..xn, y1..yn, b (an odd number of inputs, "
                            f"at least 3), got {count}")
        elif self.layout == "index first" and count < 2:
            raise TypeError(f"{self.name}: takes an index and at least one value to pick from "
                            f"(at least 2 inputs), got {count}")

    def compute(self, inputs: Sequence[float]) -> float:
        """The forward on a sequence of floats: ``forward(*inputs)``.

        >>> SUM.compute([1.0, 2.0]), NEG.compute([2.0])
        (3.0, -2.0)
        """
        return self.forward(*inputs)

    def partials(self, out: Any, inputs: Sequence[Any]) -> Sequence[Any]:
        """The local derivatives ∂out/∂input, one per input: ``derivatives(out, *inputs)``.

        ``out`` and ``inputs`` are floats (first order) or the node and its parents (to build
        a graph of the derivatives).

        >>> SUM.partials(3.0, [1.0, 2.0])
        (1.0, 1.0)
        """
        return self.derivatives(out, *inputs)

    # The same convention at a node of the graph. Two inputs and one, by far the most common,
    # are spelled out: the call then needs no list of the inputs' data.

    def compute_at(self, inputs: Sequence[Value]) -> float:
        """The forward on the data of ``inputs`` (Values): what ``apply`` records.

        >>> from autograd import Value
        >>> MUL.compute_at([Value(2.0), Value(3.0)])
        6.0
        """
        if self.arity == 2:
            return self.forward(inputs[0]._data, inputs[1]._data)
        if self.arity == 1:
            return self.forward(inputs[0]._data)
        return self.forward(*[x._data for x in inputs])

    def partials_at(self, node: Value, create_graph: bool = False) -> Sequence[Any]:
        """The local derivatives ∂node/∂parent at a node this op computed, one per parent.

        On floats (the node's data and its parents'), or with ``create_graph`` on the node and
        its parents themselves, so that the derivatives are Values in a graph of their own.

        >>> from autograd import Value
        >>> x = Value(3.0); MUL.partials_at(x * 2)
        (2.0, 3.0)
        """
        parents = node._prev
        if create_graph:
            return self.derivatives(node, *parents)
        if self.arity == 2:
            return self.derivatives(node._data, parents[0]._data, parents[1]._data)
        if self.arity == 1:
            return self.derivatives(node._data, parents[0]._data)
        return self.derivatives(node._data, *[p._data for p in parents])

    def near_kink(self, inputs: Sequence[float], distance: float = 0.05) -> bool:
        """Whether ``inputs`` lie within ``distance`` of a kink (a fused neuron's are in z).

        >>> RELU.near_kink([0.01]), RELU.near_kink([0.5])
        (True, False)
        """
        at = [_affine(*inputs)] if self.activation is not None else inputs
        return any(abs(x - k) <= distance for x in at for k in self.kinks)


# A Value made by the user rather than by an op: it has no rules, backward stops there.
LEAF = Op("", forward=lambda *xs: math.nan, derivatives=lambda out, *xs: (), arity=0, domain=())
# A Value computed inside ``no_grad``: a leaf too, but ``backward()`` from it is refused.
UNTRACKED = Op("", forward=lambda *xs: math.nan, derivatives=lambda out, *xs: (), arity=0,
               domain=())

OPS: dict[str, Op] = {}
"""The fixed primitives, by name. The families ``power(p)``, ``leaky_relu(slope)`` and
``activated(op)`` make further ops on demand; the tests sample their members themselves."""


# The table's rules that can fail where their forward succeeded: a division (``1 / y`` when
# ``y * y`` underflows), ``1 / x`` for log, a power, ``0.5 / out`` for sqrt at 0, and logsumexp's
# softmax. Every other rule of the table is made of products, constants and functions defined
# everywhere (sigmoid, exp(-x²), sin, cos) of its inputs and output.
_RULES_THAT_CAN_FAIL = {"/", "**", "log", "sqrt", "logsumexp"}


def _op(name: str, forward: Callable[..., float], derivatives: Callable[..., Sequence[Any]],
        arity: int, domain: Sequence[Interval], **details: Any) -> Op:
    op = Op(name, forward, derivatives, arity, domain,
            always_defined=name not in _RULES_THAT_CAN_FAIL, **details)
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


def gauss(x):
    """exp(-x²/2): 0.0 beyond |x| > 40, where it underflows anyway (and x² would overflow)."""
    if abs(x if type(x) is float else x.data) > 40.0:
        return 0.0
    return exp(-0.5 * x * x)


def sign(x) -> float:
    return 1.0 if x > 0 else -1.0 if x < 0 else 0.0


# --- forwards that guard their domain -------------------------------------------------------

def _outside(op: str, x: float, allowed: str) -> ValueError:
    return ValueError(f"{op}: got {x!r}, but {op} is only defined for {allowed}")


def overflow(name: str, inputs: Sequence[float]) -> OverflowError:
    """The error for a result beyond the largest float (about 1.8e308) from finite inputs.

    >>> overflow("*", [1e200, 1e200])
    OverflowError('*: the result overflows a float (|x| > 1.8e308) at inputs [1e+200, 1e+200]')
    """
    return OverflowError(f"{name}: the result overflows a float (|x| > 1.8e308) at inputs "
                         f"{list(inputs)}")


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        raise overflow("exp", [x]) from None


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
    if math.isinf(x):  # the limits, not -inf * 0
        return max(x, 0.0)
    return 0.5 * x * (1.0 + math.erf(x * SQRT1_2))


def _gelu_slope(x):  # d/dx x Φ(x) = Φ(x) + x φ(x); at ±inf the limits 1 and 0, not inf * 0
    if type(x) is float and math.isinf(x):
        return 1.0 if x > 0.0 else 0.0
    return 0.5 * (1.0 + erf(x * SQRT1_2)) + x * INV_SQRT_2PI * gauss(x)


def _float_pow(name: str, x: float, y: float) -> float:
    try:
        return x**y
    except OverflowError:
        raise overflow(name, [x, y]) from None


def _pow(x: float, y: float) -> float:
    if x <= 0.0:
        raise _outside("**", x, "a base > 0 when the exponent is a Value (d/dy x**y = x**y log x)")
    return _float_pow("**", x, y)


def _logsumexp(*xs: float) -> float:
    top = max(xs)
    if math.isinf(top):
        return top
    return top + math.log(math.fsum([math.exp(x - top) for x in xs]))


def _logsumexp_partials(out, *xs):
    """softmax(xs), from exp(x - max) / Σ exp(x - max) rather than exp(x - out): exact at any
    magnitude (out = max + log Σ loses the log's digits once max is large). The shift by the
    constant max changes no derivative, so on Values this is exact to any order."""
    datas = [x if type(x) is float else x.data for x in xs]
    top = max(datas)
    if top == math.inf:  # all the mass is on the infinite inputs
        count = datas.count(top)
        return tuple(1.0 / count if x == top else 0.0 for x in datas)
    shifted = [exp(x - top) for x in xs]
    total = math.fsum(shifted) if type(shifted[0]) is float else sum(shifted)
    return tuple(e / total for e in shifted)


def _dot(*v: float) -> float:
    n = len(v) // 2
    return sum(map(operator.mul, v[:n], v[n:]))


def _affine(*v: float) -> float:
    # the bias is the last term of the products' sum, as PyTorch adds it last (added first,
    # products that cancel would absorb it); inside the sum, Python's compensated sum() (3.12+)
    # keeps it exactly too, where adding it after the sum would round twice
    n = len(v) // 2
    return sum([*map(operator.mul, v[:n], v[n:-1]), v[-1]])


def _dot_partials(out, *v):  # ∂/∂xi = yi and ∂/∂yi = xi
    n = len(v) // 2
    return (*v[n:], *v[:n])


def _affine_partials(out, *v):  # as for dot, and 1 for the bias
    n = len(v) // 2
    return (*v[n:-1], *v[:n], 1.0)


SQRT1_2 = math.sqrt(0.5)
SQRT2 = math.sqrt(2.0)
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
ERF = _op("erf", math.erf, lambda out, x: (TWO_OVER_SQRT_PI * gauss(SQRT2 * x),), 1, [ANY])
GELU = _op("gelu", _gelu, lambda out, x: (_gelu_slope(x),), 1, [(-4.0, 4.0)])
# relu and abs: the derivative is a step (a constant even when x is a Value, as `x > 0` compares
# data), so the second derivative is 0 away from the kink
RELU = _op("relu", lambda x: x if x > 0.0 else 0.0, lambda out, x: (1.0 if x > 0 else 0.0,), 1,
           [ANY], kinks=(0.0,))
ABS = _op("abs", abs, lambda out, x: (sign(x),), 1, [ANY], kinks=(0.0,))

# n-ary ops: one node however many inputs
SUM = _op("sum", lambda *xs: sum(xs), lambda out, *xs: (1.0,) * len(xs), 0, [ANY])
DOT = _op("dot", _dot, _dot_partials, 0, [ANY], layout="pairs")  # x1..xn, y1..yn
AFFINE = _op("affine", _affine, _affine_partials, 0, [ANY], layout="pairs and bias")
LOGSUMEXP = _op("logsumexp", _logsumexp, _logsumexp_partials, 0, [(-3.0, 3.0)])


# --- picking by an index ----------------------------------------------------------------------
# `take` is an op like the others (so a recording replays it with a new index), but it is not in
# OPS: the table's generated tests differentiate every input by finite differences, and an index
# has none. Its derivative is 1 for the value picked and 0 for the others and for the index.


def take_position(index: float, count: int) -> int:
    """The position ``take`` picks from ``count`` values: ``index`` as a Python list index
    (``-count <= index < count``), refused unless it is an integral number in that range.

    >>> take_position(-1.0, 3)
    2
    >>> take_position(3.0, 3)
    Traceback (most recent call last):
    IndexError: take: index 3 is out of range for 3 values (allowed: -3 to 2)
    """
    if type(index) is not int and not (math.isfinite(index) and float(index).is_integer()):
        raise ValueError(f"take: the index must be an integral number, got {index!r} "
                         f"(allowed: -{count} to {count - 1})")
    position = int(index)
    if not -count <= position < count:
        raise IndexError(f"take: index {position} is out of range for {count} values "
                         f"(allowed: -{count} to {count - 1})")
    return position + count if position < 0 else position


def _take(index: float, *values: float) -> float:
    return values[take_position(index, len(values))]


def _take_partials(out, index, *values):
    picked = take_position(index if type(index) is float else index.data, len(values))
    return (0.0, *[1.0 if k == picked else 0.0 for k in range(len(values))])


TAKE = Op("take", _take, _take_partials, 0, (), layout="index first", always_defined=True)
"""``values[index]`` with the index as the first input: ``TAKE.compute([1.0, 5.0, 7.0]) == 7.0``."""

SHIFT = Op("max", lambda *xs: max(xs), lambda out, *xs: (0.0,) * len(xs), 0, (),
           always_defined=True)
"""The largest input: the constant ``softmax`` shifts by. In a recording of ``autograd.compile``
it computes a constant leaf (no gradient flows through it, as none flows through a constant)."""


def power(p: float) -> Op:
    """The op ``x ** p`` for a constant exponent ``p`` (one op per exponent; the recent ones
    are cached, so an annealed exponent holds no memory).

    >>> power(2).compute([3.0]), power(2.0).partials(9.0, [3.0]), power(2) is power(2.0)
    (9.0, (6.0,), True)
    """
    return _power(float(p))


FAMILY_CACHE = 256
"""How many members of each family (exponents, slopes, activations) stay cached."""


@lru_cache(maxsize=FAMILY_CACHE)
def _power(p: float) -> Op:
    name = f"**{p:g}"

    def forward(x: float) -> float:
        if x < 0.0 and not p.is_integer():
            raise _outside(name, x, f"inputs >= 0 when the exponent {p:g} is not an integer")
        if x == 0.0 and p < 0.0:
            raise ZeroDivisionError(f"{name}: 0.0 cannot be raised to the negative power {p:g}")
        return _float_pow(name, x, p)

    if p == 0.0:  # x**0 is the constant 1 (and x**-1 at 0 must not be evaluated)
        def derivatives(out, x):
            return (0.0,)
    else:
        def derivatives(out, x):
            return (p * x ** (p - 1.0),)

    domain = ANY if p.is_integer() and p >= 0.0 else POSITIVE
    return _native(Op(name, forward, derivatives, 1, (domain,), family="power", parameter=p),
                   "power", p)


def _native(op: Op, family: str, constant: Any) -> Op:
    """Mark a family member as made here, so the compiled core may run its own rule for it."""
    object.__setattr__(op, "native", (family, constant))
    return op


LEAKY_SLOPE = 0.01
"""The slope of ``leaky_relu`` when none is given (``Value.leaky_relu``, ``"leaky_relu"``)."""


def leaky_relu(slope: float = LEAKY_SLOPE) -> Op:
    """The op ``x if x > 0 else slope * x`` (one op per slope; the recent ones cached).

    >>> leaky_relu(0.1).compute([-2.0])
    -0.2
    """
    slope = float(slope)
    if not math.isfinite(slope):
        raise ValueError(f"leaky_relu: the slope must be a finite number, got {slope!r}")
    return _leaky_relu(slope)


@lru_cache(maxsize=FAMILY_CACHE)
def _leaky_relu(slope: float) -> Op:
    return _native(Op(f"leaky_relu({slope:g})", lambda x: x if x > 0.0 else slope * x,
                      lambda out, x: (1.0 if x > 0 else slope,), 1, (ANY,), kinks=(0.0,),
                      family="leaky_relu", parameter=slope, always_defined=True),
                   "leaky_relu", slope)


@lru_cache(maxsize=FAMILY_CACHE)
def activated(activation: Op) -> Op:
    """The op ``activation(x1*y1 + ... + xn*yn + b)``: a whole neuron as one node (cached).

    Its inputs are those of ``affine``. The rule recomputes the pre-activation ``z`` and scales
    affine's partials by the activation's own derivative at ``z``.

    >>> neuron = activated(RELU)
    >>> neuron.name, neuron.compute([2.0, 3.0, -1.0]), neuron.partials(5.0, [2.0, 3.0, -1.0])
    ('affine>relu', 5.0, (3.0, 2.0, 1.0))
    >>> neuron.activation is RELU
    True
    """
    if activation.arity != 1:
        raise ValueError(f"activated: needs a unary op, got {activation.name!r}")

    def forward(*v: float) -> float:
        z = _affine(*v)
        if math.isinf(z) and all(map(math.isfinite, v)):
            raise overflow(f"affine>{activation.name}", v)
        return activation.forward(z)

    def derivatives(out, *v):
        n = len(v) // 2
        (slope,) = activation.derivatives(out, _affine(*v))  # z, from floats or Values alike
        if type(slope) is float and slope == 0.0:  # a relu that is off: no products needed
            return (0.0,) * len(v)
        scale = repeat(slope)
        return (*map(operator.mul, v[n:-1], scale), *map(operator.mul, v[:n], scale), slope)

    # the kinks are those of the activation, at the pre-activation z (see `Op.near_kink`)
    neuron = Op(f"affine>{activation.name}", forward, derivatives, 0, (ANY,),
                kinks=activation.kinks, twice_differentiable=activation.twice_differentiable,
                family="activated", activation=activation,
                always_defined=activation.always_defined, layout="pairs and bias")
    native = OPS.get(activation.name) is activation or activation.native is not None
    return _native(neuron, "activated", activation) if native else neuron


def unary(name: str) -> Op:
    """The unary op called ``name``: one of the table's, ``"leaky_relu"`` (slope
    ``LEAKY_SLOPE``) or a leaky_relu by its own name, ``"leaky_relu(0.2)"``.

    >>> unary("tanh") is TANH, unary("leaky_relu").parameter, unary("leaky_relu(0.2)").parameter
    (True, 0.01, 0.2)
    """
    if name == "leaky_relu":
        return leaky_relu(LEAKY_SLOPE)
    if name.startswith("leaky_relu(") and name.endswith(")"):
        try:
            slope = float(name[len("leaky_relu("):-1])
        except ValueError:
            slope = math.nan
        if math.isfinite(slope):
            return leaky_relu(slope)
    op = OPS.get(name)
    if op is None or op.arity != 1 or op is IDENTITY:
        allowed = ", ".join(sorted([n for n, o in OPS.items() if o.arity == 1 and o is not IDENTITY]
                                   + ["leaky_relu", "leaky_relu(slope)"]))
        raise ValueError(f"unknown unary op {name!r}; use one of: {allowed}")
    return op
