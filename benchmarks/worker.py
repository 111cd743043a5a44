"""One measurement in a fresh process: ``python -m benchmarks.worker TASK ENGINE [options]``.

Prints one line of JSON. ``benchmarks.run`` starts one worker per measurement, so no engine
inherits another's heap, caches or garbage-collector state. The engine comes from
``benchmarks.engines`` and is activated (its environment, its ``sys.path`` entry) before anything
imports it. Tasks:

- ``time``: a warm-up step of ``--workload`` (``nn``, ``mgstyle``, ``microgpt``), then
  ``--steps`` timed steps: seconds per step, the time CPython's cycle collector ran during each
  (seen through ``gc.callbacks``), every step's loss, and the op nodes of one step's graph.
- ``chain``: ``x = x*a + b`` of ``--n`` steps: forward, backward and freeing time, the time the
  cycle collector ran during forward and backward, and the process's peak RSS.
- ``memory``: tracemalloc over one step of ``--workload`` (or the chain of ``--n`` steps with
  ``--workload chain``): bytes held after forward and after backward per op node, and the peak.
- ``gpt``: ``--steps`` steps of ``chainrule-gpt``'s training (``benchmarks.gpt_training``), with
  ``autograd.compile`` on a replaying engine: every step's seconds, the held-out loss, the
  recordings made (and the bytes one recording holds).

The interpreter runs with its default settings; ``--gc off`` disables the cycle collector for the
whole measurement.

>>> result = measure("time", REGISTRY["chainrule"], workload="mgstyle", steps=1, points=2)
>>> sorted(result)
['gc', 'implementation', 'losses', 'nodes', 'times']
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import json
import resource
import sys
import time
import tracemalloc
from typing import Any

from benchmarks import steps as workloads
from benchmarks.engines import REGISTRY, Engine, activate, with_baseline

TASKS = ("time", "chain", "memory", "gpt")


@dataclasses.dataclass(frozen=True)
class Job:
    """One worker run: a task on an engine with its options (see ``main`` for their meaning).

    >>> Job("chain", "chainrule", n=1000).arguments()
    ['chain', 'chainrule', '--steps', '5', '--points', '100', '--n', '1000', '--gc', 'on', \
'--names', '0']
    """

    task: str
    engine: str
    workload: str = ""
    steps: int = 5
    points: int = 100
    n: int = 1_000_000
    gc: str = "on"
    names: int = 0

    def arguments(self) -> list[str]:
        """The worker's command-line arguments for this job."""
        options = dataclasses.asdict(self)
        words = [options.pop("task"), options.pop("engine")]
        for name, value in options.items():
            if value != "":
                words += [f"--{name}", str(value)]
        return words


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


def parents(node: Any) -> Any:
    """A node's inputs in any engine (chainrule ``parents``, micrograd ``_prev``, microgpt
    ``_children``); a float or tensor has none here."""
    for name in ("parents", "_prev", "_children"):
        found = getattr(node, name, None)
        if found is not None:
            return found
    return ()


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


def implementation() -> str:
    """chainrule's active implementation in this process, if chainrule was imported."""
    autograd = sys.modules.get("autograd")
    return getattr(autograd, "implementation", "python") if autograd else ""


def time_steps(step: workloads.Step, steps: int) -> dict[str, Any]:
    """Run ``step(0)`` as a warm-up, then time ``step(1) ... step(steps)`` one by one."""
    nodes = count_nodes(step.forward(0))[0]  # the graph is dropped before timing starts
    step(0)
    times, gc_times, losses = [], [], []
    with GcTimer() as timer:
        for k in range(1, steps + 1):
            gc_before = timer.seconds
            started = time.perf_counter()
            losses.append(step(k))
            times.append(time.perf_counter() - started)
            gc_times.append(timer.seconds - gc_before)
    return {"times": times, "gc": gc_times, "losses": losses, "nodes": nodes}


def time_chain(engine: Engine, n: int) -> dict[str, Any]:
    """B3: forward, backward and free times of the chain, and the peak RSS of this process."""
    value_class = engine.value_class()
    workloads.chain(value_class, 100)[0].backward()  # warm-up
    with GcTimer() as timer:
        started = time.perf_counter()
        x, a, _ = workloads.chain(value_class, n)
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


def memory(engine: Engine, workload: str, points: int = 100, n: int = 100_000) -> dict[str, Any]:
    """B4: tracemalloc over one step (after a warm-up step), or over the chain of ``n`` steps.

    Bytes "after forward" are everything the step allocated and still holds once the loss is
    computed (nodes, their floats, constant leaves, lists the model code built), divided by the
    number of op nodes; "after backward" adds what backward leaves behind (the gradients).
    """
    result: dict[str, Any] = {}
    if workload == "chain":
        value_class = engine.value_class()

        def forward() -> Any:
            return workloads.chain(value_class, n)[0]

        def backward(x: Any) -> None:
            try:
                x.backward()
            except RecursionError:
                result["error"] = "RecursionError in backward"
    else:
        step = workloads.make(workload, engine, points)
        step(0)

        def forward() -> Any:
            return step.forward(1)

        backward = step.backward
    gc.collect()
    tracemalloc.start()
    try:
        loss = forward()
        after_forward = tracemalloc.get_traced_memory()[0]
        backward(loss)
        after_backward = tracemalloc.get_traced_memory()[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ops, leaves = count_nodes(loss)
    return {**result, "op_nodes": ops, "leaves": leaves, "after_forward": after_forward,
            "after_backward": after_backward, "peak": peak,
            "bytes_per_node_forward": after_forward / ops,
            "bytes_per_node_backward": after_backward / ops}


def measure(task: str, engine: Engine, workload: str = "", steps: int = 5, points: int = 100,
            n: int = 1_000_000, gc_off: bool = False, names: int = 0) -> dict[str, Any]:
    """Run one task (see the module doc) in this process and return its result as a dict."""
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; the tasks are {', '.join(TASKS)}")
    if gc_off:
        gc.disable()
    try:
        if task == "time":
            result = time_steps(workloads.make(workload, engine, points), steps)
        elif task == "gpt":
            from benchmarks import gpt_training

            result = gpt_training.train(steps, compile=engine.replay, held_out=names or None)
            if engine.replay:
                result.update(gpt_training.recording_bytes())
        elif task == "chain":
            result = time_chain(engine, n)
        else:
            result = memory(engine, workload, points, n)
    finally:
        gc.enable()
    return {**result, "implementation": implementation()}


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m benchmarks.worker chain chainrule --n 1000`` prints JSON."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worker", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("task", choices=TASKS)
    parser.add_argument("engine", help="a name from benchmarks.engines.REGISTRY, or baseline")
    parser.add_argument("--workload", default="", help="nn, mgstyle, microgpt or chain")
    parser.add_argument("--steps", type=int, default=5, help="timed steps (time)")
    parser.add_argument("--points", type=int, default=100, help="moons points (nn, mgstyle)")
    parser.add_argument("--n", type=int, default=1_000_000, help="chain steps (chain)")
    parser.add_argument("--names", type=int, default=0,
                        help="held-out names to score (gpt; 0: all of them)")
    parser.add_argument("--gc", choices=["on", "off"], default="on",
                        help="off: the cycle collector disabled for the whole measurement")
    parser.add_argument("--baseline", nargs=2, metavar=("REVISION", "PATH"),
                        help="chainrule's tree at REVISION in PATH (the engine 'baseline')")
    args = parser.parse_args(argv)
    registry = with_baseline(REGISTRY, *args.baseline) if args.baseline else REGISTRY
    if args.engine not in registry:
        parser.error(f"unknown engine {args.engine!r}; the engines are {', '.join(registry)}")
    engine = registry[args.engine]
    activate(engine)
    result = measure(args.task, engine, args.workload, args.steps, args.points, args.n,
                     names=args.names,
                     gc_off=args.gc == "off")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
