"""The engines the benchmarks compare: one registry that the runner, the worker, the profiler and
the tests all read.

An engine is a scalar type with its own way of making a graph: chainrule's ``Value`` (the active
implementation, or the pure-Python reference forced with ``CHAINRULE_PURE_PYTHON=1``), chainrule
at another git revision (``--baseline REV``), micrograd's ``Value``, microgpt's ``Value``,
PyTorch's 0-d tensors, and plain floats (the floor: no graph at all). Each says which workloads it
can run:

- ``nn``: micrograd's moons demo written with chainrule's ``nn`` (B1);
- ``mgstyle``: the same demo in micrograd's own code, one node per ``+`` and ``*`` (B1);
- ``chain``: ``x = x*a + b`` repeated (B3 depth, B4 memory);
- ``microgpt``: Karpathy's microgpt training step (B5);
- ``numpy``: micrograd's moons demo written by hand in numpy (B1, ``benchmarks.numpy_mlp``).

- ``gpt``: ``chainrule-gpt``'s training on the census names (B6, ``benchmarks.gpt_training``).

The ``-compile`` engines run the same code through ``autograd.compile``: recorded once, replayed.

>>> sorted(REGISTRY["micrograd"].workloads)
['chain', 'mgstyle']
>>> [engine.name for engine in runnable("microgpt")]
['chainrule', 'chainrule-python', 'microgpt', 'floats']
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

CHAINRULE = frozenset({"nn", "mgstyle", "chain", "microgpt"})
WORKLOADS = ("nn", "mgstyle", "chain", "microgpt", "numpy", "gpt")


@dataclass(frozen=True)
class Engine:
    """One engine: where its scalar type lives, what it can run and how its worker is set up.

    ``value`` is ``"module:name"`` of the callable that makes a scalar from a float (a ``Value``
    class, or a factory; numpy's ``float64`` for the hand-written numpy step, which has no
    graph). ``env`` is added to the worker's environment and ``path`` put first on
    its ``sys.path``, both before anything imports the engine (see ``activate``).
    ``recursive_sort``: its ``backward`` sorts the graph recursively, so B3 shows it failing at
    a depth of 1,000 steps instead of timing the full chain. ``grad_reset`` is what
    ``p.grad`` is set to before a backward pass (PyTorch wants ``None``). ``replay``: the
    step's forward goes through ``autograd.compile`` (recorded at the warm-up step, replayed
    at the timed ones).
    """

    name: str
    label: str
    value: str
    workloads: frozenset[str]
    requires: str = ""
    env: Mapping[str, str] = field(default_factory=dict)
    path: str = ""
    recursive_sort: bool = False
    grad_reset: float | None = 0.0
    replay: bool = False

    def value_class(self) -> Any:
        """Import and return the engine's scalar maker (``autograd.Value`` for chainrule).

        >>> REGISTRY["microgpt"].value_class().__name__
        'Value'
        """
        module, name = self.value.split(":")
        return getattr(importlib.import_module(module), name)

    def missing(self) -> str | None:
        """Why this engine cannot run here (its optional package is missing), or None.

        >>> REGISTRY["chainrule"].missing() is None
        True
        """
        if self.requires and importlib.util.find_spec(self.requires) is None:
            extra = "bench-torch" if self.requires == "torch" else "bench"
            return f"{self.requires} is not installed (pip install 'chainrule[{extra}]')"
        return None


def torch_scalar(x: float) -> Any:
    """A 0-d float64 tensor that requires grad: PyTorch's counterpart of ``Value(x)``."""
    import torch

    return torch.tensor(float(x), dtype=torch.float64, requires_grad=True)


REGISTRY: dict[str, Engine] = {engine.name: engine for engine in [
    Engine("chainrule", "chainrule", "autograd:Value", CHAINRULE | {"gpt"}),
    Engine("chainrule-python", "chainrule, pure Python (`CHAINRULE_PURE_PYTHON=1`)",
           "autograd:Value", CHAINRULE, env={"CHAINRULE_PURE_PYTHON": "1"}),
    Engine("chainrule-compile", "chainrule + `autograd.compile`", "autograd:Value",
           frozenset({"nn", "mgstyle", "gpt"}), replay=True),
    Engine("chainrule-python-compile",
           "chainrule + `autograd.compile`, pure Python (`CHAINRULE_PURE_PYTHON=1`)",
           "autograd:Value", frozenset({"nn", "mgstyle"}), env={"CHAINRULE_PURE_PYTHON": "1"},
           replay=True),
    Engine("micrograd", "micrograd 0.1.0", "micrograd.engine:Value",
           frozenset({"mgstyle", "chain"}), requires="micrograd", recursive_sort=True),
    Engine("microgpt", "microgpt's `Value`", "benchmarks.reference.microgpt:Value",
           frozenset({"microgpt", "chain"}), recursive_sort=True),
    Engine("torch", "PyTorch, 0-d tensors", "benchmarks.engines:torch_scalar",
           frozenset({"mgstyle"}), requires="torch", grad_reset=None),
    Engine("floats", "plain floats, forward only (the floor)", "builtins:float",
           frozenset({"microgpt"})),
    Engine("numpy", "numpy, written by hand (batched matmuls, manual backward)",
           "numpy:float64", frozenset({"numpy"}), requires="numpy"),
]}
"""Every engine by name; ``with_baseline`` adds chainrule at another revision as ``baseline``."""


def with_baseline(registry: Mapping[str, Engine], revision: str, path: str) -> dict[str, Engine]:
    """``registry`` plus ``baseline``: chainrule's pure-Python engine as checked out in ``path``.

    >>> with_baseline(REGISTRY, "aa0a218", "/tmp/tree")["baseline"].label
    'chainrule at aa0a218, pure Python'
    """
    baseline = replace(registry["chainrule-python"], name="baseline", path=path,
                       label=f"chainrule at {revision}, pure Python")
    return {**registry, "baseline": baseline}


def runnable(workload: str, registry: Mapping[str, Engine] = REGISTRY,
             names: Iterable[str] | None = None) -> list[Engine]:
    """The engines of ``registry`` (limited to ``names``) that run ``workload``, in order."""
    if workload not in WORKLOADS:
        raise ValueError(f"unknown workload {workload!r}; the workloads are {', '.join(WORKLOADS)}")
    wanted = set(registry) if names is None else set(names)
    return [e for e in registry.values() if workload in e.workloads and e.name in wanted]


def activate(engine: Engine) -> None:
    """Set this process up for ``engine``: its environment variables and its ``sys.path`` entry.

    Must run before chainrule is imported, since ``CHAINRULE_PURE_PYTHON`` is read at import.
    """
    if (engine.env or engine.path) and "autograd" in sys.modules:
        raise RuntimeError(f"engine {engine.name!r} must be activated before autograd is imported")
    os.environ.update(engine.env)
    if engine.path:
        sys.path.insert(0, engine.path)
