"""Where a step's time goes: ``python -m benchmarks.profiling WORKLOAD [ENGINE] [--steps N]``.

Workloads: ``nn`` and ``mgstyle`` (B1: micrograd's demo through chainrule's ``nn``, or in
micrograd's own code), ``microgpt`` (B5); engines: any of ``benchmarks.engines`` that runs the
workload (default ``chainrule``). Prints

- the step's phases (forward, zero_grad + backward, update, freeing the graph): milliseconds and
  how much of it CPython's cycle collector ran (``gc.callbacks``, no profiler attached);
- cProfile's top functions by own time (``tottime``), as a share of the profiled total.

cProfile adds a fixed cost to every Python call, so it overstates small functions; for a
sampling view of the same step run
``py-spy top -- python -m benchmarks.profiling microgpt --spin 30``
(``--spin`` repeats steps for that many seconds without cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import time

from benchmarks import steps as workloads
from benchmarks import worker
from benchmarks.engines import REGISTRY, activate


def phases(step: workloads.Step, steps: int) -> dict[str, tuple[float, float]]:
    """Median ``(seconds, seconds in the cycle collector)`` of each phase over ``steps`` steps.

    >>> sorted(phases(workloads.make("mgstyle", REGISTRY["chainrule"], points=2), 1))
    ['backward', 'forward', 'free', 'update']
    """
    step(0)
    samples: dict[str, list[tuple[float, float]]] = {}
    with worker.GcTimer() as timer:

        def timed(name: str, action, *arguments):  # type: ignore[no-untyped-def]
            gc_before, started = timer.seconds, time.perf_counter()
            result = action(*arguments)
            seconds = time.perf_counter() - started
            samples.setdefault(name, []).append((seconds, timer.seconds - gc_before))
            return result

        for k in range(1, steps + 1):
            loss = timed("forward", step.forward, k)
            timed("backward", step.backward, loss)
            timed("update", step.update, k)
            holder = [loss]
            del loss
            timed("free", holder.clear)
    return {name: (statistics.median(s for s, _ in rows), statistics.median(g for _, g in rows))
            for name, rows in samples.items()}


def top_functions(step: workloads.Step, steps: int, top: int) -> list[tuple[str, float, int]]:
    """cProfile over ``steps`` steps: ``(function, share of total time, calls)``, top first.

    >>> rows = top_functions(workloads.make("mgstyle", REGISTRY["chainrule"], points=2), 1, 3)
    >>> len(rows), all(0 <= share <= 1 for _, share, _ in rows)
    (3, True)
    """
    profiler = cProfile.Profile()
    profiler.enable()
    for k in range(1, steps + 1):
        step(k)
    profiler.disable()
    stats = pstats.Stats(profiler)
    total = stats.total_tt  # type: ignore[attr-defined]
    rows = []
    for (filename, line, name), (_, calls, tottime, _, _) in stats.stats.items():  # type: ignore
        where = f"{filename.rsplit('/', 2)[-2:][-1]}:{line}" if line else "built-in"
        rows.append((f"{name} ({where})", tottime / total, calls))
    rows.sort(key=lambda row: -row[1])
    return rows[:top]


def main(argv: list[str] | None = None) -> None:
    """The command line: ``python -m benchmarks.profiling nn chainrule --steps 5 --top 20``."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workload", choices=["nn", "mgstyle", "microgpt"])
    parser.add_argument("engine", nargs="?", default="chainrule", choices=list(REGISTRY))
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--spin", type=float, default=0.0,
                        help="only run steps for this many seconds (for py-spy), no cProfile")
    args = parser.parse_args(argv)
    engine = REGISTRY[args.engine]
    activate(engine)
    step = workloads.make(args.workload, engine)
    if args.spin:
        k, end = 0, time.perf_counter() + args.spin
        while time.perf_counter() < end:
            step(k)
            k += 1
        print(f"{k} steps")
        return
    split = phases(step, args.steps)
    total = sum(seconds for seconds, _ in split.values())
    in_gc = sum(gc_seconds for _, gc_seconds in split.values())
    print(f"{args.workload} on {engine.label}: {total * 1e3:.1f} ms per step, "
          f"{in_gc / total:.0%} of it in the cycle collector (medians of {args.steps} steps)")
    for name, (seconds, gc_seconds) in split.items():
        print(f"  {name:9} {seconds * 1e3:8.2f} ms  of which gc {gc_seconds * 1e3:7.2f} ms")
    print(f"{'share':>6}  {'calls':>9}  function (cProfile, own time)")
    for name, share, calls in top_functions(step, args.steps, args.top):
        print(f"{share:6.1%}  {calls:9,}  {name}")


if __name__ == "__main__":
    main()
