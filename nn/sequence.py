"""Pieces for sequence models over lists of scalar ``Value``s: what a small GPT is made of.

A vector is a Python list of Values; a sequence is processed one position at a time, as
microgpt does it: ``CausalSelfAttention`` appends each position's key and value to a
``KVCache`` and attends over the positions cached so far, so the model never sees the future
and nothing is recomputed for earlier positions.

The names and meanings are PyTorch's (``Embedding(num_embeddings, embedding_dim)``,
``Linear(in_features, out_features, bias)``, ``RMSNorm``/``LayerNorm`` with
``elementwise_affine``); each forward builds few nodes by using the fused ops
(``autograd.dot``, ``autograd.linear``, ``autograd.softmax``). Weights are drawn from
``random.Random(seed)``, never the global generator, as for ``nn.MLP``.

>>> emb, attn = Embedding(5, 4, seed=0), CausalSelfAttention(4, 2, seed=0)
>>> cache = KVCache()
>>> outputs = [attn(emb(token), cache) for token in [1, 3, 2]]
>>> len(outputs), len(outputs[-1]), len(cache)
(3, 4, 3)
"""

from __future__ import annotations

import math
import numbers
import random
from collections.abc import Sequence

import autograd
from autograd import Value
from nn.module import Module, Number, check_parameter_count
from nn.validation import check_int, check_number, check_sample, describe, make_rng


def _gauss_matrix(rows: int, cols: int, std: float, rng: random.Random) -> list[list[Value]]:
    return [[Value(rng.gauss(0.0, std)) for _ in range(cols)] for _ in range(rows)]


def _std(owner: str, std: object) -> float:
    return check_number(owner, "std", std)


def _eps(owner: str, eps: object) -> float:
    return check_number(owner, "eps", eps, positive=True)


class Embedding(Module):
    """A table of ``num_embeddings`` vectors of size ``embedding_dim``; ``emb(i)`` is row ``i``.

    As ``torch.nn.Embedding``: the weights are drawn from N(0, ``std``²), ``std`` = 1 unless
    given (GPTs use small ones, microgpt 0.08). The row comes back as a new list holding the
    parameters themselves, so gradients flow into the table.

    >>> emb = Embedding(3, 2, seed=0)
    >>> len(emb(2)), emb(2)[0] is emb.weight[2][0]
    (2, True)
    >>> [name for name, _ in emb.named_parameters()][:3]
    ['weight.0.0', 'weight.0.1', 'weight.1.0']
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, *, std: float = 1.0,
                 seed: int | random.Random | None = None) -> None:
        self.num_embeddings = check_int("Embedding", "num_embeddings", num_embeddings)
        self.embedding_dim = check_int("Embedding", "embedding_dim", embedding_dim)
        check_parameter_count(f"Embedding({num_embeddings}, {embedding_dim})",
                               self.num_embeddings * self.embedding_dim)
        self.weight = _gauss_matrix(self.num_embeddings, self.embedding_dim,
                                    _std("Embedding", std), make_rng(seed))

    def forward(self, index: int | Value) -> list[Value]:
        """Row ``index`` of the table (an int from 0 to ``num_embeddings - 1``).

        An int gives the row's parameters themselves. A ``Value`` holding the index (as the
        arguments of a function compiled by ``autograd.compile`` are) gives one
        ``autograd.take`` node per element, so a recording replays with another index: the
        same numbers, and the same gradients up to the order their sums are rounded in (bit
        for bit when each element picked is used once, as ``nn.gpt.GPT`` uses its rows).

        >>> emb = Embedding(3, 2, seed=0)
        >>> [v.data for v in emb(Value(1))] == [v.data for v in emb(1)]
        True
        >>> emb(3)
        Traceback (most recent call last):
        ...
        IndexError: Embedding(3, 2): index 3 is out of range (0 to 2)
        """
        if isinstance(index, Value):
            return [autograd.take(column, index) for column in zip(*self.weight)]
        if isinstance(index, bool) or not isinstance(index, numbers.Integral):
            raise TypeError(f"{self!r} takes one index (an int), got {describe(index)}")
        if not 0 <= index < self.num_embeddings:
            raise IndexError(f"{self!r}: index {index} is out of range "
                             f"(0 to {self.num_embeddings - 1})")
        return list(self.weight[index])

    def __repr__(self) -> str:
        return f"Embedding({self.num_embeddings}, {self.embedding_dim})"


class Linear(Module):
    """``y = W x + b``, no activation: ``out_features`` outputs, one node each.

    As ``torch.nn.Linear``, the weights (and bias) are uniform in ±1/√in_features unless
    ``std`` is given (then N(0, std²) weights and a zero bias). The output is always a list.

    >>> layer = Linear(3, 2, seed=0)
    >>> [v.op for v in layer([1.0, 2.0, 3.0])], len(layer.parameters())
    (['affine', 'affine'], 8)
    >>> [v.op for v in Linear(3, 2, bias=False, seed=0)([1.0, 2.0, 3.0])]
    ['dot', 'dot']
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *,
                 std: float | None = None, seed: int | random.Random | None = None) -> None:
        self.in_features = check_int("Linear", "in_features", in_features)
        self.out_features = check_int("Linear", "out_features", out_features)
        check_parameter_count(f"Linear({in_features}, {out_features})",
                               (self.in_features + bool(bias)) * self.out_features)
        rng = make_rng(seed)
        if std is None:
            bound = 1.0 / math.sqrt(self.in_features)
            self.weight = [[Value(rng.uniform(-bound, bound)) for _ in range(self.in_features)]
                           for _ in range(self.out_features)]
            biases = [Value(rng.uniform(-bound, bound)) for _ in range(self.out_features)]
        else:
            self.weight = _gauss_matrix(self.out_features, self.in_features,
                                        _std("Linear", std), rng)
            biases = [Value(0.0) for _ in range(self.out_features)]
        self.bias = biases if bias else None

    def forward(self, x: Sequence[Value | Number]) -> list[Value]:
        """``W x + b`` for one vector ``x`` of ``in_features`` numbers or Values.

        >>> Linear(2, 1, seed=0)([1.0])
        Traceback (most recent call last):
        ...
        ValueError: Linear takes 2 input(s), got 1
        """
        x = check_sample(type(self).__name__, x, self.in_features)
        if self.bias is None:
            return [autograd.dot(row, x) for row in self.weight]
        return autograd.linear(x, self.weight, self.bias)

    def __repr__(self) -> str:
        return (f"Linear({self.in_features}, {self.out_features}"
                f"{'' if self.bias is not None else ', bias=False'})")


class RMSNorm(Module):
    """``x / sqrt(mean(x²) + eps)``, times a learned ``weight`` (ones at first) per element.

    As ``torch.nn.RMSNorm(normalized_shape, eps, elementwise_affine)`` over one dimension: a
    vector of ``normalized_shape`` elements. ``eps`` defaults to microgpt's 1e-5 (PyTorch's
    default is the float type's machine epsilon). With ``elementwise_affine=False`` it has no
    parameters, as in microgpt.

    >>> [round(v.data, 4) for v in RMSNorm(2)([Value(3.0), Value(-4.0)])]
    [0.8485, -1.1314]
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5,
                 elementwise_affine: bool = True) -> None:
        self.normalized_shape = check_int("RMSNorm", "normalized_shape", normalized_shape)
        self.eps = _eps("RMSNorm", eps)
        self.weight = ([Value(1.0) for _ in range(self.normalized_shape)]
                       if elementwise_affine else None)

    def forward(self, x: Sequence[Value | Number]) -> list[Value]:
        """``x`` normalised to a root mean square of 1 (then scaled by ``weight``).

        >>> len(RMSNorm(3, elementwise_affine=False)([1.0, 2.0, 3.0]))
        3
        """
        x = _lift(check_sample(type(self).__name__, x, self.normalized_shape))
        scale = (autograd.dot(x, x) * (1.0 / self.normalized_shape) + self.eps) ** -0.5
        if self.weight is None:
            return [xi * scale for xi in x]
        return [xi * scale * w for xi, w in zip(x, self.weight)]

    def __repr__(self) -> str:
        return (f"RMSNorm({self.normalized_shape}, eps={self.eps:g}"
                f"{'' if self.weight is not None else ', elementwise_affine=False'})")


class LayerNorm(Module):
    """``(x - mean(x)) / sqrt(var(x) + eps) * weight + bias``, over a vector's elements.

    As ``torch.nn.LayerNorm(normalized_shape, eps, elementwise_affine, bias)`` over one
    dimension (``normalized_shape`` elements): the variance is the biased one (divided by
    ``normalized_shape``), ``weight`` starts at ones and ``bias`` at zeros.

    >>> [round(v.data, 4) for v in LayerNorm(2)([Value(1.0), Value(3.0)])]
    [-1.0, 1.0]
    """

    def __init__(self, normalized_shape: int, eps: float = 1e-5, elementwise_affine: bool = True,
                 bias: bool = True) -> None:
        n = self.normalized_shape = check_int("LayerNorm", "normalized_shape", normalized_shape)
        self.eps = _eps("LayerNorm", eps)
        self.weight = [Value(1.0) for _ in range(n)] if elementwise_affine else None
        self.bias = [Value(0.0) for _ in range(n)] if elementwise_affine and bias else None

    def forward(self, x: Sequence[Value | Number]) -> list[Value]:
        """``x`` centred and scaled to unit variance (then ``* weight + bias``).

        >>> len(LayerNorm(3)([1.0, 2.0, 4.0]))
        3
        """
        x = _lift(check_sample(type(self).__name__, x, self.normalized_shape))
        mean = autograd.sum(x) * (1.0 / self.normalized_shape)
        centred = [xi - mean for xi in x]
        scale = (autograd.dot(centred, centred) * (1.0 / self.normalized_shape)
                 + self.eps) ** -0.5
        out = [c * scale for c in centred]
        if self.weight is not None:
            out = [o * w for o, w in zip(out, self.weight)]
        if self.bias is not None:
            out = [o + b for o, b in zip(out, self.bias)]
        return out

    def __repr__(self) -> str:
        left_out = (", elementwise_affine=False" if self.weight is None
                    else ", bias=False" if self.bias is None else "")
        return f"LayerNorm({self.normalized_shape}, eps={self.eps:g}{left_out})"


class KVCache:
    """The keys and values of the positions a ``CausalSelfAttention`` has seen, one per position.

    Start a new one for every sequence (with one per attention layer).

    >>> cache = KVCache(); len(cache), cache.keys
    (0, [])
    """

    __slots__ = ("keys", "values")

    def __init__(self) -> None:
        self.keys: list[list[Value]] = []
        self.values: list[list[Value]] = []

    def __len__(self) -> int:
        return len(self.keys)

    def __repr__(self) -> str:
        return f"KVCache({len(self)} positions)"


class CausalSelfAttention(Module):
    """Multi-head self-attention over a sequence given one position at a time.

    ``attn(x, cache)`` takes the vector ``x`` (``n_embd`` numbers) of the next position,
    appends its key and value to ``cache``, and returns ``out_proj`` of the heads' outputs: for
    each of the ``n_head`` heads, the average of the cached values weighted by
    ``softmax(q · k / sqrt(head_dim))`` over the cached keys. Causal by construction: position
    ``t`` sees positions 0 to ``t``, all of them already in the cache.

    The projections ``q_proj``, ``k_proj``, ``v_proj`` and ``out_proj`` are ``Linear(n_embd,
    n_embd, bias)``; ``std`` is passed to them (default: PyTorch's uniform initialisation).

    >>> attn, cache = CausalSelfAttention(4, n_head=2, seed=0), KVCache()
    >>> first = attn([1.0, 0.0, 0.0, 0.0], cache)
    >>> second = attn([0.0, 1.0, 0.0, 0.0], cache)
    >>> len(second), len(cache)
    (4, 2)
    """

    def __init__(self, n_embd: int, n_head: int, bias: bool = False, *,
                 std: float | None = None, seed: int | random.Random | None = None) -> None:
        self.n_embd = check_int("CausalSelfAttention", "n_embd", n_embd)
        self.n_head = check_int("CausalSelfAttention", "n_head", n_head)
        if self.n_embd % self.n_head:
            raise ValueError(f"CausalSelfAttention: n_embd ({n_embd}) must be divisible by "
                             f"n_head ({n_head}); each head gets n_embd // n_head elements")
        self.head_dim = self.n_embd // self.n_head
        rng = make_rng(seed)
        self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
            Linear(self.n_embd, self.n_embd, bias, std=std, seed=rng) for _ in range(4))

    def forward(self, x: Sequence[Value | Number], cache: KVCache) -> list[Value]:
        """The attention output at the position of ``x``; its key and value join ``cache``.

        >>> CausalSelfAttention(2, 1, seed=0)([1.0, 2.0], cache=[])
        Traceback (most recent call last):
        ...
        TypeError: CausalSelfAttention: cache must be a KVCache (one per sequence), got a list of 0
        """
        if not isinstance(cache, KVCache):
            raise TypeError(f"CausalSelfAttention: cache must be a KVCache (one per sequence), "
                            f"got {describe(cache)}")
        x = _lift(check_sample(type(self).__name__, x, self.n_embd))
        q, k, v = self.q_proj(x), self.k_proj(x), self.v_proj(x)
        cache.keys.append(k)
        cache.values.append(v)
        scale = 1.0 / math.sqrt(self.head_dim)
        heads: list[Value] = []
        for start in range(0, self.n_embd, self.head_dim):
            end = start + self.head_dim
            q_h = q[start:end]
            logits = [autograd.dot(q_h, k_t[start:end]) * scale for k_t in cache.keys]
            weights = autograd.softmax(logits)
            heads.extend(autograd.dot(weights, [v_t[j] for v_t in cache.values])
                         for j in range(start, end))
        return self.out_proj(heads)

    def __repr__(self) -> str:
        return f"CausalSelfAttention({self.n_embd}, n_head={self.n_head})"


def sample_from_logits(logits: Sequence[Value | Number], temperature: float = 1.0,
                       rng: random.Random | int | None = None) -> int:
    """Draw a class index with probabilities ``softmax(logits / temperature)``.

    ``temperature`` > 0: below 1 sharpens the distribution (towards the most likely index),
    above 1 flattens it. ``rng`` is a ``random.Random`` (or a seed for one); one number is
    drawn from it per call. No graph is built.

    >>> sample_from_logits([0.0, 10.0, 0.0], temperature=0.5, rng=0)
    1
    >>> sample_from_logits([0.0, 1.0], temperature=0)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: sample_from_logits: temperature must be a finite number > 0, got 0 ...
    """
    temperature = check_number(
        "sample_from_logits", "temperature", temperature, positive=True,
        hint=" (for the most likely index, use max(range(len(logits)), key=...))")
    if isinstance(logits, (Value, numbers.Number, str)) or not isinstance(logits, Sequence):
        raise TypeError(f"sample_from_logits: logits must be a list of numbers or Values, got "
                        f"{describe(logits)}")
    if not logits:
        raise ValueError("sample_from_logits: logits are empty")
    for i, z in enumerate(logits):
        if isinstance(z, bool) or not isinstance(z, (Value, numbers.Real)):
            raise TypeError(f"sample_from_logits: logits must be numbers or Values; logit {i} "
                            f"is {describe(z)}")
    scores = [z.data if isinstance(z, Value) else float(z) for z in logits]
    if not all(map(math.isfinite, scores)):
        raise ValueError(f"sample_from_logits: logits must be finite, got {scores}")
    top = max(scores)
    weights = [math.exp((s - top) / temperature) for s in scores]  # the top one's is 1
    return make_rng(rng).choices(range(len(weights)), weights)[0]


def _lift(x: Sequence[Value | Number]) -> list[Value]:
    """Numbers as constant leaves, once, so several nodes can share them."""
    return [xi if isinstance(xi, Value) else Value(xi) for xi in x]
