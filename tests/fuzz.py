"""The differential fuzzer: random programs, run on one engine, every outcome recorded.

A program draws leaves (ordinary numbers and hostile ones: 0, -0.0, subnormals, 1e308, inf),
then applies random operations to them: every op of the table (through ``apply``, its method
or its operator, with numbers on either side), members of the families (``power(p)`` for any
``p``, ``leaky_relu(slope)``, fused neurons), the fused front-ends (``sum``, ``dot``,
``linear``, ``logsumexp``, ``softmax``), users' ops (one whose rule gives odd results too),
inputs of the wrong count, Python's ``sum``. It ends with ``backward()`` (sometimes twice, or
from a middle node), ``backward(create_graph=True)`` and a second derivative, or
``autograd.grad``. Every value, gradient (``repr``: bits survive) and error (type and message)
is recorded.

    python -m tests.fuzz --programs 300 --seed 0            # JSON of the outcomes, this engine
    python -m tests.fuzz --programs 100000 --compare        # both engines, compared (minutes)

``tests/test_compiled.py`` runs a few hundred programs on each engine in the suite.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import autograd
from autograd import Op, Value, apply, ops

NUMBERS = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, -2.5, 3, -1, 1e-310, 5e-324, 1e308, -1e308, 700.0,
           710.0, -745.5, 1e16, math.inf, -math.inf]
EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 2.7, 1e-3, 400, math.inf, -math.inf]
SLOPES = [0.01, 0.2, -0.5, 0.0, 3.0]
UNARY_METHODS = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "softplus", "relu",
                 "gelu", "erf", "abs", "leaky_relu"]

FMA = Op("fma", lambda x, y, z: x * y + z, lambda out, x, y, z: (y, x, 1.0), 3, [(-2, 2)] * 3)
ODD = Op("odd", lambda x, y: x - 2.0 * y, lambda out, x, y: (1, -2), 2, [(-2, 2)] * 2,
         always_defined=True)
GENERATOR = Op("generator", lambda x: x, lambda out, x: (v for v in [1.0]), 1, [(-2, 2)])
FAILS = Op("fails", lambda x: x, lambda out, x: (1.0 / (x - x),), 1, [(-2, 2)])


def outcome(make: Callable[[], Any]) -> Any:
    """What ``make()`` gives: a float as its repr, a Value as its data, or the error."""
    try:
        result = make()
    except Exception as error:  # every error is part of what must agree
        return {"error": type(error).__name__, "message": str(error)}
    return _plain(result)


def _plain(x: Any) -> Any:
    if isinstance(x, float):
        return repr(x)
    if isinstance(x, Value):
        return repr(x.data)
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x if x is None or isinstance(x, (int, str)) else repr(x)


def program(seed: int) -> list[Any]:
    """One random program's outcomes, in order."""
    rng = random.Random(seed)
    log: list[Any] = []

    def number() -> Any:
        return rng.choice(NUMBERS) if rng.random() < 0.3 else round(rng.uniform(-3, 3), 3)

    leaves = [Value(float(number()) if rng.random() < 0.9 else rng.uniform(-2, 2))
              for _ in range(rng.randint(1, 5))]
    pool: list[Value] = list(leaves)

    def pick() -> Any:
        return rng.choice(pool) if rng.random() < 0.85 else number()

    def step() -> Any:
        kind = rng.randrange(12)
        if kind == 0:
            op = rng.choice([o for o in ops.OPS.values() if o.arity])
            return apply(op, *[pick() for _ in range(op.arity)])
        if kind == 1:
            a, b = pick(), pick()
            operator = rng.choice(["+", "-", "*", "/", "**"])
            return eval(f"a {operator} b", {"a": a, "b": b})
        if kind == 2:
            name = rng.choice(UNARY_METHODS)
            x = rng.choice(pool)
            if name == "leaky_relu":
                return x.leaky_relu(rng.choice(SLOPES))
            return getattr(x, name)()
        if kind == 3:
            return rng.choice(pool) ** rng.choice(EXPONENTS)
        if kind == 4:
            xs = [pick() for _ in range(rng.randint(1, 4))]
            return rng.choice([autograd.sum, autograd.logsumexp, sum])(xs)
        if kind == 5:
            n = rng.randint(1, 3)
            xs, ys = [pick() for _ in range(n)], [pick() for _ in range(n)]
            return autograd.dot(xs, ys, bias=pick() if rng.random() < 0.5 else None)
        if kind == 6:
            n = rng.randint(1, 3)
            activation = rng.choice([None, "relu", "tanh", "sigmoid", "gelu", "leaky_relu",
                                     "leaky_relu(0.2)", "exp", ops.power(rng.choice([2, 0.5])),
                                     ops.leaky_relu(rng.choice(SLOPES))])
            rows = [[pick() for _ in range(n)] for _ in range(rng.randint(1, 2))]
            return autograd.linear([pick() for _ in range(n)], rows,
                                   [pick() for _ in rows], activation=activation)[-1]
        if kind == 7:
            return autograd.softmax([pick() for _ in range(rng.randint(1, 3))])[0]
        if kind == 8:
            op = rng.choice([FMA, ODD, GENERATOR, FAILS])
            return apply(op, *[pick() for _ in range(op.arity)])
        if kind == 9:  # a fused op given a count of inputs it may not take
            op = rng.choice([ops.DOT, ops.AFFINE, ops.activated(ops.TANH), ops.SUM])
            return apply(op, *[pick() for _ in range(rng.randint(0, 5))])
        if kind == 10:
            member = rng.choice([ops.power(rng.choice(EXPONENTS)),
                                 ops.leaky_relu(rng.choice(SLOPES)),
                                 ops.activated(ops.leaky_relu(rng.choice(SLOPES)))])
            return apply(member, *[pick() for _ in range(member.arity or 3)])
        return rng.choice(pool) * rng.choice([0.0, 1e-300, 1e300, -1.0])

    for _ in range(rng.randint(1, 12)):
        try:
            node = step()
        except Exception as error:
            log.append({"error": type(error).__name__, "message": str(error)})
            continue
        log.append(_plain(node))
        if isinstance(node, Value):
            pool.append(node)
    root = pool[-1]
    ending = rng.randrange(5)
    if ending == 0:
        log.append(outcome(root.backward))
        log.append(outcome(root.backward))
    elif ending == 1:
        log.append(outcome(lambda: rng.choice(pool).backward()))
    elif ending == 2:
        log.append(outcome(lambda: root.backward(create_graph=True)))
        first = leaves[0].grad
        log.append(_plain(first))
        if isinstance(first, Value):
            for leaf in leaves:
                leaf.grad = 0.0
            log.append(outcome(first.backward))
            for leaf in leaves:  # the create_graph cycle, undone
                leaf.grad = 0.0
    elif ending == 3:
        log.append(outcome(lambda: autograd.grad(lambda *xs: _rebuild(root, leaves, xs),
                                                 argnums=tuple(range(len(leaves))))(
            *[leaf.data for leaf in leaves])))
    else:
        leaves[0].grad = rng.choice([0.0, 1.5e308, -0.0, 2.0])
        log.append(outcome(root.backward))
    log.append([repr(leaf.grad) if isinstance(leaf.grad, float) else "Value"
                for leaf in leaves])
    log.append([repr(node.grad) if isinstance(node.grad, float) else "Value"
                for node in pool[len(leaves):]])
    return log


def _rebuild(root: Value, leaves: list[Value], xs: tuple) -> Value:
    """``root`` recomputed from the values ``xs`` in place of ``leaves`` (for autograd.grad)."""
    copies: dict[Value, Any] = dict(zip(leaves, xs))
    for node in autograd.engine.ancestors(root):
        if node not in copies:
            copies[node] = (node if not node.parents else
                            apply(node._op, *[copies[p] for p in node.parents]))
    return copies[root]


def run(programs: int, seed: int) -> dict[str, Any]:
    return {"implementation": autograd.implementation,
            "programs": [program(seed + i) for i in range(programs)]}


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: compiled {a!r}, python {b!r}"]


def compare(programs: int, seed: int) -> list[str]:
    """Run the programs on both engines (fresh processes) and list every difference."""
    outputs = []
    for pure in (False, True):
        env = {k: v for k, v in os.environ.items() if k != "CHAINRULE_PURE_PYTHON"}
        if pure:
            env["CHAINRULE_PURE_PYTHON"] = "1"
        done = subprocess.run([sys.executable, __file__, "--programs", str(programs), "--seed",
                               str(seed)], capture_output=True, text=True, env=env, check=True)
        outputs.append(json.loads(done.stdout))
    compiled, python = outputs
    if (compiled["implementation"], python["implementation"]) != ("compiled", "python"):
        return [f"engines: {compiled['implementation']}, {python['implementation']}"]
    return _differences(compiled["programs"], python["programs"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=300)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--compare", action="store_true",
                        help="run both engines and print the differences")
    args = parser.parse_args()
    if not args.compare:
        json.dump(run(args.programs, args.seed), sys.stdout)
        return 0
    differences = compare(args.programs, args.seed)
    print(f"{args.programs} programs from seed {args.seed}: {len(differences)} differences")
    for line in differences[:50]:
        print(line)
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
