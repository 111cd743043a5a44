"""B5's workload: Karpathy's microgpt (2026) — its model and training step, on any scalar type.

The model, line for line as microgpt writes it: a character-level GPT with token and position
embeddings, RMSNorm, one layer of causal multi-head attention that runs one position at a time
over a growing key/value cache, a ReLU MLP, residual connections, and the mean ``-log p`` of the
next character; then Adam. Everything is ``+ - * / **``, ``exp``, ``log``, ``relu`` and Python's
``sum()`` on single scalars. Sizes are microgpt's: vocabulary 27, ``n_embd`` 16, 4 heads, 1
layer, block 16 — 4,192 parameters.

The one liberty: ``exp``, ``log`` and ``relu`` are called through ``Scalars`` (``s.exp(z)``
where microgpt writes ``z.exp()``), so the very same code also runs on plain floats, the floor
that shows what the arithmetic alone costs.

>>> from benchmarks.data import make_names
>>> from benchmarks.reference.microgpt import Value
>>> model = MicroGPT(values(Value), make_names())
>>> len(model.params)
4192
>>> round(model.loss(0).data, 6)
3.561733
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Callable

N_EMBD, N_HEAD, N_LAYER, BLOCK_SIZE = 16, 4, 1, 16
HEAD_DIM = N_EMBD // N_HEAD
LEARNING_RATE, BETA1, BETA2, EPS_ADAM = 0.01, 0.85, 0.99, 1e-8
NUM_STEPS = 1000  # microgpt's run length, which sets its learning-rate decay


@dataclass(frozen=True)
class Scalars:
    """The number type the model runs on: make one from a float, read its float, three functions.

    >>> FLOATS.exp(0.0), FLOATS.relu(-2.0)
    (1.0, 0.0)
    """

    make: Callable[[float], Any]
    data: Callable[[Any], float]
    exp: Callable[[Any], Any]
    log: Callable[[Any], Any]
    relu: Callable[[Any], Any]


def values(value_class: Any) -> Scalars:
    """``Scalars`` of a micrograd-like ``Value`` class: its constructor, ``.data`` and methods."""
    return Scalars(value_class, attrgetter("data"), value_class.exp, value_class.log,
                   value_class.relu)


FLOATS = Scalars(float, float, math.exp, math.log, lambda x: max(0.0, x))
"""Plain floats: the same arithmetic with no graph."""


class MicroGPT:
    """microgpt's model, its Adam state and its training data (``docs``, one name each).

    ``loss(step)`` builds the graph of training step ``step`` (document ``step % len(docs)``);
    ``adam(step)`` is microgpt's update, which also zeroes the gradients.
    """

    def __init__(self, s: Scalars, docs: list[str], seed: int = 42) -> None:
        self.s, self.docs = s, docs
        self.uchars = sorted(set("".join(docs)))
        self.bos = len(self.uchars)
        vocab_size = len(self.uchars) + 1
        rng = random.Random(seed)

        def matrix(nout: int, nin: int, std: float = 0.08) -> list[list[Any]]:
            return [[s.make(rng.gauss(0, std)) for _ in range(nin)] for _ in range(nout)]

        self.state_dict = {"wte": matrix(vocab_size, N_EMBD), "wpe": matrix(BLOCK_SIZE, N_EMBD),
                           "lm_head": matrix(vocab_size, N_EMBD)}
        for i in range(N_LAYER):
            self.state_dict[f"layer{i}.attn_wq"] = matrix(N_EMBD, N_EMBD)
            self.state_dict[f"layer{i}.attn_wk"] = matrix(N_EMBD, N_EMBD)
            self.state_dict[f"layer{i}.attn_wv"] = matrix(N_EMBD, N_EMBD)
            self.state_dict[f"layer{i}.attn_wo"] = matrix(N_EMBD, N_EMBD)
            self.state_dict[f"layer{i}.mlp_fc1"] = matrix(4 * N_EMBD, N_EMBD)
            self.state_dict[f"layer{i}.mlp_fc2"] = matrix(N_EMBD, 4 * N_EMBD)
        self.params = [p for mat in self.state_dict.values() for row in mat for p in row]
        self.m = [0.0] * len(self.params)  # Adam's first moment
        self.v = [0.0] * len(self.params)  # Adam's second moment

    @staticmethod
    def linear(x: list[Any], w: list[list[Any]]) -> list[Any]:
        return [sum(wi * xi for wi, xi in zip(wo, x)) for wo in w]

    def softmax(self, logits: list[Any]) -> list[Any]:
        max_val = max(self.s.data(val) for val in logits)
        exps = [self.s.exp(val - max_val) for val in logits]
        total = sum(exps)
        return [e / total for e in exps]

    @staticmethod
    def rmsnorm(x: list[Any]) -> list[Any]:
        ms = sum(xi * xi for xi in x) / len(x)
        scale = (ms + 1e-5) ** -0.5
        return [xi * scale for xi in x]

    def gpt(self, token_id: int, pos_id: int, keys: list[list], values: list[list]) -> list[Any]:
        """The logits of the next token, given one token and its position; extends the cache."""
        state_dict, linear, rmsnorm = self.state_dict, self.linear, self.rmsnorm
        tok_emb = state_dict["wte"][token_id]
        pos_emb = state_dict["wpe"][pos_id]
        x = [t + p for t, p in zip(tok_emb, pos_emb)]
        x = rmsnorm(x)  # not redundant: the residual stream starts normalised
        for li in range(N_LAYER):
            # 1) multi-head attention
            x_residual = x
            x = rmsnorm(x)
            q = linear(x, state_dict[f"layer{li}.attn_wq"])
            k = linear(x, state_dict[f"layer{li}.attn_wk"])
            v = linear(x, state_dict[f"layer{li}.attn_wv"])
            keys[li].append(k)
            values[li].append(v)
            x_attn = []
            for h in range(N_HEAD):
                hs = h * HEAD_DIM
                q_h = q[hs:hs + HEAD_DIM]
                k_h = [ki[hs:hs + HEAD_DIM] for ki in keys[li]]
                v_h = [vi[hs:hs + HEAD_DIM] for vi in values[li]]
                attn_logits = [sum(q_h[j] * k_h[t][j] for j in range(HEAD_DIM)) / HEAD_DIM**0.5
                               for t in range(len(k_h))]
                attn_weights = self.softmax(attn_logits)
                head_out = [sum(attn_weights[t] * v_h[t][j] for t in range(len(v_h)))
                            for j in range(HEAD_DIM)]
                x_attn.extend(head_out)
            x = linear(x_attn, state_dict[f"layer{li}.attn_wo"])
            x = [a + b for a, b in zip(x, x_residual)]
            # 2) MLP
            x_residual = x
            x = rmsnorm(x)
            x = linear(x, state_dict[f"layer{li}.mlp_fc1"])
            x = [self.s.relu(xi) for xi in x]
            x = linear(x, state_dict[f"layer{li}.mlp_fc2"])
            x = [a + b for a, b in zip(x, x_residual)]
        return linear(x, state_dict["lm_head"])

    def loss(self, step: int) -> Any:
        """Training step ``step``'s loss: mean ``-log p`` of each next character of its document."""
        doc = self.docs[step % len(self.docs)]
        tokens = [self.bos] + [self.uchars.index(ch) for ch in doc] + [self.bos]
        n = min(BLOCK_SIZE, len(tokens) - 1)
        keys, values = [[] for _ in range(N_LAYER)], [[] for _ in range(N_LAYER)]
        losses = []
        for pos_id in range(n):
            token_id, target_id = tokens[pos_id], tokens[pos_id + 1]
            logits = self.gpt(token_id, pos_id, keys, values)
            probs = self.softmax(logits)
            loss_t = -self.s.log(probs[target_id])
            losses.append(loss_t)
        return (1 / n) * sum(losses)

    def adam(self, step: int) -> None:
        """microgpt's Adam update with linear learning-rate decay; zeroes every ``p.grad``."""
        lr_t = LEARNING_RATE * (1 - step / NUM_STEPS)
        m, v = self.m, self.v
        for i, p in enumerate(self.params):
            m[i] = BETA1 * m[i] + (1 - BETA1) * p.grad
            v[i] = BETA2 * v[i] + (1 - BETA2) * p.grad ** 2
            m_hat = m[i] / (1 - BETA1 ** (step + 1))
            v_hat = v[i] / (1 - BETA2 ** (step + 1))
            p.data -= lr_t * m_hat / (v_hat ** 0.5 + EPS_ADAM)
            p.grad = 0
