"""Shared test helpers: the ops to test (the table and members of its families), and points
drawn from an op's stated domain, and an environment without a given package.

Also what a Python cannot do: on Pyodide (CPython on WebAssembly, ``sys.platform ==
"emscripten"``) a test that starts a subprocess or a thread, or imports a package that has no
WebAssembly wheel there, is skipped at that point with the reason (``pytest_configure``). And the
counts of a run, for .ci/matrix's table, go to the JSON file ``$CHAINRULE_MATRIX_RESULT`` names.
"""

from __future__ import annotations

import importlib.abc
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from autograd import ops
from autograd.ops import Op

FMA = Op("fma", forward=lambda x, y, z: x * y + z, derivatives=lambda out, x, y, z: (y, x, 1.0),
         arity=3, domain=[(-2, 2)] * 3)
"""A user's own ternary op, made the documented way."""

FAMILY_MEMBERS = [ops.power(p) for p in (0, 1, 2, 3, -1, 0.5, -0.5, 1.5, 2.7)] + [
    ops.leaky_relu(slope) for slope in (0.01, 0.2, -0.5)] + [
    ops.activated(activation) for activation in (
        ops.RELU, ops.TANH, ops.SIGMOID, ops.GELU, ops.leaky_relu(0.01), ops.EXP)]

ALL_OPS: list[Op] = [*sorted(ops.OPS.values(), key=lambda op: op.name), *FAMILY_MEMBERS, FMA]
"""Every op the tests walk: the fixed table, members of each family, and a user's op."""


def n_inputs_of(op: Op, n: int = 3) -> int:
    """How many inputs to give ``op``: its arity, or for an n-ary op ``n`` values (dot and
    affine-like ops take pairs and a bias)."""
    if op.arity:
        return op.arity
    if op is ops.DOT:
        return 2 * n
    if op is ops.AFFINE or op.activation is not None:
        return 2 * n + 1
    return n


def sample_points(op: Op, count: int = 5, seed: int = 0, n_inputs: int = 3) -> list[list[float]]:
    """``count`` input vectors for ``op``, each coordinate from its domain, away from kinks."""
    rng = random.Random(f"{op.name}-{seed}")
    size = n_inputs_of(op, n_inputs)
    intervals = op.domain if op.arity else op.domain * size
    points = []
    while len(points) < count:
        point = [rng.uniform(low, high) for low, high in intervals]
        if not op.near_kink(point):
            points.append(point)
    return points


ROOT = Path(__file__).resolve().parent.parent


def without(tmp_path, module: str) -> dict:
    """An environment in which ``import module`` fails as if it were not installed."""
    fake = tmp_path / "hide" / module
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "hide"), str(ROOT)])}


WASM = sys.platform == "emscripten"
"""Running on Pyodide: no processes, no threads, only pure-Python packages."""

_NO_WHEEL = ("has no WebAssembly wheel on PyPI (Pyodide's own build is on its CDN, which the "
             "tests may not fetch)")
_KERNEL = ("the notebooks run in a Jupyter kernel, a separate process (and its pyzmq has no "
           "WebAssembly wheel on PyPI)")
NO_WASM_WHEEL = {
    "numpy": f"numpy {_NO_WHEEL}",
    "matplotlib": f"matplotlib {_NO_WHEEL}",
    "torch": f"torch {_NO_WHEEL}",
    "nbformat": _KERNEL,
    "nbclient": _KERNEL,
    "ipykernel": _KERNEL,
    "venv": "Pyodide's standard library has no venv (a venv's Python is a subprocess)",
    "resource": "Pyodide has no resource module (the benchmarks measure worker processes with it)"}
"""On Pyodide, the modules a test may import that cannot be had there, and why."""


class _SkipUnavailable(importlib.abc.MetaPathFinder):
    """Last on ``sys.meta_path`` on Pyodide: importing a package of ``NO_WASM_WHEEL`` (which no
    other finder found) skips the test, or the test module, that needs it."""

    def find_spec(self, name, path=None, target=None):
        reason = NO_WASM_WHEEL.get(name.partition(".")[0])
        if reason is not None:
            raise pytest.skip.Exception(reason, allow_module_level=True)
        return None


def _cannot(what: str):
    def refuse(*args, **kwargs):
        raise pytest.skip.Exception(f"Pyodide (WebAssembly) cannot {what}")
    return refuse


def pytest_configure(config):
    config._chainrule_start = time.monotonic()
    if WASM:
        sys.meta_path.append(_SkipUnavailable())
        subprocess.Popen.__init__ = _cannot("start a subprocess")
        threading.Thread.start = _cannot("start a thread")
    elif signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        # a suite started in the background by a script (`pytest &`: .ci/matrix's rows) inherits
        # Ctrl-C ignored, and so would the CLIs the tests interrupt: give them a user's Ctrl-C
        signal.signal(signal.SIGINT, signal.default_int_handler)


def _cpu_seconds() -> float:
    """CPU time of this process and of the processes it waited for (subprocesses, kernels)."""
    if WASM:  # one process, and no resource module
        return time.process_time()
    import resource

    return sum(sum(resource.getrusage(who)[:2])
               for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Write this run's counts to ``$CHAINRULE_MATRIX_RESULT`` (a row of .ci/matrix's table)."""
    target = os.environ.get("CHAINRULE_MATRIX_RESULT")
    if not target:
        return
    import autograd

    stats = terminalreporter.stats
    reasons: dict[str, int] = {}
    for report in stats.get("skipped", []):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    result = {
        "python": platform.python_version(),
        "platform": sys.platform,
        "engine": autograd.implementation,
        "passed": len(stats.get("passed", [])),
        "failed": len(stats.get("failed", [])) + len(stats.get("error", [])),
        "skipped": len(stats.get("skipped", [])),
        "seconds": round(time.monotonic() - config._chainrule_start, 1),
        "cpu_seconds": round(_cpu_seconds(), 1),
        "exitstatus": int(exitstatus),
        "skip_reasons": reasons,
        "failures": [report.nodeid for kind in ("failed", "error")
                     for report in stats.get(kind, [])],
    }
    Path(target).write_text(json.dumps(result, indent=1) + "\n")


def bytes_held_after(make, rounds: int, warmup: int) -> int:
    """Bytes still held after calling ``make`` ``rounds`` more times (after ``warmup`` calls),
    the cycle collector run: what building and dropping a graph leaves behind."""
    import gc
    import tracemalloc

    for _ in range(warmup):
        make()
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            make()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - start
    finally:
        tracemalloc.stop()
