"""The report: statistics over the workers' results, the Markdown tables, the targets, the files.

``benchmarks.run`` measures and hands over ``Results`` (each ``worker.Job`` with the JSON of its
worker runs, in round order); everything here only reads them. A figure is the median over all
timed steps of all of an engine's processes; a ratio divides two such medians of one run, and the
range after it is that of the per-round ratios.
"""

from __future__ import annotations

import datetime
import math
import os
import platform
import statistics
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from benchmarks.engines import Engine
from benchmarks.worker import Job

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
README = ROOT / "README.md"
README_TABLE = "| benchmark | measured (compiled core) |\n|---|---|\n"
B1_WORKLOADS = ("mgstyle", "nn", "numpy")
BEFORE_AFTER_LIMIT = 1.5  # the pure-Python engine may not get slower or bigger than this

Results = dict[Job, list[dict[str, Any]]]


@dataclass
class Timing:
    """The pooled step times of one job's worker runs.

    >>> t = Timing.pool([{"times": [2.0, 4.0], "gc": [0.0, 1.0], "losses": [1.0, 0.5],
    ...                   "nodes": 9, "implementation": "python"}])
    >>> t.median, t.gc_share, t.losses
    (3.0, 0.16666666666666666, [[1.0, 0.5]])
    """

    times: list[float] = field(default_factory=list)
    gc: list[float] = field(default_factory=list)
    losses: list[list[float]] = field(default_factory=list)
    run_medians: list[float] = field(default_factory=list)  # one per worker, in round order
    nodes: int = 0
    implementation: str = ""
    error: str = ""

    @classmethod
    def pool(cls, runs: list[dict[str, Any]]) -> Timing:
        timing = cls()
        for run in runs:
            if "error" in run:
                timing.error = run["error"]
                continue
            timing.times += run["times"]
            timing.run_medians.append(statistics.median(run["times"]))
            timing.gc += run["gc"]
            timing.losses.append(run["losses"])
            timing.nodes = run["nodes"]
            timing.implementation = run["implementation"]
        return timing

    @property
    def ok(self) -> bool:
        return bool(self.times)

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
    """One row of the summary: a figure, its target, and whether it is met (None: no verdict).

    >>> Target("B4 bytes per op node", "72", "≤ 80", True).row()
    '| B4 bytes per op node | 72 | ≤ 80 | **met** |'
    """

    name: str
    figure: str
    target: str
    met: bool | None

    def row(self) -> str:
        if self.target == "—":
            status = "—"
        else:
            status = "not measured" if self.met is None else "**met**" if self.met else "not met"
        return f"| {self.name} | {self.figure} | {self.target} | {status} |"


def ms(seconds: float) -> str:
    """``ms(0.0123) == '12.3 ms'``, ``ms(0.00123) == '1.23 ms'``, ``ms(4.7e-5) == '0.047 ms'``."""
    if seconds >= 0.01:
        return f"{seconds * 1e3:,.1f} ms"
    return f"{seconds * 1e3:.2f} ms" if seconds >= 0.001 else f"{seconds * 1e3:.3f} ms"


def mib(n_bytes: float) -> str:
    """``mib(3 * 2**20) == '3.0 MiB'``."""
    return f"{n_bytes / 2**20:,.1f} MiB"


def pick(results: Results, task: str, workload: str = "", gc: str = "on",
         n: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """The runs of the jobs matching ``task``/``workload``/``gc`` (and ``n``), by engine."""
    return {job.engine: runs for job, runs in results.items()
            if job.task == task and job.workload == workload and job.gc == gc
            and (n is None or job.n == n)}


def label(engine: Engine, implementation: str = "") -> str:
    """The engine's name in the tables; chainrule's says which implementation ran."""
    shows = engine.name in ("chainrule", "chainrule-compile") and implementation
    return f"{engine.label} ({implementation})" if shows else engine.label


def _versus(name: str, fast: Timing | None, slow: Timing | None, want: float,
            wanted: str = "") -> Target:
    """``name``: how many times ``fast`` beats ``slow``, against ``≥ want×`` (or, with
    ``wanted``, more than ``want`` times, described so)."""
    wanted = wanted or f"≥ {want:,g}×"
    if not (fast and slow and fast.ok and slow.ok):
        why = (fast and fast.error) or (slow and slow.error) or "not run"
        return Target(name, f"— ({why})", wanted, None)
    figure = f"{slow.ratio(fast)}: {ms(fast.median)} vs {ms(slow.median)}"
    ratio = slow.median / fast.median
    return Target(name, figure, wanted, ratio > want if "faster" in wanted else ratio >= want)


def _step_table(timings: Mapping[str, Timing], names: Mapping[str, str], base: str) -> list[str]:
    lines = ["| engine | ms per step (median) | range | share in gc | op nodes | "
             f"vs {names.get(base, base)} | loss after |", "|---|---|---|---|---|---|---|"]
    reference = timings.get(base)
    for key, t in timings.items():
        if not t.ok:
            lines.append(f"| {names[key]} | failed: {t.error} | | | | | |")
            continue
        ratio = f"{reference.median / t.median:,.1f}×" if reference and reference.ok else "—"
        nodes = f"{t.nodes:,}" if t.nodes else "—"
        lines.append(f"| {names[key]} | {ms(t.median)} | {ms(min(t.times))} – {ms(max(t.times))}"
                     f" | {t.gc_share:.0%} | {nodes} | {ratio} | {t.losses[-1][-1]:.6f} |")
    return lines


def same_losses(timings: Mapping[str, Timing]) -> bool:
    """Whether every process of every timing saw the same losses, step by step (relative 1e-9).

    >>> same_losses({"a": Timing(losses=[[1.0, 0.5]]), "b": Timing(losses=[[1.0, 0.5]] * 2)})
    True
    """
    curves = [run for t in timings.values() for run in t.losses]
    return all(math.isclose(a, b, rel_tol=1e-9)
               for run in curves[1:] for a, b in zip(run, curves[0], strict=True))


def b1(results: Results, registry: Mapping[str, Engine],
       skipped: Mapping[str, str]) -> tuple[list[str], list[Target]]:
    """B1: every engine's moons step, micrograd-style code and chainrule's ``nn``."""
    timings: dict[str, Timing] = {}
    names: dict[str, str] = {}
    for workload, style in (("mgstyle", ", micrograd's code"), ("nn", ", through `nn`"),
                            ("numpy", "")):
        for engine, runs in pick(results, "time", workload).items():
            key = f"{engine}/{workload}"
            timings[key] = Timing.pool(runs)
            names[key] = label(registry[engine], timings[key].implementation) + style
    if not timings:
        return [], []
    points = next(job.points for job in results if job.workload in B1_WORKLOADS)
    lines = [f"### B1 — micrograd's moons demo step ({points} points, `MLP(2, [16, 16, 1])`, "
             "hinge loss + L2, SGD)", "",
             *_step_table(timings, names, "micrograd/mgstyle"), ""]
    lines += [f"Not run: {name} ({why})." for name, why in skipped.items()]
    agree = "yes" if same_losses(timings) else "**no**"
    lines += [f"Every engine starts from the same weights and data; same losses: {agree}. "
              "\"micrograd's code\" is micrograd's `MLP` and loss written once "
              "(`benchmarks/mlp.py`) over each engine's scalar; \"through `nn`\" is the demo as "
              "a chainrule user writes it (`nn.MLP`, `nn.hinge_loss`, `nn.SGD`, each step in "
              "`gc_paused()`); numpy's row is the same step written by hand "
              "(`benchmarks/numpy_mlp.py`: the points as one matrix, a matmul per layer, the "
              "backward pass by hand, SGD on one flat vector; same losses within 1e-9). "
              "The rows with `autograd.compile` run the same code recorded at the warm-up step "
              "and replayed at every timed one: through `nn` as issue 19 writes it (the points "
              "are the compiled function's arguments), micrograd's code with the points as "
              "constants.", ""]
    get = timings.get
    targets = [
        _versus("B1 micrograd-style code on chainrule vs micrograd", get("chainrule/mgstyle"),
                get("micrograd/mgstyle"), 80),
        _versus("B1 through `nn` vs micrograd", get("chainrule/nn"), get("micrograd/mgstyle"),
                400),
        _versus("B1 through `nn` vs PyTorch 0-d tensors", get("chainrule/nn"),
                get("torch/mgstyle"), 150),
        _versus("B1 through `nn` with `autograd.compile` vs micrograd",
                get("chainrule-compile/nn"), get("micrograd/mgstyle"), 10_000),
        _versus("B1 through `nn` with `autograd.compile` vs the same step written by hand in "
                "numpy", get("chainrule-compile/nn"), get("numpy/numpy"), 1, "> 1× (faster)"),
        _versus("B1 micrograd-style code with `autograd.compile` vs micrograd",
                get("chainrule-compile/mgstyle"), get("micrograd/mgstyle"), 2_000),
    ]
    replayed, eager = get("chainrule-compile/nn"), get("chainrule/nn")
    if replayed and eager and replayed.ok and eager.ok:
        targets.append(Target("B1 through `nn`: eager step / replayed step (compiled core)",
                              f"{eager.ratio(replayed)}: {ms(eager.median)} vs "
                              f"{ms(replayed.median)}", "—", None))
    return lines, targets


def b5(results: Results, registry: Mapping[str, Engine]) -> tuple[list[str], list[Target]]:
    """B5: microgpt's training step on each Value class (GC on and off) and on plain floats."""
    timings: dict[str, Timing] = {}
    names: dict[str, str] = {}
    for gc in ("on", "off"):
        for engine, runs in pick(results, "time", "microgpt", gc).items():
            key = f"{engine}/gc-{gc}"
            timings[key] = Timing.pool(runs)
            names[key] = label(registry[engine], timings[key].implementation) + (
                ", cycle collector off" if gc == "off" else "")
    if not timings:
        return [], []
    same = same_losses({key: t for key, t in timings.items() if not key.startswith("floats/")})
    lines = ["### B5 — microgpt's training step (vocab 27, n_embd 16, 4 heads, 1 layer, "
             "block 16, Adam; 4,192 parameters)", "",
             *_step_table(timings, names, "microgpt/gc-on"), "",
             f"Only the `Value` class differs between the rows (same code, same seed, same "
             f"names); every step's loss is the same on every Value class (relative 1e-9): "
             f"{'yes' if same else '**no**'}. The floats row runs the same forward pass on "
             "plain floats: no graph, no backward, no update — the floor. Step k trains on "
             "name k, so steps differ in length; op nodes are those of step 0's graph.", ""]
    get = timings.get
    target = _versus("B5 microgpt step, chainrule vs microgpt's Value",
                     get("chainrule/gc-on"), get("microgpt/gc-on"), 6)
    target.met = target.met and same
    off = _versus("", get("chainrule/gc-off"), get("microgpt/gc-off"), 6)
    if off.met is not None:
        target.figure += f"; cycle collector off for both: {off.figure}"
    floor, fast = get("floats/gc-on"), get("chainrule/gc-on")
    if floor and fast and floor.ok and fast.ok:
        floor_row = Target("B5 chainrule step / the same forward on plain floats",
                           f"{fast.ratio(floor)}: {ms(fast.median)} vs {ms(floor.median)}",
                           "—", None)
    else:
        floor_row = Target("B5 chainrule step / the same forward on plain floats", "— (not run)",
                           "—", None)
    return lines, [target, floor_row]


def b6(results: Results, registry: Mapping[str, Engine]) -> tuple[list[str], list[Target]]:
    """B6: ``chainrule-gpt`` with and without ``autograd.compile`` (training time, held-out loss,
    recordings, what a recording costs)."""
    runs = {engine: [r for r in found if "error" not in r]
            for engine, found in pick(results, "gpt", "gpt").items()}
    if not runs:
        return [], []
    steps = next(job.steps for job in results if job.task == "gpt")
    lines = [f"### B6 — `chainrule-gpt` ({steps:,} steps, the command's training on the census "
             "names), with and without `--compile`", "",
             "| engine | training time (median) | ms per step (median) | steps that recorded "
             "| held-out loss |", "|---|---|---|---|---|"]
    seconds: dict[str, float] = {}
    for engine, good in runs.items():
        name = label(registry[engine], good[0]["implementation"] if good else "")
        if not good:
            error = results[next(j for j in results if j.engine == engine and j.task == "gpt")]
            lines.append(f"| {name} | failed: {error[0].get('error', '?')} | | | |")
            continue
        seconds[engine] = statistics.median(r["seconds"] for r in good)
        per_step = statistics.median(t for r in good for t in r["times"])
        recorded = good[0]["recordings"] if registry[engine].replay else "—"
        lines.append(f"| {name} | {seconds[engine]:,.2f} s | {ms(per_step)} | {recorded} | "
                     f"{good[0]['held_out_loss']:.6f} |")
    held_out = {r["held_out_loss"] for good in runs.values() for r in good}
    same = len(held_out) == 1
    lines += ["", "What `chainrule-gpt` runs, without sampling and saving: the same split, seed "
              "and learning-rate schedule, `nn.gpt.train` one name per step, then the held-out "
              f"loss. Same held-out loss in every process, to the last bit: "
              f"{'yes' if same else '**no**'}. With `--compile` the first name of each length "
              "is recorded (eagerly, plus the recording), every other one replayed.", ""]
    targets = []
    eager, compiled = seconds.get("chainrule"), seconds.get("chainrule-compile")
    name = "B6 `chainrule-gpt --compile` vs `chainrule-gpt`, training time (compiled core)"
    if eager and compiled:
        rounds = [a["seconds"] / b["seconds"]
                  for a, b in zip(runs["chainrule"], runs["chainrule-compile"])]
        spread = (f" (per round {min(rounds):,.1f}–{max(rounds):,.1f}×)" if len(rounds) > 1
                  else "")
        targets.append(Target(name, f"{eager / compiled:,.1f}×{spread}: {compiled:,.2f} s vs "
                              f"{eager:,.2f} s; same held-out loss: {'yes' if same else 'no'}",
                              "≥ 5×, same held-out loss", eager / compiled >= 5 and same))
    else:
        targets.append(Target(name, "— (not run)", "≥ 5×, same held-out loss", None))
    replayed = runs.get("chainrule-compile")
    if replayed:
        first = replayed[0]
        record = statistics.median(t for r in replayed
                                   for t, made in zip(r["times"], r["recorded"]) if made)
        replay = [t for r in replayed for t, made in zip(r["times"], r["recorded"]) if not made]
        eager_step = statistics.median(t for r in runs.get("chainrule", []) for t in r["times"]) \
            if runs.get("chainrule") else float("nan")
        targets.append(Target(
            "B6 recordings a GPT run makes",
            f"{first['recordings']} in {steps:,} steps (one per name length; "
            f"{steps - first['recordings']:,} steps replayed)", "—", None))
        targets.append(Target(
            "B6 what a recording costs",
            f"a step that records: {ms(record)} (an eager step: {ms(eager_step)}, a replayed "
            f"one: {ms(statistics.median(replay)) if replay else '—'}); it holds "
            f"{first['bytes_per_instruction']:,.0f} bytes per instruction "
            f"({first['instructions']:,} instructions, {mib(first['bytes'])})", "—", None))
    return lines, targets


def b3(results: Results, registry: Mapping[str, Engine],
       chain: int) -> tuple[list[str], list[Target], dict[str, float]]:
    """B3: the deep chain; returns its lines, targets and ns per node by engine."""
    lines = ["### B3 — depth: `x = x*a + b` repeated (2 op nodes per step)", "",
             "| engine | steps | forward | backward | ns per node, forward + backward | "
             "share in gc | freeing | peak RSS |", "|---|---|---|---|---|---|---|---|"]
    per_node: dict[str, float] = {}
    huge: dict[str, Any] | None = None
    for job, runs in results.items():
        if job.task != "chain":
            continue
        engine = registry[job.engine]
        name = label(engine, runs[0].get("implementation", "")) + (
            ", cycle collector off" if job.gc == "off" else "")
        good = [run for run in runs if "error" not in run]
        if not good:
            outcome = runs[0]["error"].split(" (")[0]
            forward = ms(runs[0]["forward"]) if "forward" in runs[0] else ""
            lines.append(f"| {name} | {job.n:,} | {forward} | fails: {outcome} | | | | |")
            continue
        forward = statistics.median(r["forward"] for r in good)
        backward = statistics.median(r["backward"] for r in good)
        seconds = statistics.median((r["forward"] + r["backward"]) / r["nodes"] for r in good)
        gc_share = statistics.median(r["gc"] / (r["forward"] + r["backward"]) for r in good)
        rss = max(r["peak_rss"] for r in good)
        lines.append(f"| {name} | {job.n:,} | {ms(forward)} | {ms(backward)} | "
                     f"{seconds * 1e9:,.0f} | {gc_share:.0%} | "
                     f"{ms(statistics.median(r['free'] for r in good))} | {mib(rss)} |")
        if job.n == chain and job.gc == "on":
            per_node[job.engine] = seconds
        if job.n == 10_000_000 and job.engine == "chainrule":
            huge = {**good[0], "seconds": forward + backward}
    lines += ["", "Median of the processes of each row; freeing = dropping the graph "
              "(+ `gc.collect()`). Engines that sort the graph recursively fail at 1,000 steps "
              "(2,000 nodes deep): Python's recursion limit.", ""]
    seconds = per_node.get("chainrule")
    figure = f"{seconds * 1e9:,.0f} ns per node at {chain:,} steps" if seconds else "— (failed)"
    targets = [Target("B3 chain: forward + backward per node", figure, "≤ 120 ns (1e6 steps)",
                      None if seconds is None or chain < 1_000_000 else seconds <= 120e-9)]
    if huge is None:
        targets.append(Target("B3 chain of 1e7 steps: peak memory", "not run (`--no-huge`)",
                              "≤ 1.5 GiB", None))
    else:
        targets.append(Target("B3 chain of 1e7 steps: peak memory",
                              f"{mib(huge['peak_rss'])} (forward + backward "
                              f"{huge['seconds']:,.1f} s)", "≤ 1.5 GiB",
                              huge["peak_rss"] <= 1.5 * 2**30))
    return lines, targets, per_node


def b4(results: Results, registry: Mapping[str, Engine]) -> tuple[list[str], list[Target],
                                                                  dict[str, float]]:
    """B4: tracemalloc's bytes per op node; returns lines, target, chain bytes by engine."""
    lines = ["### B4 — memory (tracemalloc; bytes the graph holds per op node, and the peak)", "",
             "| graph | engine | op nodes | bytes per op node after forward | after backward "
             "| peak |", "|---|---|---|---|---|---|"]
    graphs = {"chain": "chain", "mgstyle": "B1 step, micrograd's code",
              "nn": "B1 step through `nn`", "microgpt": "B5 step"}
    chain_bytes: dict[str, float] = {}
    for job, runs in results.items():
        if job.task != "memory":
            continue
        result = runs[0]
        graph = graphs[job.workload] + (f" of {job.n:,} steps" if job.workload == "chain" else "")
        name = label(registry[job.engine], result.get("implementation", ""))
        if "op_nodes" not in result:
            lines.append(f"| {graph} | {name} | failed: {result['error']} | | | |")
            continue
        after = ("— (" + result["error"] + ")" if "error" in result
                 else f"{result['bytes_per_node_backward']:,.0f}")
        lines.append(f"| {graph} | {name} | {result['op_nodes']:,} | "
                     f"{result['bytes_per_node_forward']:,.0f} | {after} | "
                     f"{mib(result['peak'])} |")
        if job.workload == "chain":
            chain_bytes[job.engine] = result["bytes_per_node_forward"]
    lines += ["", "PyTorch allocates tensors outside Python's allocator, where tracemalloc "
              "cannot see them, so it has no row. \"After forward\" counts everything the step "
              "allocated and still holds with the loss alive (nodes, their floats and parent "
              "tuples, constant leaves); \"after backward\" adds the gradients.", ""]
    got = chain_bytes.get("chainrule")
    figure = f"{got:,.0f} after forward (chain)" if got else "— (not run)"
    target = Target("B4 bytes per op node", figure, "≤ 80",
                    None if got is None else round(got) <= 80)  # the leaves add a fraction
    return lines, [target], chain_bytes


def before_after(results: Results, per_node: Mapping[str, float],
                 chain_bytes: Mapping[str, float], revision: str) -> list[Target]:
    """The pure-Python engine against chainrule at ``revision``: every figure within 1.5×."""
    pairs: list[tuple[str, float | None, float | None, str]] = []
    for workload, name in (("nn", "B1 through `nn`"), ("mgstyle", "B1 micrograd-style code")):
        runs = pick(results, "time", workload)
        now, then = (Timing.pool(runs[e]) if e in runs else None
                     for e in ("chainrule-python", "baseline"))
        pairs.append((name, now.median if now and now.ok else None,
                      then.median if then and then.ok else None, "ms"))
    pairs.append(("B3 chain per node", per_node.get("chainrule-python"),
                  per_node.get("baseline"), "ns"))
    pairs.append(("B4 bytes per op node (chain)", chain_bytes.get("chainrule-python"),
                  chain_bytes.get("baseline"), "B"))
    targets = []
    for name, now, then, unit in pairs:
        title = f"{name}: pure Python now / at {revision}"
        if now is None or then is None:
            targets.append(Target(title, "— (not run)", f"≤ {BEFORE_AFTER_LIMIT}×", None))
            continue
        scale = {"ms": 1e3, "ns": 1e9, "B": 1.0}[unit]
        figure = f"{now / then:.2f}×: {now * scale:,.1f} vs {then * scale:,.1f} {unit}"
        targets.append(Target(title, figure, f"≤ {BEFORE_AFTER_LIMIT}×",
                              now / then <= BEFORE_AFTER_LIMIT))
    return targets


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

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--", "autograd", "nn"):
        commit += " plus uncommitted changes in autograd/ or nn/"
    return [
        f"- date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}",
        f"- Python {platform.python_version()} ({platform.python_implementation()}), "
        "default settings, gc on unless a row says otherwise",
        f"- micrograd {version('micrograd')}, torch {version('torch')}, "
        f"numpy {version('numpy')}",
        f"- chainrule commit measured: {commit}",
    ]


def git(*arguments: str) -> str:
    """``git ARGUMENTS`` in the repository: its output, or "" if it failed."""
    done = subprocess.run(["git", *arguments], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def render(targets: list[Target], details: list[str], command: str, repeats: int) -> str:
    """The whole report: the targets table, the machine, then each benchmark's details."""
    return "\n".join([
        "| benchmark | measured | target | status |", "|---|---|---|---|",
        *(target.row() for target in targets), "",
        *machine(),
        f"- command: `{command}`",
        f"- {repeats} process(es) per row, engines alternated (each round starts with the next "
        "engine); each process runs a warm-up step, then the timed steps",
        "", *details,
    ])


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` all at once (a temporary file renamed over it)."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "w") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise


def write(report: str, targets: list[Target]) -> None:
    """Store ``report`` in benchmarks/RESULTS.md, and the headline figures in README's Speed
    table (the rows about chainrule's compiled engine against the alternatives)."""
    write_atomically(RESULTS, "# chainrule benchmark results\n\n"
                     "How chainrule's engine compares with micrograd, microgpt's `Value`, "
                     "PyTorch's 0-d tensors and plain floats, and with its own earlier revision. "
                     "Written by `./dev.sh bench --write`; `benchmarks/run.py` says how each "
                     "figure is measured.\n\n" + report + "\n")
    text = README.read_text()
    section = text.find("## Speed")
    start = text.find(README_TABLE, section)
    if section < 0 or start < 0:
        return
    start += len(README_TABLE)
    end = text.find("\n\n", start)
    rows = "\n".join(f"| {target.name} | {target.figure} |" for target in targets
                     if " now / at " not in target.name)
    write_atomically(README, text[:start] + rows + text[end if end >= 0 else len(text):])
