"""The cases the compiled core and the reference must agree on, run in one implementation.

``python tests/twin_cases.py`` prints, as JSON, what the implementation in this process gives
for every case: each op of the table at points from its domain and at hostile points (values,
gradients through ``backward()``, errors with their type and message), random graphs, and a set
of semantic probes. ``tests/test_compiled.py`` runs it once with ``CHAINRULE_PURE_PYTHON=1``
and once without, and compares the two outputs entry by entry.
"""

from __future__ import annotations

import copy
import json
import math
import pickle
import random
import sys
from functools import partial
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd
from autograd import Value, apply, no_grad
from autograd.ops import activated, leaky_relu, power
from tests.conftest import ALL_OPS, n_inputs_of, sample_points

HOSTILE = [0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 1e-310, 1e308, -1e308, 700.0, 710.0, -745.5,
           math.inf, -math.inf]


def outcome(make: Callable[[], Any]) -> Any:
    """What ``make()`` gives: its value (floats as repr, so -0.0 and inf survive) or its error."""
    try:
        result = make()
    except Exception as error:  # every error is part of what must agree
        return {"error": type(error).__name__, "message": str(error)}
    return _plain(result)


def _plain(x: Any) -> Any:
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, Value):
        return {"value": repr(x.data)}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {str(k): _plain(v) for k, v in x.items()}
    return x


def forward_and_backward(op: Any, point: list[float]) -> Any:
    """apply(op, *leaves), then backward(): the data, and every leaf's gradient."""
    leaves = [Value(x) for x in point]
    out = apply(op, *leaves)
    out.backward()
    return [out.data, [leaf.grad for leaf in leaves]]


def table_cases() -> dict[str, Any]:
    cases: dict[str, Any] = {}
    extra = [power(7), power(-2), activated(power(2)), activated(leaky_relu(0.3))]
    for op in [*ALL_OPS, *extra]:
        name = op.name
        for i, point in enumerate(sample_points(op, count=4, seed=7)):
            cases[f"{name} sample {i}"] = outcome(partial(forward_and_backward, op, point))
        width = n_inputs_of(op)
        rng = random.Random(name)
        for i in range(12):
            point = [rng.choice(HOSTILE) for _ in range(width)]
            cases[f"{name} hostile {i} {point}"] = outcome(partial(forward_and_backward, op, point))
        # an upstream gradient of exactly 0 still evaluates the rule, and passes nothing on
        for i, point in enumerate(sample_points(op, count=1, seed=3)):
            def zero_upstream(op=op, point=point):
                leaves = [Value(x) for x in point]
                (apply(op, *leaves) * 0.0).backward()
                return [leaf.grad for leaf in leaves]
            cases[f"{name} zero upstream {i}"] = outcome(zero_upstream)
    return cases


UNARY = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu", "gelu",
         "erf", "abs"]


def random_graph(seed: int) -> Any:
    """A random expression over four leaves, backpropagated: the output and the leaves' grads."""
    rng = random.Random(seed)
    leaves = [Value(rng.uniform(-2.0, 2.0), label=f"x{i}") for i in range(4)]
    pool: list[Any] = list(leaves)
    for _ in range(rng.randint(3, 30)):
        a, b = rng.choice(pool), rng.choice(pool)
        kind = rng.random()
        if kind < 0.45:
            node = rng.choice([a + b, a - b, a * b, a * 0.5 + 1, 2 - b, 3 * a, -a])
        elif kind < 0.55:
            node = a / (b * b + 1.0)
        elif kind < 0.7:
            name = rng.choice(UNARY)
            node = getattr(a * a + 0.1 if name in ("log", "sqrt") else a * 0.3, name)()
        elif kind < 0.8:
            node = (a * a + 0.5) ** rng.choice([2, 0.5, -1, 1.5, 3])
        elif kind < 0.85:
            node = a.leaky_relu(rng.choice([0.01, 0.2]))
        elif kind < 0.95:
            xs = rng.sample(pool, k=min(len(pool), rng.randint(1, 4)))
            fused = rng.choice([autograd.sum, lambda v: autograd.dot(v, v),
                                lambda v: autograd.dot(v, v[::-1], bias=v[0]),
                                autograd.logsumexp])
            node = fused(xs)
        else:
            node = sum(pool[-3:])  # Python's sum: starts at the int 0
        pool.append(node)
    out = pool[-1] * 1.0 + sum(pool[-4:]) * 0.1
    out.backward()
    return [out.data, [leaf.grad for leaf in leaves]]


def semantics() -> dict[str, Any]:
    def accumulate():
        a = Value(2.0)
        b = a * a
        c = b * b
        c.backward()
        c.backward()
        return [a.grad, b.grad, c.grad]

    def from_a_leaf():
        a = Value(3.0)
        a.backward()
        a.backward()
        return a.grad

    def all_or_nothing():
        a, b, c = Value(2.0), Value(3.0), Value(0.0)
        a.grad = 0.25
        y = a * b + c.sqrt()
        try:
            y.backward()
        except ZeroDivisionError as error:
            return [a.grad, b.grad, c.grad, y.grad, str(error)]
        return "no error"

    def untracked():
        with no_grad():
            y = Value(2.0) * 3
        return [y.op, y.parents == (), y.is_leaf, outcome(y.backward)]

    def labels():
        a = Value(1.0, label="a")
        b = a + 1
        b.label = "b"
        c = b * 2
        return [a.label, b.label, c.label, repr(a), repr(b), repr(c)]

    def comparisons():
        a, b = Value(1.0), Value(2.0)
        return [a < b, a <= 1, a > 0.5, b >= 2, b > 1, a == a, a == Value(1.0), a != a,
                a == 1.0, len({a, a, b}), outcome(lambda: a < "x")]

    def mixed_numbers():
        a = Value(3.0)
        out = [2 + a, a + 2, 2 - a, a - 2, 2 * a, a * 2.5, 1 / a, a / 4, 2 ** a, a ** 2,
               a ** 0.5, a ** -1, -a, abs(-a), float(a), a.item()]
        return [x.data if isinstance(x, Value) else x for x in out]

    def pickles():
        a = Value(1.5, label="w")
        a.grad = 0.25
        b = pickle.loads(pickle.dumps(a * 2))
        c = pickle.loads(pickle.dumps(a))
        return [c.data, c.grad, c.label, b.data, b.is_leaf]

    def deep_copy():
        x = Value(1.0)
        for _ in range(5000):
            x = x * 1.0001
        y = copy.deepcopy(x)
        return [y.data, y is not x]

    def zero_derivatives():  # a zero local derivative adds nothing; nothing reached: +0.0
        x, w = Value(-1.0), Value(0.5)
        x.grad = -0.0
        y = x.relu()
        z = (y * w + (w * 0.0).exp() * x.abs()) * 0.0 + w
        z.backward()
        return [repr(x.grad), repr(y.grad), repr(w.grad), repr(z.grad),
                repr(z.parents[0].grad)]

    def summation_order():  # a Value used several times in one n-ary node, magnitudes apart
        v = [Value(x) for x in (1e16, 1.0, -1e16, 3.0, 1e-3, 7.0)]
        outs = [autograd.dot(v, v[::-1]), autograd.dot(v, v, bias=v[2]), autograd.sum(v + v[::2]),
                autograd.linear(v, [v[::-1], v], [v[1], v[0]], activation="tanh")[1] * 1e16]
        total = outs[0] + outs[1] * 3.0 + outs[2] + outs[3]
        total.backward()
        return [total.data, [x.grad for x in v]]

    def detach():
        a = Value(2.0, label="a")
        d = (a * a).detach()
        return [d.data, d.is_leaf, d.label, d.op]

    return {
        "accumulate": outcome(accumulate),
        "from a leaf": outcome(from_a_leaf),
        "all or nothing": outcome(all_or_nothing),
        "untracked": outcome(untracked),
        "labels": outcome(labels),
        "comparisons": outcome(comparisons),
        "mixed numbers": outcome(mixed_numbers),
        "pickle": outcome(pickles),
        "deepcopy": outcome(deep_copy),
        "detach": outcome(detach),
        "zero derivatives": outcome(zero_derivatives),
        "summation order": outcome(summation_order),
        "bad data": [outcome(lambda d=d: Value(d)) for d in
                     ["x", True, math.nan, None, [1.0], 10**400, Value(1.0)]],
        "bad label": [outcome(lambda v=v: Value(1.0, label=v)) for v in [3, (Value(1.0),), None]],
        "label positional tuple": outcome(lambda: Value(1.0, (Value(2.0),))),
        "bad operand": [outcome(lambda: Value(1.0) + "x"), outcome(lambda: "x" * Value(2.0)),
                        outcome(lambda: Value(1.0) + math.nan),
                        outcome(lambda: Value(1.0) * 10**400), outcome(lambda: Value(2.0) ** True)],
        "overflow": [outcome(lambda: Value(1e200) * Value(1e200)),
                     outcome(lambda: Value(1e308) + Value(1e308)),
                     outcome(lambda: Value(1000.0).exp()),
                     outcome(lambda: autograd.sum([Value(1e308), Value(1e308)])),
                     outcome(lambda: Value(math.inf) + 1),
                     outcome(lambda: Value(math.inf) - Value(math.inf))],
        "backward overflow": [outcome(lambda: _grads(lambda x: 1 / x, 1e-200)),
                              outcome(lambda: _grads(lambda x: x / x, 5e-324)),
                              outcome(lambda: _grads(lambda x: (x * 1e200) * 1e200 / 1e300, 1.0))],
    }


def _grads(f: Callable[[Value], Value], at: float) -> Any:
    x = Value(at)
    f(x).backward()
    return x.grad


def user_ops() -> dict[str, Any]:
    from autograd.ops import Op

    try:
        fma = Op("fma", forward=lambda x, y, z: x * y + z,
                 derivatives=lambda out, x, y, z: (y, x, 1.0), arity=3, domain=[(-2, 2)] * 3)
    except TypeError as error:  # the Op signature of this version
        return {"fma": str(error)}

    def run():
        xs = [Value(1.5), Value(-2.0), Value(0.5)]
        out = apply(fma, *xs) * apply(fma, xs[0], 2, xs[2])
        out.backward()
        return [out.data, [x.grad for x in xs]]

    return {"fma": outcome(run)}


def audit() -> dict[str, Any]:
    """The repros of issue 18's audit: each must give the same outcome on both engines."""
    import dataclasses
    import decimal

    from autograd import ops
    from autograd.ops import Op

    def rule_gives(result: Callable[[], Any]) -> Any:
        op = Op("u", lambda x: 2.0 * x, lambda out, x: result(), 1, [(-1.0, 1.0)])
        x = Value(3.0)
        y = apply(op, x)
        (y * y).backward()
        return [type(x.grad).__name__, x.grad]

    def copied_power():
        x = Value(3.0)
        apply(dataclasses.replace(ops.power(2), derivatives=lambda out, x: (100.0,)), x).backward()
        return x.grad

    def leaf_overflow():
        x = Value(1.0)
        x.grad = 1.5e308
        try:
            (x * 1e308).backward()
        finally:
            x_grad = x.grad
        return x_grad

    a, b, c, d = (Value(float(i)) for i in range(1, 5))
    cases = {
        "negative base ** inf": outcome(lambda: Value(-0.5) ** math.inf),
        "negative base ** -inf": outcome(lambda: Value(-0.5) ** -math.inf),
        "dot of 3": outcome(lambda: apply(ops.DOT, a, b, c)),
        "affine of 2": outcome(lambda: apply(ops.AFFINE, a, b)),
        "neuron of 4": outcome(lambda: apply(ops.activated(ops.TANH), a, b, c, d)),
        "copied power": outcome(copied_power),
        "rule gives a Value": outcome(lambda: rule_gives(lambda: (Value(2.0),))),
        "rule gives a Decimal": outcome(lambda: rule_gives(lambda: (decimal.Decimal(2),))),
        "rule gives a generator": outcome(lambda: rule_gives(lambda: (v for v in [2.0]))),
        "rule gives an int": outcome(lambda: rule_gives(lambda: [2])),
        "rule gives a bool": outcome(lambda: rule_gives(lambda: (True,))),
        "rule gives too many": outcome(lambda: rule_gives(lambda: (1.0, 2.0))),
        "leaf overflow": outcome(leaf_overflow),
        "bias last": outcome(lambda: autograd.dot([Value(1e16), Value(-1e16)], [1.0, 1.0],
                                                  bias=1.0)),
        "leaky by name": outcome(lambda: autograd.linear([Value(-1.0)], [[Value(1.0)]], [0.0],
                                                         activation="leaky_relu(0.2)")),
        "label not a str": outcome(lambda: setattr(Value(1.0), "label", ["x"])),
        "label a str subclass": outcome(lambda: Value(1.0, label=type("S", (str,), {})("s"))),
    }
    calls = {
        "Value()": lambda: Value(), "Value(1, 'a', 3)": lambda: Value(1.0, "a", 3),
        "Value(lbl=)": lambda: Value(data=1.0, lbl="a"),
        "backward(foo=)": lambda: Value(1.0).backward(foo=1),
        "backward(1, 2)": lambda: Value(1.0).backward(1, 2),
        "leaky_relu(1, 2)": lambda: Value(1.0).leaky_relu(0.1, 2),
        "leaky_relu(x=)": lambda: Value(1.0).leaky_relu(x=2),
        "exp(1)": lambda: Value(1.0).exp(1), "exp(x=1)": lambda: Value(1.0).exp(x=1),
        "item(1)": lambda: Value(1.0).item(1), "detach(1)": lambda: Value(1.0).detach(1),
        "__deepcopy__()": lambda: Value(1.0).__deepcopy__(),
        "leaky_relu(slope=)": lambda: Value(-1.0).leaky_relu(slope=0.5),
        "backward(create_graph=)": lambda: Value(1.0).backward(create_graph=False),
    }
    cases.update({name: outcome(call) for name, call in calls.items()})
    return cases


def main() -> None:
    results = {"implementation": autograd.implementation, "table": table_cases(),
               "graphs": [outcome(lambda s=s: random_graph(s)) for s in range(300)],
               "semantics": semantics(), "user ops": user_ops(), "audit": audit()}
    json.dump(results, sys.stdout, indent=0, sort_keys=True)


if __name__ == "__main__":
    main()
