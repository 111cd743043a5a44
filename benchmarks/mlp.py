"""B1's workload in micrograd's own code: its moons demo, written once for any scalar type.

``MLP`` and ``moons_loss`` below are micrograd's ``MLP`` and demo loss written out again: one node
per ``+`` and ``*``, Python's ``sum()`` over the products, ``.relu()`` on hidden neurons, the
hinge loss as micrograd's demo spells it. They take the scalar type as an argument (a ``Value``
class, or a factory such as PyTorch's 0-d tensors), so every engine runs the very same code. On
``micrograd.engine.Value`` they compute exactly what ``micrograd.nn.MLP`` does (the tests check).

>>> from autograd import Value
>>> X, y = [[0.5, -1.0], [1.0, 0.5]], [1.0, -1.0]
>>> model = MLP(Value, [[[0.1, 0.2, 0.0]], [[0.3, 0.0]]])
>>> round(moons_loss(model, model.parameters(), Value, X, y).data, 6)
1.030014
"""

from __future__ import annotations

from typing import Any, Callable

ALPHA = 1e-4  # the demo's L2 weight


class Neuron:
    """``relu(Σ w_i x_i + b)`` (or without relu for the output), one Value per weight."""

    def __init__(self, value_class: type, weights: list[float], nonlin: bool = True) -> None:
        self.w = [value_class(w) for w in weights[:-1]]
        self.b = value_class(weights[-1])
        self.nonlin = nonlin

    def __call__(self, x: list[Any]) -> Any:
        act = sum((wi * xi for wi, xi in zip(self.w, x)), self.b)
        return act.relu() if self.nonlin else act

    def parameters(self) -> list[Any]:
        return [*self.w, self.b]


class MLP:
    """micrograd's ``MLP`` over ``value_class``; ``weights`` as ``data.mlp_weights`` makes them.

    >>> from benchmarks.data import mlp_weights
    >>> from autograd import Value
    >>> len(MLP(Value, mlp_weights(2, [16, 16, 1])).parameters())
    337
    """

    def __init__(self, value_class: type, weights: list[list[list[float]]]) -> None:
        last = len(weights) - 1
        self.layers = [
            [Neuron(value_class, neuron, nonlin=i != last) for neuron in layer]
            for i, layer in enumerate(weights)
        ]
        self.value_class = value_class

    def __call__(self, x: list[Any]) -> Any:
        for layer in self.layers:
            x = [neuron(x) for neuron in layer]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Any]:
        return [p for layer in self.layers for neuron in layer for p in neuron.parameters()]


def moons_loss(model: Callable, parameters: list[Any], value_class: type,
               X: list[list[float]], y: list[float]) -> Any:
    """The demo's loss, as micrograd writes it: mean ``relu(1 - y·score)`` + ``1e-4 · Σ p²``."""
    inputs = [list(map(value_class, row)) for row in X]
    scores = list(map(model, inputs))
    losses = [(1 + -yi * score).relu() for yi, score in zip(y, scores)]
    data_loss = sum(losses) * (1.0 / len(losses))
    reg_loss = ALPHA * sum(p * p for p in parameters)
    return data_loss + reg_loss
