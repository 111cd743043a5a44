"""Run the benchmark suite and print (``--write``: store) the results table.

    python -m benchmarks.run                 # everything, a few minutes (./dev.sh bench)
    python -m benchmarks.run --only b1 --repeats 5
    python -m benchmarks.run --huge --write  # also the 10-million-step chain; update RESULTS.md

Every measurement runs in a fresh subprocess (``benchmarks.worker``) with the interpreter's
defaults and the garbage collector on. Engines are alternated: each repeat starts every engine
once, the order rotating, so a slow moment of a shared machine hits them all alike. A figure is
the median over all timed steps of all repeats; a ratio divides two such medians of one run.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.util
import json
import os
import platform
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
B1_ENGINES = ["micrograd", "chainrule-nn", "chainrule-nn-gc-on", "chainrule-mgstyle", "torch"]
B1_NAMES = {
    "micrograd": "micrograd 0.1.0 (`micrograd.nn.MLP`)",
    "chainrule-nn": "chainrule through `nn` (step in `gc_paused()`, as `nn.train`)",
    "chainrule-nn-gc-on": "chainrule through `nn`, cycle collector left on",
    "chainrule-mgstyle": "chainrule `Value`, micrograd-style code",
    "torch": "PyTorch, 0-d tensors, micrograd-style code",
}


def log(message: str) -> None:
    """Progress goes to stderr, so stdout carries only the report."""
    print(message, file=sys.stderr, flush=True)


def run_worker(task: str, engine: str = "", **options: Any) -> dict[str, Any]:
    """One ``benchmarks.worker`` run in a fresh interpreter; its JSON, or ``{"error": ...}``.

    >>> run_worker("b3", "chainrule", n=10)["nodes"]
    20
    """
    command = [sys.executable, "-m", "benchmarks.worker", task, engine]
    for name, value in options.items():
        command += [f"--{name.replace('_', '-')}", str(value)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return {"error": lines[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def missing(engine: str) -> str | None:
    """Why a B1 engine cannot run here (a missing package), or None."""
    package = {"micrograd": "micrograd", "torch": "torch"}.get(engine)
    if package and importlib.util.find_spec(package) is None:
        extra = "bench-torch" if package == "torch" else "bench"
        return f"{package} is not installed (pip install 'chainrule[{extra}]')"
    if engine.startswith("chainrule-nn"):
        try:
            import nn
        except ImportError as error:
            return f"chainrule's nn cannot be imported: {error}"
        if not hasattr(nn, "MLP"):
            return "chainrule's nn has no MLP yet"
    return None


def alternate(task: str, engines: list[str], repeats: int, **options: Any) -> dict[str, list]:
    """``repeats`` rounds of one worker per engine, the starting engine rotating each round."""
    results: dict[str, list] = {engine: [] for engine in engines}
    for r in range(repeats):
        shift = r % len(engines)
        for engine in engines[shift:] + engines[:shift]:
            log(f"  {task} {engine} (round {r + 1}/{repeats})")
            results[engine].append(run_worker(task, engine, **options))
    return results


@dataclass
class Timing:
    """The pooled step times of one engine's workers."""

    times: list[float] = field(default_factory=list)
    gc: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    run_medians: list[float] = field(default_factory=list)  # one per worker, in round order
    error: str = ""

    @classmethod
    def pool(cls, runs: list[dict]) -> Timing:
        timing = cls()
        for run in runs:
            if "error" in run:
                timing.error = run["error"]
                continue
            timing.times += run["times"]
            timing.run_medians.append(statistics.median(run["times"]))
            timing.gc += run["gc"]
            timing.losses.append(run["loss"])
        return timing

    @property
    def median(self) -> float:
        return statistics.median(self.times) if self.times else float("nan")

    @property
    def gc_share(self) -> float:
        return sum(self.gc) / sum(self.times) if self.times else float("nan")

    def ratio(self, faster: Timing) -> str:
        """``self``'s median over ``faster``'s, with the range of the per-round ratios.

        >>> Timing([4.0, 4.0], run_medians=[4.0, 5.0]).ratio(Timing([1.0], run_medians=[1.0, 2.0]))
        '4.0× (per round 2.5–4.0×)'
        """
        rounds = [s / f for s, f in zip(self.run_medians, faster.run_medians)]
        spread = f" (per round {min(rounds):,.1f}–{max(rounds):,.1f}×)" if len(rounds) > 1 else ""
        return f"{self.median / faster.median:,.1f}×{spread}"


@dataclass
class Target:
    """One row of the summary: a figure, the issue's target, and whether it is met."""

    name: str
    figure: str
    target: str
    met: bool | None  # None: not measured

    def row(self) -> str:
        status = "not measured" if self.met is None else "**met**" if self.met else "not met"
        return f"| {self.name} | {self.figure} | {self.target} | {status} |"


def ms(seconds: float) -> str:
    """``ms(0.0123) == '12.3 ms'``."""
    return f"{seconds * 1e3:,.1f} ms" if seconds >= 0.01 else f"{seconds * 1e3:,.2f} ms"


def mib(n_bytes: float) -> str:
    """``mib(3 * 2**20) == '3.0 MiB'``."""
    return f"{n_bytes / 2**20:,.1f} MiB"


# --- the benchmarks ----------------------------------------------------------------------------


def bench_b1(args: argparse.Namespace, targets: list[Target], lines: list[str]) -> None:
    """B1: time every engine's moons step; add its targets and its detail table."""
    engines = [e for e in B1_ENGINES if e in args.b1_engines]
    skipped = {e: missing(e) for e in engines if missing(e)}
    runnable = [e for e in engines if e not in skipped]
    log(f"B1: moons demo step, {args.points} points, engines {', '.join(runnable)}")
    runs = alternate("b1", runnable, args.repeats, steps=args.steps, points=args.points)
    timings = {e: Timing.pool(runs[e]) for e in runnable}
    for engine, timing in timings.items():
        if timing.error:
            skipped[engine] = timing.error
    base = timings.get("micrograd")
    lines += [
        f"### B1 — micrograd's moons demo step ({args.points} points, `MLP(2, [16, 16, 1])`, "
        f"hinge loss + L2, SGD)",
        "",
        "| engine | ms per step (median) | range | share in gc | vs micrograd | loss after |",
        "|---|---|---|---|---|---|",
    ]
    for engine in engines:
        if engine in skipped:
            lines.append(f"| {B1_NAMES[engine]} | skipped: {skipped[engine]} | | | | |")
            continue
        t = timings[engine]
        ratio = f"{base.median / t.median:,.1f}×" if base and not base.error else "—"
        lines.append(
            f"| {B1_NAMES[engine]} | {ms(t.median)} | {ms(min(t.times))} – {ms(max(t.times))} "
            f"| {t.gc_share:.0%} | {ratio} | {t.losses[-1]:.6f} |"
        )
    lines += ["", f"{args.repeats} process(es) per engine × {args.steps} timed step(s) after a "
              "warm-up step; every engine starts from the same weights and data, so the losses "
              "agree.", ""]

    for name, fast, slow, want in [
        ("B1 through `nn` vs micrograd", "chainrule-nn", "micrograd", 100),
        ("B1 micrograd-style code on chainrule vs micrograd", "chainrule-mgstyle", "micrograd", 8),
        ("B1 through `nn` vs PyTorch 0-d tensors", "chainrule-nn", "torch", 50),
        ("B1 through `nn`, cycle collector on, vs micrograd", "chainrule-nn-gc-on", "micrograd",
         100),
        ("B1 through `nn`, cycle collector on, vs PyTorch", "chainrule-nn-gc-on", "torch", 50),
    ]:
        if {fast, slow} <= set(timings) - set(skipped):
            r = timings[slow].median / timings[fast].median
            figure = (f"{timings[slow].ratio(timings[fast])}: {ms(timings[fast].median)} vs "
                      f"{ms(timings[slow].median)}")
            targets.append(Target(name, figure, f"≥ {want}×", r >= want))
        else:
            reason = skipped.get(fast) or skipped.get(slow) or "not run"
            targets.append(Target(name, f"— ({reason})", f"≥ {want}×", None))


def bench_b2(args: argparse.Namespace, targets: list[Target], lines: list[str]) -> None:
    """B2: check chainrule against the reference on the tiny GPT, then time both."""
    options = {"n_embd": args.n_embd, "block_size": args.block_size}
    log(f"B2: tiny GPT step, n_embd {args.n_embd}, block {args.block_size}")
    check = run_worker("b2-check", **options)
    runs = alternate("b2", ["chainrule", "reference"], args.repeats, steps=args.steps, **options)
    t = {e: Timing.pool(r) for e, r in runs.items()}
    names = {"chainrule": "chainrule `Value`",
             "reference": "textbook `Value` (benchmarks/reference)"}
    lines += [
        f"### B2 — one training step of a tiny character-level GPT in scalar code "
        f"(n_embd {args.n_embd}, 2 heads, 1 layer, block {args.block_size}, vocab 27)",
        "",
        "| engine | ms per step (median) | range | share in gc | vs reference |",
        "|---|---|---|---|---|",
    ]
    for engine, timing in t.items():
        if timing.error:
            lines.append(f"| {names[engine]} | failed: {timing.error} | | | |")
            continue
        lines.append(
            f"| {names[engine]} | {ms(timing.median)} | {ms(min(timing.times))} – "
            f"{ms(max(timing.times))} | {timing.gc_share:.0%} | "
            f"{t['reference'].median / timing.median:,.1f}× |"
        )
    if "error" in check:
        agree = f"the check failed: {check['error']}"
    else:
        agree = (f"same loss ({check['losses'][0]:.12f}) and gradients of all "
                 f"{check['parameters']:,} weights within {check['max_grad_difference']:.1e}: "
                 f"{'yes' if check['same'] else '**no**'}")
    lines += ["", f"Both engines from the same weights: {agree}.", ""]
    ok = not any(timing.error for timing in t.values())
    r = t["reference"].median / t["chainrule"].median if ok else None
    figure = (f"{t['reference'].ratio(t['chainrule'])}: {ms(t['chainrule'].median)} vs "
              f"{ms(t['reference'].median)}" if r else "— (failed)")
    targets.append(Target("B2 chainrule vs the textbook Value", figure, "≥ 4×",
                          None if r is None else r >= 4 and check.get("same", False)))


def bench_b3(args: argparse.Namespace, targets: list[Target], lines: list[str]) -> None:
    """B3: the deep chain on chainrule (``--huge``: also 1e7 steps); the others' recursion limit."""
    n = args.chain
    log(f"B3: chain of {n:,} steps")
    variants = {"chainrule": "chainrule", "chainrule-gc-paused": "chainrule in `gc_paused()`"}
    runs = alternate("b3", list(variants), args.repeats, n=n)
    lines += [
        "### B3 — depth: `x = x*a + b` repeated (2 op nodes per step)",
        "",
        "| engine | steps | forward | backward | ns per node, forward + backward | share in gc "
        "| freeing | peak RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    per_node: dict[str, float] = {}
    for engine, name in variants.items():
        good = [run for run in runs[engine] if "error" not in run]
        if not good:
            lines.append(f"| {name} | {n:,} | failed: {runs[engine][0]['error']} | | | | | |")
            continue
        forward = statistics.median(r["forward"] for r in good)
        backward = statistics.median(r["backward"] for r in good)
        free = statistics.median(r["free"] for r in good)
        per_node[engine] = statistics.median((r["forward"] + r["backward"]) / r["nodes"]
                                             for r in good)
        rss = max(r["peak_rss"] for r in good)
        gc_share = statistics.median(r["gc"] / (r["forward"] + r["backward"]) for r in good)
        lines.append(f"| {name} | {n:,} | {ms(forward)} | {ms(backward)} | "
                     f"{per_node[engine] * 1e9:,.0f} | {gc_share:.0%} | {ms(free)} | {mib(rss)} |")
    huge = None
    if args.huge:
        log("B3: chain of 10,000,000 steps (--huge)")
        huge = run_worker("b3", "chainrule", n=10_000_000)
        if "error" in huge:
            lines.append(f"| chainrule | 10,000,000 | failed: {huge['error']} | | | | | |")
        else:
            seconds = huge["forward"] + huge["backward"]
            lines.append(
                f"| chainrule | 10,000,000 | {ms(huge['forward'])} | {ms(huge['backward'])} | "
                f"{seconds / huge['nodes'] * 1e9:,.0f} | {huge['gc'] / seconds:.0%} | "
                f"{ms(huge['free'])} | {mib(huge['peak_rss'])} |")
    for engine in ("micrograd", "reference"):
        if engine == "micrograd" and importlib.util.find_spec("micrograd") is None:
            continue
        deep = run_worker("b3", engine, n=1000)
        outcome = "fails: RecursionError" if "error" in deep else "completes"
        lines.append(f"| {engine} | 1,000 | {ms(deep['forward']) if 'forward' in deep else ''} | "
                     f"{outcome} | | | | |")
    lines += ["", f"Median of {args.repeats} process(es); freeing = dropping the graph "
              "(+ `gc.collect()`). micrograd and the textbook Value sort the graph recursively, "
              "so a chain of 1,000 steps (2,000 nodes deep) already exceeds Python's recursion "
              "limit.", ""]
    for engine, label in [("chainrule-gc-paused", "in `gc_paused()`"),
                          ("chainrule", "cycle collector on")]:
        seconds = per_node.get(engine)
        figure = f"{seconds * 1e9:,.0f} ns per node at {n:,} steps" if seconds else "— (failed)"
        targets.append(Target(f"B3 depth: forward + backward per node, {label}", figure,
                              "≤ 1 µs (1e6 steps)",
                              None if seconds is None or n < 1_000_000 else seconds <= 1e-6))
    if huge is None:
        targets.append(Target("B3 depth: 10,000,000 steps complete", "not run (add `--huge`)",
                              "completes", None))
    else:
        done = "error" not in huge
        figure = (f"{huge['forward'] + huge['backward']:,.1f} s forward + backward, peak RSS "
                  f"{mib(huge['peak_rss'])}" if done else f"failed: {huge['error']}")
        targets.append(Target("B3 depth: 10,000,000 steps complete", figure, "completes", done))


def bench_b4(args: argparse.Namespace, targets: list[Target], lines: list[str]) -> None:
    """B4: tracemalloc's bytes per op node on the chain and on a B1 step, per engine."""
    log("B4: memory (tracemalloc)")
    lines += [
        "### B4 — memory (tracemalloc; bytes the graph holds per op node, and the step's peak)",
        "",
        "| graph | engine | op nodes | bytes per op node after forward | after backward "
        "| peak of the step |",
        "|---|---|---|---|---|---|",
    ]
    chain_n = min(args.chain, 100_000)
    chain_result = None
    rows = [("b4-chain", e, f"chain of {chain_n:,} steps") for e in ("chainrule", "micrograd")]
    rows += [("b4", e, "B1 step") for e in B1_ENGINES if e not in ("torch", "chainrule-nn-gc-on")]
    for task, engine, graph in rows:
        reason = missing(engine) if task == "b4" or engine == "micrograd" else None
        name = B1_NAMES[engine] if task == "b4" else f"{engine} `Value`"
        if engine not in args.b1_engines and task == "b4":
            continue
        if reason:
            lines.append(f"| {graph} | {name} | skipped: {reason} | | | |")
            continue
        result = run_worker(task, engine, n=chain_n, points=args.points)
        if "error" in result and "op_nodes" not in result:
            lines.append(f"| {graph} | {name} | failed: {result['error']} | | | |")
            continue
        after = ("— (" + result["error"] + ")" if "error" in result
                 else f"{result['bytes_per_node_backward']:,.0f}")
        lines.append(f"| {graph} | {name} | {result['op_nodes']:,} | "
                     f"{result['bytes_per_node_forward']:,.0f} | {after} | "
                     f"{mib(result['peak'])} |")
        if task == "b4-chain" and engine == "chainrule":
            chain_result = result
    lines += ["", "PyTorch allocates tensors outside Python's allocator, where tracemalloc cannot "
              "see them, so it has no row. \"After forward\" counts everything the step allocated "
              "and still holds with the loss alive (nodes, their floats and parent tuples, "
              "constant leaves); \"after backward\" adds the gradients.", ""]
    if chain_result:
        figure = (f"{chain_result['bytes_per_node_forward']:,.0f} after forward, "
                  f"{chain_result['bytes_per_node_backward']:,.0f} after backward (chain)")
        met = chain_result["bytes_per_node_forward"] <= 150
    else:
        figure, met = "— (failed)", None
    targets.append(Target("B4 bytes per op node", figure, "≤ 150", met))


# --- the report --------------------------------------------------------------------------------


def machine() -> list[str]:
    """The machine and versions the figures were measured with, as Markdown bullet lines."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "not installed"

    def git(*arguments: str) -> str:
        done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True,
                              check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "autograd", "nn"):
        commit += " plus uncommitted changes in autograd/ or nn/"
    return [
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        "default settings, gc on",
        f"- micrograd {version('micrograd')}, torch {version('torch')}, "
        f"numpy {version('numpy')}",
        f"- chainrule commit measured: {commit}",
    ]


README = ROOT / "README.md"
README_TABLE = "| benchmark | measured | target | status |\n|---|---|---|---|\n"


def update_readme(targets: list[Target]) -> None:
    """Replace the table of README's ``## Performance`` section (nothing else) with ``targets``."""
    text = README.read_text()
    section = text.find("## Performance")
    start = text.find(README_TABLE, section)
    if section < 0 or start < 0:
        log("README.md has no Performance table; left as it is")
        return
    start += len(README_TABLE)
    end = text.find("\n\n", start)
    rows = "\n".join(target.row() for target in targets)
    README.write_text(text[:start] + rows + text[end if end >= 0 else len(text):])
    log("updated the table in README.md's Performance section")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line (see ``--help``); ``--quick`` replaces the sizes with tiny ones."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default="b1,b2,b3,b4",
                        help="comma-separated benchmarks to run (default: b1,b2,b3,b4)")
    parser.add_argument("--repeats", type=int, default=3, help="processes per engine (3)")
    parser.add_argument("--steps", type=int, default=5,
                        help="timed steps per process after one warm-up step, B1 and B2 (5)")
    parser.add_argument("--points", type=int, default=100, help="B1: moons points (100)")
    parser.add_argument("--b1-engines", default=",".join(B1_ENGINES),
                        help=f"B1/B4: engines to compare (default: {','.join(B1_ENGINES)})")
    parser.add_argument("--n-embd", type=int, default=16, help="B2: embedding width (16)")
    parser.add_argument("--block-size", type=int, default=8, help="B2: context length (8)")
    parser.add_argument("--chain", type=int, default=1_000_000, help="B3: chain steps (1e6)")
    parser.add_argument("--huge", action="store_true",
                        help="B3: also run 10,000,000 steps (needs about 5 GB of memory)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, to check the suite works (figures are meaningless)")
    parser.add_argument("--write", action="store_true",
                        help="write benchmarks/RESULTS.md and the table in README.md")
    args = parser.parse_args(argv)
    if args.quick:
        if args.write:
            parser.error("--quick figures are not results; run without --quick to --write")
        args.repeats, args.steps, args.points = 1, 1, 4
        args.n_embd, args.block_size, args.chain = 4, 2, 1000
    args.b1_engines = args.b1_engines.split(",")
    return args


def main(argv: list[str] | None = None) -> str:
    """Run the benchmarks, print the report, and return it (``--write`` also stores it)."""
    args = parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    targets: list[Target] = []
    details: list[str] = []
    benches = {"b1": bench_b1, "b2": bench_b2, "b3": bench_b3, "b4": bench_b4}
    for name in args.only.split(","):
        benches[name.strip().lower()](args, targets, details)
    command = " ".join(["python -m benchmarks.run", *argv])
    report = "\n".join([
        "| benchmark | measured | target (issue 5) | status |",
        "|---|---|---|---|",
        *(target.row() for target in targets),
        "",
        *machine(),
        f"- command: `{command}`",
        "",
        *details,
    ])
    print(report)
    if args.write:
        update_readme(targets)
        RESULTS.write_text(
            "# Benchmark results\n\n"
            "Written by `python -m benchmarks.run --write` (`./dev.sh bench --write`); see "
            "`benchmarks/run.py` for how each figure is measured.\n\n" + report)
        log(f"wrote {RESULTS.relative_to(ROOT)}")
    return report


if __name__ == "__main__":
    main()
