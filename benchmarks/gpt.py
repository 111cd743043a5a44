"""B2's workload: a training step of a tiny character-level transformer in plain scalar arithmetic.

Everything is written with ``+ - * /``, ``** -0.5``, ``exp``, ``log``, ``relu`` and Python's
``sum()`` on whatever ``Value`` class it is given, so the same code runs on chainrule's ``Value``
and on the textbook one in ``benchmarks/reference``: token and position embeddings, RMSNorm,
causal multi-head attention (one position at a time, with a growing key/value cache), a ReLU MLP,
residual connections, a softmax over the vocabulary and the mean ``-log p`` of the next character.

>>> from autograd import Value
>>> config = Config(n_embd=4, n_head=2, block_size=3)
>>> model = GPT(Value, config, init_weights(config))
>>> tokens = encode(CORPUS)[:config.block_size + 1]
>>> round(model.loss(tokens).data, 4)
3.2958
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass
from typing import Any

from benchmarks.data import CORPUS

VOCAB = sorted(set(CORPUS))


def encode(text: str) -> list[int]:
    """Character ids, ``VOCAB``'s order. ``encode("ab") == [1, 2]`` (id 0 is the space)."""
    return [VOCAB.index(ch) for ch in text]


@dataclass(frozen=True)
class Config:
    """The transformer's sizes. The defaults make a step of roughly 60,000 scalar nodes."""

    vocab_size: int = len(VOCAB)
    n_embd: int = 16
    n_head: int = 2
    n_layer: int = 1
    block_size: int = 8

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head


Weights = dict[str, list[list[float]]]


def init_weights(config: Config, seed: int = 3) -> Weights:
    """Every weight matrix as rows of floats, drawn from a seeded Gaussian (std 0.1)."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int) -> list[list[float]]:
        return [[rng.gauss(0.0, 0.1) for _ in range(cols)] for _ in range(rows)]

    n, v = config.n_embd, config.vocab_size
    weights = {"tok": matrix(v, n), "pos": matrix(config.block_size, n), "head": matrix(v, n)}
    for layer in range(config.n_layer):
        for name in ("q", "k", "v", "o"):
            weights[f"{layer}.{name}"] = matrix(n, n)
        weights[f"{layer}.up"] = matrix(4 * n, n)
        weights[f"{layer}.down"] = matrix(n, 4 * n)
    return weights


def linear(W: list[list[Any]], x: list[Any]) -> list[Any]:
    """``W @ x`` the scalar way: one product node per weight, ``sum()`` per row."""
    return [sum(w * xi for w, xi in zip(row, x)) for row in W]


def rmsnorm(x: list[Any]) -> list[Any]:
    """``x / sqrt(mean(x²) + eps)``, with the inverse square root as ``** -0.5``."""
    scale = (sum(xi * xi for xi in x) / len(x) + 1e-5) ** -0.5
    return [xi * scale for xi in x]


def softmax(logits: list[Any]) -> list[Any]:
    """``exp(z_i - max) / Σ exp(z - max)``; the max is a constant, as in every framework."""
    top = max(z.data for z in logits)
    exps = [(z - top).exp() for z in logits]
    total = sum(exps)
    return [e / total for e in exps]


class GPT:
    """The transformer over ``value_class``; ``loss(tokens)`` builds one step's graph."""

    def __init__(self, value_class: type, config: Config, weights: Weights) -> None:
        self.config = config
        self.params = {
            name: [[value_class(w) for w in row] for row in matrix]
            for name, matrix in weights.items()
        }

    def parameters(self) -> list[Any]:
        """Every weight Value, in a fixed order (the order of ``init_weights``)."""
        return [p for matrix in self.params.values() for row in matrix for p in row]

    def _forward(self, token: int, pos: int, cache: list[tuple[list, list]]) -> list[Any]:
        c, P = self.config, self.params
        x = rmsnorm([t + p for t, p in zip(P["tok"][token], P["pos"][pos])])
        for layer in range(c.n_layer):
            keys, values = cache[layer]
            residual = x
            x = rmsnorm(x)
            q = linear(P[f"{layer}.q"], x)
            keys.append(linear(P[f"{layer}.k"], x))
            values.append(linear(P[f"{layer}.v"], x))
            heads = []
            for h in range(c.n_head):
                lo, hi = h * c.head_dim, (h + 1) * c.head_dim
                scores = [
                    sum(qi * ki for qi, ki in zip(q[lo:hi], k[lo:hi])) / c.head_dim**0.5
                    for k in keys
                ]
                weights = softmax(scores)
                heads.extend(
                    sum(a * v[j] for a, v in zip(weights, values)) for j in range(lo, hi)
                )
            x = [a + b for a, b in zip(linear(P[f"{layer}.o"], heads), residual)]
            residual = x
            hidden = [h.relu() for h in linear(P[f"{layer}.up"], rmsnorm(x))]
            x = [a + b for a, b in zip(linear(P[f"{layer}.down"], hidden), residual)]
        return linear(P["head"], x)

    def loss(self, tokens: list[int]) -> Any:
        """Mean ``-log p(next char)`` over ``tokens[:-1]`` (at most ``block_size`` positions)."""
        cache: list[tuple[list, list]] = [([], []) for _ in range(self.config.n_layer)]
        losses = []
        for pos, (token, target) in enumerate(itertools.pairwise(tokens)):
            probs = softmax(self._forward(token, pos, cache))
            losses.append(-probs[target].log())
        return sum(losses) * (1.0 / len(losses))
