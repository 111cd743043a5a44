"""Building and freeing graphs leaves the interpreter's total reference count unchanged.

Run by ``.ci/refcount`` on a debug build of CPython (``sys.gettotalrefcount`` exists only
there). Prints the drift per round size and exits non-zero if it grows with the number of
freed nodes.
"""

from __future__ import annotations

import gc
import sys

import autograd
from autograd import Op, Value, apply

FMA = Op("fma", lambda x, y, z: x * y + z, lambda out, x, y, z: (y, x, 1.0), 3, [(-2, 2)] * 3)


def build_and_free(steps: int) -> None:
    """About 10 nodes per step, of every kind the core makes, then dropped."""
    w = [Value(0.5, label="w0"), Value(-0.25)]
    x = Value(1.0)
    for i in range(steps):
        x = (x * w[0] + w[1]).tanh() + 0.5
        x = autograd.sum([x, w[0], 1.0]) * 0.25 + apply(FMA, x, w[1], 0.1)
        x = x ** 2 if i % 3 else x.leaky_relu(0.2)
        if i % 50 == 0:
            x.label = f"x{i}"
    x.backward()
    y = (w[0] * w[1]).exp()
    y.backward(create_graph=True)  # a Value grad: tracked nodes, a cycle
    w[0].grad = 0.0
    del x, y, w


def drift(steps: int) -> int:
    gc.collect()
    before = sys.gettotalrefcount()
    build_and_free(steps)
    gc.collect()
    return sys.gettotalrefcount() - before


def main() -> int:
    if not hasattr(sys, "gettotalrefcount"):
        print("refcount_drift: needs a debug build of CPython (python3.11-dbg)")
        return 2
    if autograd.implementation != "compiled":
        print(f"refcount_drift: the compiled core is not running ({autograd._compiled.reason})")
        return 2
    build_and_free(100)  # warm up: caches, interned names
    small, large = drift(1_000), drift(4_000)
    print(f"total refcount drift: {small} after ~10,000 nodes, {large} after ~40,000 nodes")
    if abs(large) > 100 or abs(large - small) > 50:
        print("refcount_drift: the total reference count drifts with the nodes freed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
