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


def make_names(n: int = 1000, seed: int = 42) -> list[str]:
    """``n`` made-up names, lower-case a-z, like the names list microgpt trains on.

    Made here from syllables and a fixed seed (no download). Every letter occurs, so with
    microgpt's beginning-of-sequence token the vocabulary has 27 entries.

    >>> names = make_names()
    >>> names[:4], len(set("".join(names)))
    (['wo', 'ehykrace', 'coqueagros', 'near'], 26)
    """
    rng = random.Random(seed)
    onsets = ["b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "qu", "r", "s", "t",
              "v", "w", "x", "y", "z", "br", "ch", "cl", "dr", "fr", "gr", "kr", "pl", "sh", "st",
              "th", "tr"]
    vowels = ["a", "e", "i", "o", "u", "a", "e", "i", "o", "y", "ai", "ea", "ie", "ou"]
    endings = ["", "", "", "", "n", "l", "r", "s", "x", "th", "nd", "ley", "ette", "ah"]
    names = []
    for _ in range(n):
        parts = [rng.choice(vowels)] if rng.random() < 0.2 else []
        for _ in range(rng.choice((1, 2, 2, 2, 3))):
            parts += [rng.choice(onsets), rng.choice(vowels)]
        names.append(("".join(parts) + rng.choice(endings))[:12])
    return names
