"""nn.to_torch / nn.from_torch (issue 20): the same function in PyTorch, weights both ways.

Outputs agree to 1e-12 and gradients to 1e-10 in float64, for an MLP (every activation), the
sequence pieces and the GPT; from_torch copies torch's weights back. Skipped without torch (the
pinned CPU build: ``pip install torch==2.13.0``; ``./dev.sh test`` installs it when its wheel
is on disk).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import nn
from autograd import Value
from nn import (
    ACTIVATIONS,
    MLP,
    CausalSelfAttention,
    Embedding,
    KVCache,
    Layer,
    LayerNorm,
    Linear,
    Neuron,
    RMSNorm,
    cross_entropy,
)
from nn.gpt import GPT
from tests.conftest import without

torch = pytest.importorskip("torch", reason="torch is not installed: the bridge's tests need "
                                           "the pinned CPU build (pip install torch==2.13.0)")

ROOT = Path(__file__).resolve().parent.parent
OUT, GRAD = 1e-12, 1e-10
POINTS = [[0.3, -1.2], [1.5, 0.4], [-0.7, -0.2], [0.0, 2.0]]


def tensor(x):
    return torch.tensor(x, dtype=torch.float64)


def close(a, b, tol):
    return all(abs(x - y) <= tol * max(1.0, abs(y)) for x, y in zip(a, b, strict=True))


def grads_agree(model, net, tol=GRAD):
    """Each parameter's chainrule .grad against the torch parameter's .grad, by name."""
    from nn.pytorch import _flatten, _parameters

    torch_grads = {name: p.grad for name, p in net.named_parameters()}
    for name, grid in _parameters(model, "").items():
        ours = [v.grad for v in _flatten(grid)]
        theirs = torch_grads[name].flatten().tolist()
        assert close(ours, theirs, tol), name


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_an_mlp_computes_the_same_outputs_and_gradients(activation):
    model = MLP(2, [8, 8, 3], activation=activation, seed=0)
    net = to = nn.to_torch(model)
    assert isinstance(to, torch.nn.Module)
    outputs = [model(x) for x in POINTS]
    theirs = net(tensor(POINTS))
    for ours, row in zip(outputs, theirs.tolist()):
        assert close([v.data for v in ours], row, OUT)
    loss = cross_entropy(outputs, [0, 2, 1, 2])
    loss.backward()
    torch_loss = torch.nn.functional.cross_entropy(theirs, torch.tensor([0, 2, 1, 2]))
    torch_loss.backward()
    assert abs(loss.data - torch_loss.item()) < OUT
    grads_agree(model, net)


@pytest.mark.parametrize("make", [lambda: Neuron(2, "tanh", seed=1),
                                  lambda: Layer(2, 3, "sigmoid", seed=1),
                                  lambda: MLP(2, [1], seed=1)])
def test_neurons_and_layers_give_one_column_per_neuron(make):
    model = make()
    net = nn.to_torch(model)
    for x, row in zip(POINTS, net(tensor(POINTS)).tolist()):
        out = model(x)
        assert close([v.data for v in (out if isinstance(out, list) else [out])], row, OUT)


@pytest.mark.parametrize("make", [lambda: Linear(4, 3, seed=2), lambda: Linear(4, 3, bias=False,
                                                                            std=0.5, seed=2),
                                  lambda: RMSNorm(4), lambda: RMSNorm(4, elementwise_affine=False),
                                  lambda: LayerNorm(4), lambda: LayerNorm(4, bias=False)])
def test_the_vector_pieces_compute_the_same(make):
    model = make()
    for p in model.parameters():
        p.data += 0.1 * len(p.__class__.__name__)  # weights other than the initial ones
    net = nn.to_torch(model)
    x = [Value(v) for v in (0.5, -1.5, 2.0, 0.25)]
    torch_x = tensor([v.data for v in x]).requires_grad_()
    ours = model(x)
    theirs = net(torch_x)
    assert close([v.data for v in ours], theirs.tolist(), OUT)
    sum(v * v for v in ours).backward()
    (theirs * theirs).sum().backward()
    grads_agree(model, net)
    assert close([v.grad for v in x], torch_x.grad.tolist(), GRAD)  # and the inputs' gradients


def test_embedding_rows():
    model = Embedding(5, 3, seed=0)
    net = nn.to_torch(model)
    ours = [v.data for i in (4, 0, 2) for v in model(i)]
    assert close(ours, net(torch.tensor([4, 0, 2])).flatten().tolist(), OUT)


def test_causal_attention_over_a_sequence_matches_the_cache_one_position_at_a_time():
    model = CausalSelfAttention(8, n_head=2, bias=True, seed=0)
    net = nn.to_torch(model)
    xs = [[0.1 * (i + 1) * (j - 3) for j in range(8)] for i in range(5)]
    cache = KVCache()
    ours = [model(x, cache) for x in xs]
    theirs = net(tensor([xs]))[0]
    for out, row in zip(ours, theirs.tolist()):
        assert close([v.data for v in out], row, OUT)
    sum(v * w for out in ours for v, w in zip(out, range(8))).backward()
    (theirs * torch.arange(8, dtype=torch.float64)).sum().backward()
    grads_agree(model, net)


def gpt_loss_both(model, net, tokens):
    caches = model.new_caches()
    logits = [model(tokens[t], t, caches) for t in range(len(tokens) - 1)]
    theirs = net(torch.tensor([tokens[:-1]]))[0]
    for ours, row in zip(logits, theirs.tolist()):
        assert close([v.data for v in ours], row, OUT)
    return (cross_entropy(logits, tokens[1:]),
            torch.nn.functional.cross_entropy(theirs, torch.tensor(tokens[1:])))


def test_the_gpt_round_trip():
    model = GPT(7, block_size=8, n_embd=8, n_head=2, n_layer=2, seed=0)
    net = nn.to_torch(model)
    tokens = [6, 1, 3, 5, 2, 0, 4, 6]
    loss, torch_loss = gpt_loss_both(model, net, tokens)
    assert abs(loss.data - torch_loss.item()) < OUT
    assert abs(model.loss(tokens).data - loss.data) < OUT  # the same as GPT.loss
    loss.backward()
    torch_loss.backward()
    grads_agree(model, net)
    # train on in torch, copy back: chainrule now computes what torch computes
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    for _ in range(3):
        optimizer.zero_grad()
        torch.nn.functional.cross_entropy(net(torch.tensor([tokens[:-1]]))[0],
                                          torch.tensor(tokens[1:])).backward()
        optimizer.step()
    before = model.state_dict()
    nn.from_torch(net, model)
    assert model.state_dict() != before
    model.zero_grad()
    net.zero_grad()
    loss, torch_loss = gpt_loss_both(model, net, tokens)
    loss.backward()
    torch_loss.backward()
    grads_agree(model, net)


def test_from_torch_checks_everything_first():
    model = MLP(2, [4, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"does not fit MLP: missing \['layers.1.linear.bias', "
                                         r"'layers.1.linear.weight'\]"):
        nn.from_torch(nn.to_torch(MLP(2, [4], seed=0)), model)
    with pytest.raises(ValueError, match=r"layers.0.linear.weight has the shape \(5, 2\) in "
                                         r"torch, \(4, 2\) in MLP"):
        nn.from_torch(nn.to_torch(MLP(2, [5, 1], seed=0)), model)
    net = nn.to_torch(model)
    with torch.no_grad():
        net.layers[0].linear.bias.fill_(0.5)
        net.layers[1].linear.weight[0, 1] = float("nan")
    with pytest.raises(ValueError, match=r"layers.1.linear.weight holds a number that is not "
                                         "finite"):
        nn.from_torch(net, model)
    assert model.state_dict() == before


def test_a_module_without_a_counterpart_is_named():
    class Scale(nn.Module):
        def __init__(self):
            self.k = Value(2.0)

    with pytest.raises(TypeError, match="no PyTorch counterpart for Scale; the bridge knows"):
        nn.to_torch(Scale())


def test_float32_on_request():
    net = nn.to_torch(MLP(2, [3, 1], seed=0), dtype=torch.float32)
    assert {p.dtype for p in net.parameters()} == {torch.float32}


def test_without_torch_the_error_says_how_to_get_it(tmp_path):
    code = "import nn; nn.to_torch(nn.MLP(2, [1], seed=0))"
    run = subprocess.run([sys.executable, "-c", code], env=without(tmp_path, "torch"),
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 1
    assert "nn.to_torch and nn.from_torch needs torch, part of chainrule's [torch] extra" \
        in run.stderr
    run = subprocess.run([sys.executable, "-c", "import sys, nn; print('torch' in sys.modules)"],
                         capture_output=True, text=True, cwd=ROOT, check=True)
    assert run.stdout.strip() == "False"  # importing nn does not import torch


def test_the_example_in_the_docs_runs():
    text = (ROOT / "docs" / "pytorch.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    namespace: dict = {}
    exec(compile(code, "docs/pytorch.md", "exec"), namespace)
    assert namespace["loss"].item() < 0.5  # it trained
