"""Run the benchmark suite and print (``--write``: store) the report.

    python -m benchmarks.run                       # everything (./dev.sh bench), a few minutes
    python -m benchmarks.run --only b5 --repeats 5
    python -m benchmarks.run --baseline aa0a218    # also chainrule at that revision, same run
    python -m benchmarks.run --quick               # tiny sizes: does every row still run?
    python -m benchmarks.run --write               # update benchmarks/RESULTS.md and README

B1 is micrograd's moons demo step (also written by hand in numpy), B3 the chain
``x = x*a + b`` (depth), B4 bytes per graph node (tracemalloc), B5 Karpathy's microgpt training
step, B6 ``chainrule-gpt --compile`` against ``chainrule-gpt``. Every measurement runs in a
fresh process (``benchmarks.worker``) with the interpreter's defaults and the garbage collector
on unless a row says otherwise. Engines (``benchmarks.engines``) are alternated: each round
starts every engine once, the first one rotating, so a slow moment of a shared machine hits
them all alike.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Iterator, Mapping
from typing import Any

from benchmarks import report
from benchmarks.engines import REGISTRY, Engine, runnable, with_baseline
from benchmarks.worker import Job

BENCHMARKS = ("b1", "b3", "b4", "b5", "b6")


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(message, file=sys.stderr, flush=True)


def run_worker(job: Job, baseline: tuple[str, str] | None = None) -> dict[str, Any]:
    """One ``benchmarks.worker`` run in a fresh interpreter; its JSON, or ``{"error": ...}``.

    >>> run_worker(Job("chain", "chainrule", n=10))["nodes"]
    20
    """
    command = [sys.executable, "-m", "benchmarks.worker", *job.arguments()]
    if baseline:
        command += ["--baseline", *baseline]
    done = subprocess.run(command, cwd=report.ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return {"error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternate(jobs: list[Job], repeats: int,
              baseline: tuple[str, str] | None = None) -> report.Results:
    """``repeats`` rounds of one worker per job, the starting job rotating each round."""
    results: report.Results = {job: [] for job in jobs}
    for r in range(repeats if jobs else 0):
        shift = r % len(jobs)
        for job in jobs[shift:] + jobs[:shift]:
            log(f"  {job.task} {job.workload} {job.engine} gc {job.gc} "
                f"(round {r + 1}/{repeats})")
            results[job].append(run_worker(job, baseline))
    return results


@contextlib.contextmanager
def checkout(revision: str) -> Iterator[tuple[str, str]]:
    """chainrule's packages (``autograd``, ``nn``) at git ``revision``, in a temporary directory.

    Yields ``(short commit, directory)``; the directory lies outside the repository and is
    removed afterwards. Only the Python sources are there, so a compiled core of that revision
    is not built: the baseline is its pure-Python engine.
    """
    commit = report.git("rev-parse", "--short", f"{revision}^{{commit}}")
    if not commit:
        raise SystemExit(f"--baseline: {revision!r} is not a git revision of {report.ROOT}")
    archive = subprocess.run(["git", "archive", commit, "autograd", "nn"], cwd=report.ROOT,
                             capture_output=True, check=True).stdout
    directory = tempfile.mkdtemp(prefix=f"chainrule-{commit}-")
    try:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
            tar.extractall(directory, **safe)
        yield commit, directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def plan(benchmark: str, args: argparse.Namespace,
         registry: Mapping[str, Engine]) -> list[Job]:
    """The jobs of one benchmark, on the chosen engines that can run it and are installed."""

    def engines(workload: str) -> list[Engine]:
        return [e for e in runnable(workload, registry, args.engines) if not e.missing()]

    if benchmark == "b1":
        sizes = {"steps": args.steps, "points": args.points}
        return [Job("time", e.name, workload, **sizes)
                for workload in report.B1_WORKLOADS for e in engines(workload)]
    if benchmark == "b5":
        jobs = [Job("time", e.name, "microgpt", steps=args.steps) for e in engines("microgpt")]
        return jobs + [Job("time", e.name, "microgpt", steps=args.steps, gc="off")
                       for e in engines("microgpt") if e.name in ("chainrule", "microgpt")]
    if benchmark == "b6":
        return [Job("gpt", e.name, "gpt", steps=args.gpt_steps, names=args.held_out_names)
                for e in engines("gpt")]
    if benchmark == "b3":
        deep = [e for e in engines("chain") if not e.recursive_sort]
        return [*(Job("chain", e.name, n=args.chain) for e in deep),
                *(Job("chain", e.name, n=args.chain, gc="off") for e in deep
                  if e.name == "chainrule")]
    if benchmark == "b4":
        chain = min(args.chain, 100_000)
        return [*(Job("memory", e.name, "chain", n=chain) for e in engines("chain")),
                *(Job("memory", e.name, workload, points=args.points)
                  for workload in ("mgstyle", "nn") for e in engines(workload)
                  if e.name != "torch" and not e.replay)]
    raise ValueError(f"unknown benchmark {benchmark!r}; the benchmarks are {BENCHMARKS}")


def skipped(args: argparse.Namespace, registry: Mapping[str, Engine]) -> dict[str, str]:
    """The chosen engines that cannot run here, and why."""
    return {e.label: why for e in registry.values()
            if e.name in args.engines and (why := e.missing())}


def measure(args: argparse.Namespace, registry: Mapping[str, Engine],
            baseline: tuple[str, str] | None) -> tuple[list[report.Target], list[str]]:
    """Run the chosen benchmarks; their targets and their detail sections."""
    targets: list[report.Target] = []
    details: list[str] = []
    per_node: dict[str, float] = {}
    chain_bytes: dict[str, float] = {}
    everything: report.Results = {}
    only = [name.strip().lower() for name in args.only.split(",")]
    for benchmark in [b for b in BENCHMARKS if b in only]:
        jobs = plan(benchmark, args, registry)
        rounds = 1 if benchmark == "b4" else args.repeats  # tracemalloc counts bytes, not time
        log(f"{benchmark.upper()}: {len(jobs)} rows × {rounds} rounds")
        results = alternate(jobs, rounds, baseline)
        if benchmark == "b3":
            recursive = [e for e in runnable("chain", registry, args.engines)
                         if e.recursive_sort and not e.missing()]
            extra = [Job("chain", e.name, n=1000) for e in recursive]
            if args.huge:
                log("B3: chain of 10,000,000 steps")
                extra.append(Job("chain", "chainrule", n=10_000_000))
            results.update(alternate(extra, 1, baseline))
            lines, found, per_node = report.b3(results, registry, args.chain)
        elif benchmark == "b4":
            lines, found, chain_bytes = report.b4(results, registry)
        elif benchmark == "b1":
            lines, found = report.b1(results, registry, skipped(args, registry))
        elif benchmark == "b6":
            lines, found = report.b6(results, registry)
        else:
            lines, found = report.b5(results, registry)
        targets += found
        details += lines
        everything.update(results)
    if baseline:
        targets += report.before_after(everything, per_node, chain_bytes, baseline[0])
    return targets, details


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``); ``--quick`` replaces the sizes with tiny ones."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(BENCHMARKS),
                        help=f"comma-separated benchmarks to run (default: {','.join(BENCHMARKS)})")
    parser.add_argument("--engines", default=",".join(REGISTRY),
                        help=f"comma-separated engines (default: {','.join(REGISTRY)}; "
                             "--baseline adds 'baseline')")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run chainrule's pure-Python engine at git revision REV")
    parser.add_argument("--repeats", type=int, default=3, help="processes per row (3)")
    parser.add_argument("--steps", type=int, default=5,
                        help="timed steps per process after one warm-up step, B1 and B5 (5)")
    parser.add_argument("--points", type=int, default=100, help="B1: moons points (100)")
    parser.add_argument("--gpt-steps", type=int, default=3000,
                        help="B6: training steps of chainrule-gpt (3000, the command's default)")
    parser.add_argument("--chain", type=int, default=1_000_000, help="B3: chain steps (1e6)")
    parser.add_argument("--no-huge", dest="huge", action="store_false",
                        help="B3: skip the chain of 10,000,000 steps on chainrule (the pure-Python "
                             "engine needs about 4 GiB and a minute for it)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to check the suite works (figures are meaningless)")
    parser.add_argument("--write", action="store_true",
                        help="write benchmarks/RESULTS.md and the table in README.md")
    args = parser.parse_args(argv)
    args.held_out_names = 0  # B6 scores every held-out name (--quick: the first 10)
    if args.quick:
        if args.write:
            parser.error("--quick figures are not results; run without --quick to --write")
        args.repeats, args.steps, args.points, args.chain, args.huge = 1, 1, 4, 1000, False
        args.gpt_steps, args.held_out_names = 3, 10
    args.engines = [name.strip() for name in args.engines.split(",")]
    unknown = set(args.engines) - set(REGISTRY) - {"baseline"}
    if unknown:
        parser.error(f"unknown engine(s) {', '.join(sorted(unknown))}; "
                     f"the engines are {', '.join(REGISTRY)}")
    if args.baseline:
        args.engines.append("baseline")
    return args


def main(argv: list[str] | None = None) -> str:
    """Run the benchmarks, print the report, and return it (``--write`` also stores it)."""
    args = parse_args(argv)
    command = " ".join(["python -m benchmarks.run", *(sys.argv[1:] if argv is None else argv)])
    with contextlib.ExitStack() as stack:
        baseline = stack.enter_context(checkout(args.baseline)) if args.baseline else None
        registry = with_baseline(REGISTRY, *baseline) if baseline else REGISTRY
        targets, details = measure(args, registry, baseline)
    text = report.render(targets, details, command, args.repeats)
    print(text)
    if args.write:
        report.write(text, targets)
        log(f"wrote {report.RESULTS.relative_to(report.ROOT)} and README.md's table")
    return text


if __name__ == "__main__":
    main()
