"""One training step of each workload on each engine of ``benchmarks.engines``.

A ``Step`` splits a training step into the parts the benchmarks time or measure separately:
``forward(k)`` builds step ``k``'s graph and returns the loss, ``backward(loss)`` zeroes the
gradients and backpropagates, ``update(k)`` changes the weights. Every engine of a workload
starts from the same weights and the same data (``benchmarks.data``), so they compute the same
losses.

>>> from benchmarks.engines import REGISTRY
>>> step = make("mgstyle", REGISTRY["chainrule"], points=4)
>>> step(0) > 0
True
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from benchmarks import data, gpt, mlp, numpy_mlp
from benchmarks.engines import Engine


def _nothing(*arguments: Any) -> None:
    return None


@dataclass
class Step:
    """One training step: ``step(k)`` runs forward, backward, update and returns the loss.

    ``scope`` is what the whole step runs inside: chainrule's documented training loop pauses
    the cycle collector for the step (``autograd.gc_paused()``); the others run as they are.
    ``item`` reads the loss as a float.
    """

    forward: Callable[[int], Any]
    backward: Callable[[Any], None] = _nothing
    update: Callable[[int], None] = _nothing
    scope: Callable[[], ContextManager[Any]] = contextlib.nullcontext
    item: Callable[[Any], float] = lambda loss: float(loss.data)

    def __call__(self, k: int) -> float:
        with self.scope():
            loss = self.forward(k)
            self.backward(loss)
            self.update(k)
            value = self.item(loss)
            del loss  # the step's graph is freed here, inside the scope, for every engine
        return value


def _demo_learning_rate(k: int) -> float:
    return 1.0 - 0.9 * k / 100  # micrograd's demo schedule


def _mgstyle(engine: Engine, X: list, y: list, weights: list) -> Step:
    """micrograd's demo in micrograd's code (``benchmarks.mlp``) on the engine's scalars."""
    make = engine.value_class()
    model = mlp.MLP(make, weights)
    parameters = model.parameters()

    def backward(loss: Any) -> None:
        for p in parameters:
            p.grad = engine.grad_reset
        loss.backward()

    def update(k: int) -> None:
        lr = _demo_learning_rate(k)
        for p in parameters:
            p.data -= lr * p.grad

    def forward() -> Any:
        return mlp.moons_loss(model, parameters, make, X, y)

    if engine.replay:  # the same code, recorded once and replayed (X and y: constants)
        import autograd

        forward = autograd.compile(forward)
    return Step(lambda k: forward(), backward, update)


def _nn(engine: Engine, X: list, y: list, weights: list) -> Step:
    """micrograd's demo as a chainrule user writes it (README, ``nn.train``).

    ``nn.MLP``, ``nn.hinge_loss``, Σp² as one dot node, ``nn.SGD``, each step inside
    ``autograd.gc_paused()``; on a ``replay`` engine the loss through ``autograd.compile``.
    """
    import autograd
    import nn

    model = nn.MLP(len(weights[0][0]) - 1, [len(layer) for layer in weights])
    parameters = model.parameters()
    flat = [w for layer in weights for neuron in layer for w in neuron]
    if len(flat) != len(parameters):
        raise RuntimeError(f"nn.MLP has {len(parameters)} parameters, the weights {len(flat)}")
    for p, w in zip(parameters, flat):  # per neuron: its weights, then its bias
        p.data = w
    optimizer = nn.SGD(parameters, lr=1.0)

    def loss(X: list, y: list) -> Any:
        data_loss = nn.hinge_loss([model(x) for x in X], y)
        return data_loss + mlp.ALPHA * autograd.dot(parameters, parameters)

    if engine.replay:  # as issue 19 writes it: the points are the arguments of the replay
        loss = autograd.compile(loss)

    def forward(k: int) -> Any:
        return loss(X, y)

    def backward(loss: Any) -> None:
        optimizer.zero_grad()
        loss.backward()

    def update(k: int) -> None:
        optimizer.lr = _demo_learning_rate(k)
        optimizer.step()

    return Step(forward, backward, update, scope=autograd.gc_paused)


def _numpy(engine: Engine, X: list, y: list, weights: list) -> Step:
    """The demo written by hand in numpy (``benchmarks.numpy_mlp``): the points made into arrays
    once, then each step batched matmuls, the backward pass by hand, SGD on one flat vector."""
    import numpy as np

    net = numpy_mlp.NumpyMLP(weights)
    X_array, y_array = np.array(X), np.array(y)

    def update(k: int) -> None:
        net.sgd(_demo_learning_rate(k))

    return Step(lambda k: net.loss(X_array, y_array), lambda loss: net.backward(), update,
                item=float)


def _microgpt(engine: Engine) -> Step:
    """microgpt's training step: the loss of one name, ``loss.backward()``, Adam."""
    if engine.name == "floats":
        model = gpt.MicroGPT(gpt.FLOATS, data.make_names())
        return Step(model.loss, item=float)  # forward only: there is no graph to go back through
    model = gpt.MicroGPT(gpt.values(engine.value_class()), data.make_names())
    return Step(model.loss, lambda loss: loss.backward(), model.adam)


def make(workload: str, engine: Engine, points: int = 100,
         hidden: tuple[int, ...] = (16, 16)) -> Step:
    """``workload``'s step on ``engine``: ``nn``/``mgstyle``/``numpy`` (B1, ``MLP(2, [*hidden, 1])``
    on ``points`` moons), or ``microgpt`` (B5). The chain of B3/B4 is ``chain`` below."""
    if workload not in engine.workloads:
        raise ValueError(f"engine {engine.name!r} does not run {workload!r}; it runs "
                         f"{', '.join(sorted(engine.workloads))}")
    if workload == "microgpt":
        return _microgpt(engine)
    if workload == "chain":
        raise ValueError("the chain is no training step: build it with benchmarks.steps.chain")
    X, y = data.make_moons(points)
    weights = data.mlp_weights(2, [*hidden, 1])
    return {"nn": _nn, "mgstyle": _mgstyle, "numpy": _numpy}[workload](engine, X, y, weights)


def chain(make_scalar: Callable[[float], Any], n: int) -> tuple[Any, Any, Any]:
    """``(x, a, b)`` after ``x = x*a + b`` ``n`` times from ``x = 1``: 2n op nodes, 3 leaves.

    >>> from autograd import Value
    >>> x, a, b = chain(Value, 3)
    >>> round(x.data, 6)
    1.0
    """
    a, b, x = make_scalar(0.999999), make_scalar(1e-6), make_scalar(1.0)
    for _ in range(n):
        x = x * a + b
    return x, a, b
