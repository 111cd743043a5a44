"""nn.sequence: every piece's gradients against finite differences, its shapes and its errors,
and the key/value cache against recomputing the attention from scratch."""

from __future__ import annotations

import copy
import math
import random
from collections import Counter

import pytest

import autograd
from autograd import Value, gradcheck
from nn import (
    CausalSelfAttention,
    Embedding,
    KVCache,
    LayerNorm,
    Linear,
    Module,
    RMSNorm,
    sample_from_logits,
)


def gradcheck_module(module: Module, f, inputs=(), shift: float = 0.0) -> bool:
    """gradcheck of ``f(module, inputs)`` over every parameter of ``module`` and ``inputs``.

    Each evaluation runs on a copy of the module whose parameters are gradcheck's Values
    (``deepcopy`` with a memo mapping each parameter to its stand-in). ``shift`` moves the
    starting point off values such as the norms' initial weights of exactly 1.
    """
    params = module.parameters()
    start = [p.data + shift * (i % 3 - 1) for i, p in enumerate(params)] + list(inputs)

    def g(*values):
        memo = {id(p): v for p, v in zip(params, values)}
        stand_in = copy.deepcopy(module, memo)
        assert all(a is b for a, b in zip(stand_in.parameters(), values))  # not vacuous
        return f(stand_in, values[len(params):])

    return gradcheck(g, start)


def squares(outputs) -> Value:
    """A loss that depends on every output differently."""
    return autograd.dot(outputs, [0.5 + 0.25 * i for i in range(len(outputs))]) \
        + autograd.dot(outputs, outputs)


X3 = [0.3, -1.2, 0.7]
X4 = [0.5, -0.4, 1.1, -0.9]


# --- Embedding -----------------------------------------------------------------------------

def test_embedding_rows_are_the_parameters():
    emb = Embedding(5, 3, seed=0)
    row = emb(4)
    assert len(row) == 3 and all(a is b for a, b in zip(row, emb.weight[4]))
    row.append(Value(0.0))  # a new list: the table is untouched
    assert len(emb.weight[4]) == 3
    assert len(emb.parameters()) == 15
    assert [n for n, _ in emb.named_parameters()][-1] == "weight.4.2"
    assert list(emb.state_dict()) == [f"weight.{i}" for i in range(5)]


def test_embedding_gradients():
    emb = Embedding(4, 3, seed=1)
    # index 2 twice: its gradients add up
    assert gradcheck_module(emb, lambda m, _: squares(m(2) + m(0) + m(2)))


def test_embedding_with_a_value_index_takes_the_row():
    """A Value index (an argument of a compiled function) gives one ``take`` node per element:
    the row's numbers; the int index's gradients bit for bit when each element picked is used
    once (as ``nn.gpt.GPT`` uses its rows), else up to the order of the sums' rounding."""
    emb = Embedding(4, 3, seed=1)
    params = emb.parameters()
    once, twice = [], []
    for index in (2, Value(2)):
        row = emb(index)
        assert [v.op for v in row] == (["take"] * 3 if isinstance(index, Value) else [""] * 3)
        emb.zero_grad()
        squares([a + b for a, b in zip(emb(index), emb(0))]
                + [a * b for a, b in zip(emb(index), emb(1))]).backward()
        once.append([p.grad for p in params])
        emb.zero_grad()
        squares(emb(index) + emb(0) + emb(index)).backward()  # each element used twice
        twice.append([p.grad for p in params])
    assert once[0] == once[1] and any(once[0])
    assert twice[0] == pytest.approx(twice[1], rel=1e-14)
    with pytest.raises(IndexError, match="index 4 is out of range"):
        emb(Value(4))


def test_embedding_init_is_seeded_and_scaled():
    data = lambda m: [p.data for p in m.parameters()]
    assert data(Embedding(30, 30, seed=3)) == data(Embedding(30, 30, seed=3))
    assert data(Embedding(30, 30, seed=3)) != data(Embedding(30, 30, seed=4))
    values = data(Embedding(40, 50, std=0.08, seed=0))
    std = math.sqrt(sum(v * v for v in values) / len(values))
    assert 0.07 < std < 0.09
    assert 0.9 < math.sqrt(sum(v * v for v in data(Embedding(40, 50, seed=0))) / 2000) < 1.1


def test_embedding_errors():
    emb = Embedding(3, 2, seed=0)
    with pytest.raises(IndexError, match=r"index -1 is out of range \(0 to 2\)"):
        emb(-1)
    with pytest.raises(TypeError, match="one index"):
        emb(1.0)
    with pytest.raises(TypeError, match="one index"):
        emb(True)
    with pytest.raises(ValueError, match="num_embeddings must be an int >= 1"):
        Embedding(0, 2)
    with pytest.raises(TypeError, match="embedding_dim must be an int"):
        Embedding(3, 2.5)
    with pytest.raises(ValueError, match="std must be a finite number"):
        Embedding(3, 2, std=-1.0)
    with pytest.raises(ValueError, match="std must be a finite number >= 0, got 1000"):
        Embedding(3, 2, std=10**400)  # too large for a float


# --- Linear --------------------------------------------------------------------------------

@pytest.mark.parametrize("bias", [True, False])
def test_linear_computes_w_x_plus_b(bias):
    layer = Linear(3, 2, bias=bias, seed=0)
    out = layer(X3)
    for i, y in enumerate(out):
        expected = sum(w.data * x for w, x in zip(layer.weight[i], X3))
        expected += layer.bias[i].data if bias else 0.0
        assert y.data == pytest.approx(expected, abs=1e-12)
    assert len(layer.parameters()) == (8 if bias else 6)
    assert [v.op for v in out] == (["affine"] * 2 if bias else ["dot"] * 2)
    assert layer.bias is not None if bias else "bias" not in dict(layer.named_parameters())


@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradients(bias):
    layer = Linear(3, 2, bias=bias, seed=0)
    assert gradcheck_module(layer, lambda m, x: squares(m(list(x))), X3)


def test_linear_init_is_torchs_unless_std_is_given():
    layer = Linear(16, 8, seed=0)
    bound = 1 / 4
    assert all(-bound <= p.data <= bound for p in layer.parameters())
    assert any(b.data != 0 for b in layer.bias)
    gauss = Linear(16, 8, std=0.0, seed=0)
    assert all(p.data == 0.0 for p in gauss.parameters())


def test_linear_errors():
    layer = Linear(2, 1, seed=0)
    with pytest.raises(ValueError, match="Linear takes 2 input"):
        layer([1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="Linear takes one sample"):
        layer(1.0)
    with pytest.raises(ValueError, match="out_features must be an int >= 1"):
        Linear(2, 0)
    assert repr(Linear(2, 3, bias=False)) == "Linear(2, 3, bias=False)"


# --- RMSNorm and LayerNorm -----------------------------------------------------------------

def test_rmsnorm_values():
    out = [v.data for v in RMSNorm(4, eps=0.0 + 1e-12)(X4)]
    rms = math.sqrt(sum(x * x for x in X4) / 4)
    assert out == pytest.approx([x / rms for x in X4], rel=1e-9)
    assert math.sqrt(sum(o * o for o in out) / 4) == pytest.approx(1.0)
    norm = RMSNorm(4, eps=1e-5)
    norm.weight[1].data = 3.0
    assert norm(X4)[1].data == pytest.approx(3 * X4[1] / math.sqrt(rms**2 + 1e-5))
    assert RMSNorm(4, elementwise_affine=False).parameters() == []


@pytest.mark.parametrize("affine", [True, False])
def test_rmsnorm_gradients(affine):
    norm = RMSNorm(4, eps=0.01, elementwise_affine=affine)
    assert gradcheck_module(norm, lambda m, x: squares(m(list(x))), X4, shift=0.2)


def test_layernorm_values():
    out = [v.data for v in LayerNorm(4, eps=1e-12)(X4)]
    assert sum(out) == pytest.approx(0.0, abs=1e-12)
    assert sum(o * o for o in out) / 4 == pytest.approx(1.0)
    norm = LayerNorm(4)
    assert [n for n, _ in norm.named_parameters()][::4] == ["weight.0", "bias.0"]
    assert len(LayerNorm(4, bias=False).parameters()) == 4
    assert LayerNorm(4, elementwise_affine=False).parameters() == []


@pytest.mark.parametrize(("affine", "bias"), [(True, True), (True, False), (False, True)])
def test_layernorm_gradients(affine, bias):
    norm = LayerNorm(4, eps=0.01, elementwise_affine=affine, bias=bias)
    assert gradcheck_module(norm, lambda m, x: squares(m(list(x))), X4, shift=0.2)


@pytest.mark.parametrize("norm", [RMSNorm, LayerNorm])
def test_norm_errors(norm):
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        norm(4, eps=0.0)
    with pytest.raises(ValueError, match="eps must be a finite number > 0"):
        norm(4, eps=10**400)
    with pytest.raises(ValueError, match="takes 4 input"):
        norm(4)([1.0])
    with pytest.raises(ValueError, match="normalized_shape must be an int >= 1"):
        norm(0)


# --- CausalSelfAttention -------------------------------------------------------------------

SEQUENCE = [[0.5, -0.4, 1.1, -0.9], [0.2, 0.8, -0.3, 0.1], [-1.0, 0.4, 0.6, 0.3]]


def run(attn: CausalSelfAttention, sequence) -> list[list[Value]]:
    cache = KVCache()
    return [attn(list(x), cache) for x in sequence]


def reference_attention(attn: CausalSelfAttention, sequence) -> list[list[float]]:
    """Attention over the whole sequence at once, on floats, with a causal mask: the textbook
    formula, with no cache."""
    def project(layer, x):
        return [sum(w.data * xi for w, xi in zip(row, x))
                + (layer.bias[i].data if layer.bias else 0.0)
                for i, row in enumerate(layer.weight)]

    qs = [project(attn.q_proj, x) for x in sequence]
    ks = [project(attn.k_proj, x) for x in sequence]
    vs = [project(attn.v_proj, x) for x in sequence]
    d = attn.head_dim
    outputs = []
    for t in range(len(sequence)):
        heads = []
        for h in range(attn.n_head):
            s = slice(h * d, (h + 1) * d)
            scores = [sum(a * b for a, b in zip(qs[t][s], ks[u][s])) / math.sqrt(d)
                      if u <= t else -math.inf for u in range(len(sequence))]
            exps = [math.exp(x - max(scores)) for x in scores]
            weights = [e / sum(exps) for e in exps]
            heads.extend(sum(w * v[s][j] for w, v in zip(weights, vs)) for j in range(d))
        outputs.append(project(attn.out_proj, heads))
    return outputs


@pytest.mark.parametrize("bias", [False, True])
def test_attention_with_the_cache_equals_recomputation(bias):
    attn = CausalSelfAttention(4, n_head=2, bias=bias, seed=0)
    cached = [[v.data for v in out] for out in run(attn, SEQUENCE)]
    for t, expected in enumerate(reference_attention(attn, SEQUENCE)):
        assert cached[t] == pytest.approx(expected, rel=1e-12, abs=1e-12)
        # and again from scratch with a fresh cache over the prefix: the same numbers
        again = [v.data for v in run(attn, SEQUENCE[:t + 1])[-1]]
        assert again == pytest.approx(cached[t], rel=1e-12, abs=1e-12)


def test_attention_is_causal():
    attn = CausalSelfAttention(4, n_head=2, seed=1)
    before = [[v.data for v in out] for out in run(attn, SEQUENCE)]
    changed = [[v.data for v in out] for out in run(attn, [*SEQUENCE[:2], [9.0, 9.0, 9.0, 9.0]])]
    assert changed[:2] == before[:2] and changed[2] != before[2]


def test_attention_shapes_and_names():
    attn = CausalSelfAttention(8, n_head=4, seed=0)
    assert attn.head_dim == 2 and len(attn.parameters()) == 4 * 64
    names = [n for n, _ in attn.named_parameters()]
    assert names[0] == "q_proj.weight.0.0" and names[-1] == "out_proj.weight.7.7"
    cache = KVCache()
    outputs = [attn([0.1 * i] * 8, cache) for i in range(5)]
    assert [len(o) for o in outputs] == [8] * 5
    assert len(cache) == 5 and len(cache.keys[0]) == 8 and repr(cache) == "KVCache(5 positions)"


@pytest.mark.parametrize("bias", [False, True])
def test_attention_gradients_over_weights_and_inputs(bias):
    attn = CausalSelfAttention(4, n_head=2, bias=bias, seed=2)
    inputs = [x for row in SEQUENCE for x in row]

    def loss(m, xs):
        sequence = [list(xs[i:i + 4]) for i in range(0, len(xs), 4)]
        outputs = run(m, sequence)
        return autograd.sum(squares(out) * (t + 1) for t, out in enumerate(outputs))

    assert gradcheck_module(attn, loss, inputs)


def test_attention_errors():
    with pytest.raises(ValueError, match=r"n_embd \(6\) must be divisible by n_head \(4\)"):
        CausalSelfAttention(6, 4)
    attn = CausalSelfAttention(4, 2, seed=0)
    with pytest.raises(TypeError, match="cache must be a KVCache"):
        attn([1.0] * 4, None)
    with pytest.raises(ValueError, match="takes 4 input"):
        attn([1.0] * 3, KVCache())


# --- sampling ------------------------------------------------------------------------------

def softmax(xs):
    exps = [math.exp(x - max(xs)) for x in xs]
    return [e / sum(exps) for e in exps]


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sampling_frequencies_follow_softmax_over_temperature(temperature):
    logits = [1.0, 0.0, -1.0, 0.5]
    rng = random.Random(0)
    n = 20_000
    counts = Counter(sample_from_logits(logits, temperature, rng) for _ in range(n))
    for i, p in enumerate(softmax([z / temperature for z in logits])):
        assert counts[i] / n == pytest.approx(p, abs=4 * math.sqrt(p * (1 - p) / n))


def test_sampling_takes_values_builds_no_graph_and_is_seeded():
    logits = [Value(0.3), Value(-0.2), Value(1.5)]
    draws = [sample_from_logits(logits, 1.0, random.Random(7)) for _ in range(3)]
    assert len(set(draws)) == 1
    assert sample_from_logits(logits, 0.01, rng=1) == 2  # near 0: the most likely index
    assert all(v.is_leaf for v in logits)


@pytest.mark.parametrize("temperature", [0, -1.0, math.nan, math.inf, True, "1", 10**400])
def test_sampling_refuses_a_temperature_that_is_not_positive(temperature):
    with pytest.raises(ValueError, match="temperature must be a finite number > 0"):
        sample_from_logits([0.0, 1.0], temperature)


def test_sampling_refuses_bad_logits():
    with pytest.raises(ValueError, match="logits are empty"):
        sample_from_logits([], 1.0)
    with pytest.raises(TypeError, match="logits must be a list"):
        sample_from_logits(Value(1.0), 1.0)
    with pytest.raises(ValueError, match="logits must be finite"):
        sample_from_logits([0.0, math.nan], 1.0)


def test_sampling_at_a_tiny_temperature_takes_the_most_likely_index():
    # logits / 1e-310 overflow to inf: the logits were finite, so no error about them
    assert sample_from_logits([0.0, 1.0, 0.5], 1e-310, rng=0) == 1
    assert sample_from_logits([-2.0, -1.0], 1e-320, rng=0) == 1


def test_sampling_names_a_logit_that_is_not_a_number():
    with pytest.raises(TypeError, match=r"logits must be numbers or Values; logit 1 is str 'a'"):
        sample_from_logits([0.0, "a"], 1.0)
    with pytest.raises(TypeError, match=r"logit 0 is NoneType None"):
        sample_from_logits([None], 1.0)


@pytest.mark.parametrize("norm", [RMSNorm, LayerNorm])
def test_norms_take_pytorchs_argument_names(norm):
    layer = norm(normalized_shape=3, eps=1e-6, elementwise_affine=False)
    assert layer.normalized_shape == 3 and layer.parameters() == []
    assert repr(layer) == f"{norm.__name__}(3, eps=1e-06, elementwise_affine=False)"
    with pytest.raises(ValueError, match="normalized_shape must be an int >= 1"):
        norm(0)


def test_layernorm_repr_shows_what_it_leaves_out():
    assert repr(LayerNorm(4)) == "LayerNorm(4, eps=1e-05)"
    assert repr(LayerNorm(4, bias=False)) == "LayerNorm(4, eps=1e-05, bias=False)"
