"""The benchmarks' inputs, made from fixed seeds so every engine sees exactly the same numbers."""

from __future__ import annotations

import itertools
import random


def make_moons(n: int = 100, noise: float = 0.1,
               seed: int = 1) -> tuple[list[list[float]], list[float]]:
    """``n`` points of ``nn.make_moons`` and their labels in {-1, +1}, as plain Python floats.

    Plain floats, so no engine ever meets a numpy scalar.

    >>> X, y = make_moons(6)
    >>> len(X), len(X[0]), sorted(set(y))
    (6, 2, [-1.0, 1.0])
    """
    from nn import make_moons as moons

    X, y = moons(n, noise=noise, seed=seed)
    return X.tolist(), (2.0 * y - 1.0).tolist()


def mlp_weights(nin: int, nouts: list[int], seed: int = 2) -> list[list[list[float]]]:
    """Initial weights for ``MLP(nin, nouts)``: per layer, per neuron, ``[w_1, ..., w_nin, b]``.

    Weights are uniform in [-1, 1] and biases 0, as micrograd initialises them.

    >>> [[len(neuron) for neuron in layer] for layer in mlp_weights(2, [3, 1])]
    [[3, 3, 3], [4]]
    """
    rng = random.Random(seed)
    sizes = [nin, *nouts]
    return [
        [[rng.uniform(-1.0, 1.0) for _ in range(fan_in)] + [0.0] for _ in range(fan_out)]
        for fan_in, fan_out in itertools.pairwise(sizes)
    ]


# Written for this suite (no download); it uses every letter, so with the space the vocabulary is
# 27 characters, like a names data set.
CORPUS = (
    "the quick brown fox jumps over the lazy dog while a small gradient flows back through "
    "every node of the graph and each weight learns a little from the loss so we keep "
    "training the tiny model on plain text until it can guess the next character of a "
    "word just well enough to show the engine at work with exp and log and division"
)
