"""One measurement in a fresh process: ``python -m benchmarks.worker TASK ENGINE [options]``.

Prints one line of JSON. ``benchmarks.run`` starts one worker per measurement, so no engine
inherits another's heap, caches or garbage-collector state. Tasks:

- ``b1``, ``b2``: a warm-up step, then ``--steps`` timed steps; seconds per step and the time
  CPython's cycle collector ran during each (seen through ``gc.callbacks``).
- ``b3``: the chain ``x = x*a + b`` of ``--n`` steps: forward, backward and freeing time, the
  time the cycle collector ran during forward and backward, and the process's peak RSS.
- ``b4``: tracemalloc over one B1 step: bytes held after forward and after backward per op node,
  and the step's peak.
- ``b4-chain``: the same over the chain of ``--n`` steps.
- ``b2-check``: B2's loss and every gradient on chainrule and on the reference, compared.

The interpreter runs with its default settings; the garbage collector stays on.

>>> result = measure("b1", "chainrule-mgstyle", steps=1, points=2)
>>> sorted(result)
['gc', 'loss', 'times']
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import importlib
import json
import resource
import time
import tracemalloc
from typing import Any

from benchmarks import engines, gpt

CHAIN_ENGINES = {
    "chainrule": "autograd",
    "chainrule-gc-paused": "autograd",  # the chain built and backpropagated in gc_paused()
    "micrograd": "micrograd.engine",
    "reference": "benchmarks.reference.value",
}
"""B3's engines: the module whose ``Value`` builds the chain."""


class GcTimer:
    """Adds up the time CPython's cyclic garbage collector runs, via ``gc.callbacks``.

    >>> with GcTimer() as timer:
    ...     _ = gc.collect()
    >>> timer.collections >= 1 and timer.seconds > 0
    True
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = 0
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started
            self.collections += 1

    def __enter__(self) -> GcTimer:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc_info: object) -> None:
        gc.callbacks.remove(self._callback)


def time_steps(step: engines.Step, steps: int) -> dict[str, Any]:
    """Run ``step(0)`` as a warm-up, then time ``step(1) ... step(steps)`` one by one."""
    step(0)
    times, gc_times = [], []
    loss = float("nan")
    with GcTimer() as timer:
        for k in range(1, steps + 1):
            gc_before = timer.seconds
            started = time.perf_counter()
            loss = step(k)
            times.append(time.perf_counter() - started)
            gc_times.append(timer.seconds - gc_before)
    return {"times": times, "gc": gc_times, "loss": loss}


def parents(node: Any) -> Any:
    """A node's inputs in any of the engines (chainrule's ``parents``, micrograd's ``_prev``)."""
    found = getattr(node, "parents", None)
    return node._prev if found is None else found


def count_nodes(root: Any) -> tuple[int, int]:
    """``(op nodes, leaves)`` in the graph behind ``root``, each node counted once.

    >>> from autograd import Value
    >>> a = Value(1.0); count_nodes(a * a + 1)
    (2, 2)
    """
    seen = {id(root)}
    stack = [root]
    ops = leaves = 0
    while stack:
        node = stack.pop()
        inputs = parents(node)
        if inputs:
            ops += 1
        else:
            leaves += 1
        for parent in inputs:
            if id(parent) not in seen:
                seen.add(id(parent))
                stack.append(parent)
    return ops, leaves


def chain(value_class: type, n: int) -> tuple[Any, Any, Any]:
    """``(x, a, b)`` after ``x = x*a + b`` ``n`` times from ``x = 1``: 2n op nodes, 3 leaves."""
    a, b, x = value_class(0.999999), value_class(1e-6), value_class(1.0)
    for _ in range(n):
        x = x * a + b
    return x, a, b


def measure_chain_time(engine: str, n: int) -> dict[str, Any]:
    """B3: forward, backward and free times of the chain, and the peak RSS of this process."""
    value_class = importlib.import_module(CHAIN_ENGINES[engine]).Value
    chain(value_class, 100)[0].backward()  # warm-up
    scope = contextlib.nullcontext()
    if engine == "chainrule-gc-paused":
        import autograd

        scope = autograd.gc_paused()
    with GcTimer() as timer, scope:
        started = time.perf_counter()
        x, a, _ = chain(value_class, n)
        forward = time.perf_counter() - started
        result: dict[str, Any] = {"forward": forward, "nodes": 2 * n, "gc": timer.seconds}
        started = time.perf_counter()
        try:
            x.backward()
        except RecursionError as error:
            result["error"] = f"RecursionError in backward ({error})"
        else:
            result["backward"] = time.perf_counter() - started
            result["grad_a"] = a.grad
        result["gc"] = timer.seconds
    started = time.perf_counter()
    del x
    gc.collect()  # engines whose nodes are reference cycles free them only here
    result["free"] = time.perf_counter() - started
    result["peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return result


def _memory(forward: Any, backward: Any, finish: Any) -> dict[str, Any]:
    gc.collect()
    tracemalloc.start()
    try:
        loss = forward()
        after_forward = tracemalloc.get_traced_memory()[0]
        backward(loss)
        after_backward = tracemalloc.get_traced_memory()[0]
        finish()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ops, leaves = count_nodes(loss)
    return {
        "op_nodes": ops,
        "leaves": leaves,
        "after_forward": after_forward,
        "after_backward": after_backward,
        "peak": peak,
        "bytes_per_node_forward": after_forward / ops,
        "bytes_per_node_backward": after_backward / ops,
    }


def measure_memory(engine: str, points: int = 100) -> dict[str, Any]:
    """B4: tracemalloc over B1 step 1 (after a warm-up step 0) on ``engine``.

    Bytes "after forward" are everything the step allocated and still holds once the loss is
    computed (nodes, their floats, constant leaves, lists the model code built), divided by the
    number of op nodes; "after backward" adds what backward leaves behind (the gradients).
    """
    step = engines.b1_step(engine, points)
    step(0)
    return _memory(lambda: step.forward(1), step.backward, lambda: step.update(1))


def measure_chain_memory(engine: str, n: int) -> dict[str, Any]:
    """B4 on the chain ``x = x*a + b``: bytes per op node (backward only where the engine can)."""
    value_class = importlib.import_module(CHAIN_ENGINES[engine]).Value
    error = {}

    def backward(x: Any) -> None:
        try:
            x.backward()
        except RecursionError:
            error["error"] = "RecursionError in backward"

    result = _memory(lambda: chain(value_class, n)[0], backward, lambda: None)
    return {**result, **error}


def check_b2(n_embd: int = 16, block_size: int = 8) -> dict[str, Any]:
    """B2 on both engines from the same weights: the loss, and the largest gradient difference.

    >>> check_b2(n_embd=4, block_size=2)["same"]
    True
    """
    config = gpt.Config(n_embd=n_embd, block_size=block_size)
    losses, grads = [], []
    for engine in engines.B2_ENGINES:
        step = engines.b2_step(engine, config)
        loss = step.forward(0)
        step.backward(loss)
        losses.append(loss.data)
        grads.append([p.grad for p in step.parameters])
    worst = max(abs(g - h) / max(1.0, abs(g), abs(h)) for g, h in zip(*grads))
    return {"losses": losses, "max_grad_difference": worst, "parameters": len(grads[0]),
            "same": abs(losses[0] - losses[1]) <= 1e-9 * abs(losses[0]) and worst <= 1e-9}


def measure(task: str, engine: str, steps: int = 5, points: int = 100, n: int = 1_000_000,
            n_embd: int = 16, block_size: int = 8) -> dict[str, Any]:
    """Run one task (see the module doc) in this process and return its result as a dict."""
    if task == "b1":
        return time_steps(engines.b1_step(engine, points), steps)
    if task == "b2":
        config = gpt.Config(n_embd=n_embd, block_size=block_size)
        return time_steps(engines.b2_step(engine, config), steps)
    if task == "b3":
        return measure_chain_time(engine, n)
    if task == "b4":
        return measure_memory(engine, points)
    if task == "b4-chain":
        return measure_chain_memory(engine, n)
    if task == "b2-check":
        return check_b2(n_embd, block_size)
    raise ValueError(f"unknown task {task!r}")


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m benchmarks.worker b3 chainrule --n 1000`` prints JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=["b1", "b2", "b3", "b4", "b4-chain", "b2-check"])
    parser.add_argument("engine", nargs="?", default="", help="not needed by b2-check")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (b1, b2)")
    parser.add_argument("--points", type=int, default=100, help="moons points (b1, b4)")
    parser.add_argument("--n", type=int, default=1_000_000, help="chain steps (b3, b4-chain)")
    parser.add_argument("--n-embd", type=int, default=16, help="embedding width (b2)")
    parser.add_argument("--block-size", type=int, default=8, help="context length (b2)")
    args = parser.parse_args(argv)
    options = {k: v for k, v in vars(args).items() if k not in ("task", "engine")}
    print(json.dumps(measure(args.task, args.engine, **options)))


if __name__ == "__main__":
    main()
