"""Notebook 08's timing: micrograd's moons step, eager against ``autograd.compile``'s replay.

The step is benchmark B1's: ``MLP(2, [16, 16, 1])`` on 100 points of the two moons, the hinge
loss plus ``1e-4 * Σ p²``, forward and backward (with ``zero_grad``, without the optimizer's
update). The notebook imports ``time_moons_step`` to time the engine it runs on, and runs this
file in a fresh interpreter to time the other engine (the engine is chosen at import, by
``CHAINRULE_PURE_PYTHON``)::

    python compile_timing.py                            # the compiled core, if it is built
    CHAINRULE_PURE_PYTHON=1 python compile_timing.py    # the pure-Python reference

Run times depend on the machine and on its load: the notebook shows them, never compares them.
"""

from __future__ import annotations

import statistics
import time

import autograd
import nn


def median_seconds(step, repeats: int) -> float:
    """The median run time of ``step()`` over ``repeats`` runs, with the cycle collector paused
    (the graph has no cycles) as the training loops of notebook 03 and ``nn.train`` do."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        with autograd.gc_paused():
            step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_moons_step(repeats: int = 5) -> dict[str, float | str]:
    """The moons step's median time eager and replayed (seconds), and the engine that ran it."""
    X, y = nn.make_moons(100, noise=0.1, seed=0)
    points, labels = X.tolist(), (2 * y - 1).tolist()
    model = nn.MLP(2, [16, 16, 1], seed=0)
    params = model.parameters()

    def loss_fn(points):
        scores = [model(x) for x in points]
        return nn.hinge_loss(scores, labels) + 1e-4 * autograd.dot(params, params)

    compiled = autograd.compile(loss_fn)
    start = time.perf_counter()
    compiled(points)  # the first call records
    recording = time.perf_counter() - start

    def eager_step():
        model.zero_grad()
        loss_fn(points).backward()

    def replayed_step():
        model.zero_grad()
        compiled(points).backward()

    return {"engine": autograd.implementation, "recording": recording,
            "eager": median_seconds(eager_step, repeats),
            "replay": median_seconds(replayed_step, repeats)}


def describe(times: dict[str, float | str]) -> str:
    """One line: the engine, both medians (ms per step), their ratio, and the recording's time."""
    eager, replay = times["eager"], times["replay"]
    return (f"{times['engine']} engine: eager {1e3 * eager:.2f} ms, replayed {1e3 * replay:.3f} ms "
            f"per step: {eager / replay:.1f}x faster (recording: {1e3 * times['recording']:.0f} ms)")


if __name__ == "__main__":
    print(describe(time_moons_step()))
