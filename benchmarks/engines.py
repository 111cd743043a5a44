"""The engines each benchmark compares, each set up to run one training step of its workload.

A ``Step`` splits a training step into the parts the benchmarks time or measure separately:
``forward(k)`` builds step ``k``'s graph and returns the loss, ``backward(loss)`` zeroes the
gradients and backpropagates, ``update(k)`` applies SGD. Every engine of a benchmark starts from
the same weights and the same data (``benchmarks.data``), so they compute the same numbers.

>>> step = b1_step("chainrule-mgstyle", points=4)
>>> step(0) > 0
True
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ContextManager

from benchmarks import data, gpt, mlp


@dataclass
class Step:
    """One training step: ``step(k)`` runs forward, zero_grad + backward, update; returns loss.

    ``scope`` is what the whole step runs inside: chainrule's documented training loop pauses
    the cycle collector for the step (``autograd.gc_paused()``); the others run as they are.
    """

    forward: Callable[[int], Any]
    backward: Callable[[Any], None]
    update: Callable[[int], None]
    parameters: list[Any]
    scope: Callable[[], ContextManager[Any]] = contextlib.nullcontext

    def __call__(self, k: int) -> float:
        with self.scope():
            loss = self.forward(k)
            self.backward(loss)
            self.update(k)
            value = float(loss.data) if not hasattr(loss, "item") else loss.item()
            del loss  # the step's graph is freed here, inside the scope, for every engine
        return value


def _value_step(forward: Callable[[int], Any], parameters: list[Any],
                learning_rate: Callable[[int], float]) -> Step:
    """A Step for micrograd-like engines: ``p.grad = 0.0``, ``loss.backward()``, ``p.data -=``."""

    def backward(loss: Any) -> None:
        for p in parameters:
            p.grad = 0.0
        loss.backward()

    def update(k: int) -> None:
        lr = learning_rate(k)
        for p in parameters:
            p.data -= lr * p.grad

    return Step(forward, backward, update, parameters)


def _demo_learning_rate(k: int) -> float:
    return 1.0 - 0.9 * k / 100  # micrograd's demo schedule


# --- B1: micrograd's moons demo ----------------------------------------------------------------


def _b1_value_class_mlp(value_class: type, X: list, y: list, weights: list) -> Step:
    model = mlp.MLP(value_class, weights)
    parameters = model.parameters()
    return _value_step(lambda k: mlp.moons_loss(model, parameters, value_class, X, y),
                       parameters, _demo_learning_rate)


def _b1_micrograd(X: list, y: list, weights: list) -> Step:
    from micrograd.engine import Value
    from micrograd.nn import MLP

    sizes = [len(layer) for layer in weights]
    model = MLP(len(weights[0][0]) - 1, sizes)
    parameters = model.parameters()
    for p, w in zip(parameters, [w for layer in weights for neuron in layer for w in neuron]):
        p.data = w
    return _value_step(lambda k: mlp.moons_loss(model, parameters, Value, X, y),
                       parameters, _demo_learning_rate)


def _b1_micrograd_style(engine_module: str) -> Callable[[list, list, list], Step]:
    def make(X: list, y: list, weights: list) -> Step:
        import importlib

        value_class = importlib.import_module(engine_module).Value
        return _b1_value_class_mlp(value_class, X, y, weights)

    return make


def _b1_torch(X: list, y: list, weights: list) -> Step:
    import torch

    def scalar(x: float, requires_grad: bool = False) -> Any:
        return torch.tensor(x, dtype=torch.float64, requires_grad=requires_grad)

    # micrograd's MLP with 0-d tensors: the same sum() over products, the same relu per neuron
    layers = [[[scalar(w, True) for w in neuron] for neuron in layer] for layer in weights]
    parameters = [p for layer in layers for neuron in layer for p in neuron]

    def model(x: list) -> Any:
        for i, layer in enumerate(layers):
            acts = [sum((w * xi for w, xi in zip(neuron[:-1], x)), neuron[-1]) for neuron in layer]
            x = [a.relu() for a in acts] if i < len(layers) - 1 else acts
        return x[0]

    def forward(k: int) -> Any:
        inputs = [list(map(scalar, row)) for row in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * score).relu() for yi, score in zip(y, scores)]
        data_loss = sum(losses) * (1.0 / len(losses))
        return data_loss + mlp.ALPHA * sum(p * p for p in parameters)

    def backward(loss: Any) -> None:
        for p in parameters:
            p.grad = None
        loss.backward()

    def update(k: int) -> None:
        lr = _demo_learning_rate(k)
        with torch.no_grad():
            for p in parameters:
                p -= lr * p.grad

    return Step(forward, backward, update, parameters)


def _b1_chainrule_nn(X: list, y: list, weights: list, gc_paused: bool = True) -> Step:
    import autograd
    import nn

    # as a chainrule user writes the demo (README, nn.train): nn.MLP, nn.hinge_loss, Σp² as one
    # dot node, nn.SGD, each step inside autograd.gc_paused(); gc_paused=False shows the cost of
    # leaving the cycle collector on
    model = nn.MLP(len(weights[0][0]) - 1, [len(layer) for layer in weights])
    model.load_state_dict({
        f"layers.{i}.neurons.{j}.{name}": entry
        for i, layer in enumerate(weights) for j, neuron in enumerate(layer)
        for name, entry in (("weight", neuron[:-1]), ("bias", neuron[-1]))
    })
    parameters = model.parameters()
    optimizer = nn.SGD(parameters, lr=1.0)

    def forward(k: int) -> Any:
        data_loss = nn.hinge_loss([model(x) for x in X], y)
        return data_loss + mlp.ALPHA * autograd.dot(parameters, parameters)

    def backward(loss: Any) -> None:
        optimizer.zero_grad()
        loss.backward()

    def update(k: int) -> None:
        optimizer.lr = _demo_learning_rate(k)
        optimizer.step()

    scope = autograd.gc_paused if gc_paused else contextlib.nullcontext
    return Step(forward, backward, update, parameters, scope)


B1_ENGINES: dict[str, Callable[[list, list, list], Step]] = {
    "micrograd": _b1_micrograd,
    "chainrule-nn": _b1_chainrule_nn,
    "chainrule-nn-gc-on": lambda X, y, weights: _b1_chainrule_nn(X, y, weights, gc_paused=False),
    "chainrule-mgstyle": _b1_micrograd_style("autograd"),
    "torch": _b1_torch,
    "micrograd-mgstyle": _b1_micrograd_style("micrograd.engine"),  # sanity check of mlp.MLP
}
"""B1's engines by name, each ``make(X, y, weights) -> Step``."""

B1_REQUIRES = {"micrograd": "micrograd", "torch": "torch", "micrograd-mgstyle": "micrograd"}
"""The optional package each B1 engine needs, if any."""


def b1_step(engine: str, points: int = 100, hidden: tuple[int, ...] = (16, 16)) -> Step:
    """micrograd's moons demo step, ``MLP(2, [*hidden, 1])`` on ``points`` points, on ``engine``."""
    X, y = data.make_moons(points)
    weights = data.mlp_weights(2, [*hidden, 1])
    return B1_ENGINES[engine](X, y, weights)


# --- B2: the tiny transformer ------------------------------------------------------------------

B2_ENGINES = {"chainrule": "autograd", "reference": "benchmarks.reference.value"}
"""B2's engines: the module whose ``Value`` runs ``benchmarks.gpt``."""


def b2_value_class(engine: str) -> type:
    """The ``Value`` class B2 runs on for ``engine`` (``"chainrule"`` or ``"reference"``)."""
    import importlib

    return importlib.import_module(B2_ENGINES[engine]).Value


def b2_step(engine: str, config: gpt.Config | None = None, learning_rate: float = 0.05) -> Step:
    """One SGD step of ``benchmarks.gpt`` on ``engine``; step ``k`` reads the corpus' k-th window.

    >>> tiny = gpt.Config(n_embd=4, n_head=2, block_size=3)
    >>> b2_step("chainrule", tiny)(0) == b2_step("reference", tiny)(0)
    True
    """
    config = config or gpt.Config()
    model = gpt.GPT(b2_value_class(engine), config, gpt.init_weights(config))
    ids = gpt.encode(data.CORPUS)
    span = config.block_size + 1

    def forward(k: int) -> Any:
        start = (k * config.block_size) % (len(ids) - span)
        return model.loss(ids[start:start + span])

    return _value_step(forward, model.parameters(), lambda k: learning_rate)
