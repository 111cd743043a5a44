"""A bridge to PyTorch: ``to_torch(model)`` and ``from_torch(torch_module, model)``.

``to_torch`` builds a ``torch.nn.Module`` that computes the same function as ``model`` (float64
by default) with ``model``'s weights; ``from_torch`` copies a torch module's weights back, say
after training on in PyTorch. torch is imported here only, when one of them is called; it is
not a dependency of chainrule (``pip install torch``).

The torch module works on batches, as torch modules do:

- ``Neuron``, ``Layer``, ``MLP``, ``Linear``, ``RMSNorm``, ``LayerNorm``: a tensor ``(..., nin)``
  gives ``(..., nout)`` (a ``Neuron`` or a one-output ``Layer``/``MLP`` gives ``(..., 1)``
  where chainrule gives one ``Value``);
- ``Embedding``: indices ``(...)`` give ``(..., embedding_dim)``;
- ``CausalSelfAttention``: ``(batch, T, n_embd)`` gives ``(batch, T, n_embd)``, position ``t``
  attending to positions 0 to ``t``: what chainrule computes one position at a time with a
  ``KVCache``;
- ``nn.gpt.GPT``: token ids ``(batch, T)`` give the logits ``(batch, T, vocab_size)``, the
  logits chainrule's ``model(token, t, caches)`` gives at each position.

The parameters keep chainrule's names where PyTorch has the same piece (``wte.weight``,
``blocks.0.attn.q_proj.weight``); a layer of neurons is one ``torch.nn.Linear`` (``layers.0.
linear.weight`` holds the rows ``layers.0.neurons.i.weight``).
"""

from __future__ import annotations

import functools
import math
from types import SimpleNamespace
from typing import Any

from nn.activations import ACTIVATIONS
from nn.module import MLP, Layer, Module, Neuron
from nn.sequence import CausalSelfAttention, Embedding, LayerNorm, Linear, RMSNorm

KNOWN = "Neuron, Layer, MLP, Linear, Embedding, RMSNorm, LayerNorm, CausalSelfAttention, GPT"


def to_torch(model: Module, dtype: Any = None) -> Any:
    """A ``torch.nn.Module`` computing what ``model`` computes, holding a copy of its weights.

    ``dtype`` is the torch floating type (default ``torch.float64``, chainrule's precision).

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> model = MLP(2, [4, 1], seed=0)
    >>> net = to_torch(model)
    >>> x = [0.5, -1.0]
    >>> abs(net(torch.tensor([x], dtype=torch.float64)).item() - model(x).data) < 1e-12
    True
    """
    torch = _torch().torch
    grids = _parameters(model, "")
    module = _build(model).to(torch.float64 if dtype is None else dtype)
    names = dict(module.named_parameters())
    if set(names) != set(grids):  # a bug here, not the user's
        raise AssertionError(f"to_torch: {sorted(set(names) ^ set(grids))}")
    with torch.no_grad():
        for name, grid in grids.items():
            names[name].copy_(torch.tensor(_data(grid), dtype=names[name].dtype))
    return module


def from_torch(torch_module: Any, model: Module) -> None:
    """Copy the weights of ``torch_module`` (from ``to_torch(model)``) into ``model``.

    Everything is checked before anything is copied (the names, each tensor's shape, finite
    values); a mismatch raises ``ValueError`` naming it and ``model`` is left as it was.

    >>> import pytest; torch = pytest.importorskip("torch")
    >>> model = MLP(2, [4, 1], seed=0)
    >>> net = to_torch(model)
    >>> with torch.no_grad():
    ...     _ = net.layers[1].linear.bias.fill_(0.25)
    >>> from_torch(net, model); model.layers[1].neurons[0].bias.data
    0.25
    """
    grids = _parameters(model, "")
    tensors = dict(torch_module.named_parameters())
    missing = sorted(set(grids) - set(tensors))
    unexpected = sorted(set(tensors) - set(grids))
    if missing or unexpected:
        raise ValueError(f"from_torch: the torch module does not fit {type(model).__name__}: "
                         f"missing {missing or 'nothing'}, unexpected {unexpected or 'nothing'} "
                         f"(make it with nn.to_torch(model))")
    updates = []
    for name, grid in grids.items():
        values = tensors[name].detach().to("cpu").double().tolist()
        if _shape(values) != _shape(grid):
            raise ValueError(f"from_torch: {name} has the shape {_shape(values)} in torch, "
                             f"{_shape(grid)} in {type(model).__name__}")
        flat_values, flat_params = _flatten(values), _flatten(grid)
        if not all(map(math.isfinite, flat_values)):
            raise ValueError(f"from_torch: {name} holds a number that is not finite")
        updates.extend(zip(flat_params, flat_values))
    for parameter, value in updates:
        parameter.data = value


def _parameters(model: Module, prefix: str) -> dict[str, Any]:
    """``model``'s parameters as the torch module names them: name → Value, or nested lists."""
    from nn.gpt import GPT, Block

    def under(name: str, child: Module) -> dict[str, Any]:
        return _parameters(child, f"{prefix}{name}.")

    if isinstance(model, Neuron):
        return {f"{prefix}linear.weight": [model.weight], f"{prefix}linear.bias": [model.bias]}
    if isinstance(model, Layer):
        return {f"{prefix}linear.weight": [n.weight for n in model.neurons],
                f"{prefix}linear.bias": [n.bias for n in model.neurons]}
    if isinstance(model, MLP):
        return {k: v for i, layer in enumerate(model.layers)
                for k, v in under(f"layers.{i}", layer).items()}
    if isinstance(model, (Linear, Embedding, RMSNorm, LayerNorm)):
        return {f"{prefix}{name}": getattr(model, name) for name in ("weight", "bias")
                if getattr(model, name, None) is not None}
    if isinstance(model, CausalSelfAttention):
        return {k: v for name in ("q_proj", "k_proj", "v_proj", "out_proj")
                for k, v in under(name, getattr(model, name)).items()}
    if isinstance(model, Block):
        return {k: v for name in ("attn", "fc1", "fc2")
                for k, v in under(name, getattr(model, name)).items()}
    if isinstance(model, GPT):
        parts = [("wte", model.wte), ("wpe", model.wpe),
                 *((f"blocks.{i}", block) for i, block in enumerate(model.blocks)),
                 ("lm_head", model.lm_head)]
        return {k: v for name, part in parts for k, v in under(name, part).items()}
    raise TypeError(f"to_torch/from_torch: no PyTorch counterpart for {type(model).__name__}; "
                    f"the bridge knows {KNOWN}")


def _build(model: Module) -> Any:
    """The torch module for ``model`` (its weights not yet copied)."""
    from nn.gpt import GPT, Block

    t = _torch()
    torch = t.torch
    if isinstance(model, Neuron):
        return t.Neurons(model.nin, 1, model.activation)
    if isinstance(model, Layer):
        return t.Neurons(model.nin, len(model.neurons), model.activation)
    if isinstance(model, MLP):
        return t.MLP([t.Neurons(layer.nin, len(layer.neurons), layer.activation)
                      for layer in model.layers])
    if isinstance(model, Linear):
        return torch.nn.Linear(model.in_features, model.out_features,
                               bias=model.bias is not None)
    if isinstance(model, Embedding):
        return torch.nn.Embedding(model.num_embeddings, model.embedding_dim)
    if isinstance(model, RMSNorm):
        return torch.nn.RMSNorm(model.normalized_shape, eps=model.eps,
                                elementwise_affine=model.weight is not None)
    if isinstance(model, LayerNorm):
        return torch.nn.LayerNorm(model.normalized_shape, eps=model.eps,
                                  elementwise_affine=model.weight is not None,
                                  bias=model.bias is not None)
    if isinstance(model, CausalSelfAttention):
        return t.CausalSelfAttention(model.n_embd, model.n_head,
                                     bias=model.q_proj.bias is not None)
    if isinstance(model, Block):
        return t.Block(_build(model.attn), _build(model.attn_norm), _build(model.mlp_norm),
                       _build(model.fc1), _build(model.fc2))
    if isinstance(model, GPT):
        return t.GPT(_build(model.wte), _build(model.wpe), _build(model.norm),
                     [_build(block) for block in model.blocks], _build(model.lm_head))
    raise TypeError(f"to_torch: no PyTorch counterpart for {type(model).__name__}; the bridge "
                    f"knows {KNOWN}")


@functools.cache
def _torch() -> SimpleNamespace:
    """torch, imported on first use, and the torch modules with no counterpart in torch.nn."""
    from nn._extra import require

    torch = require("torch", "nn.to_torch and nn.from_torch", extra="torch")
    activations = {"relu": torch.nn.ReLU, "gelu": torch.nn.GELU, "tanh": torch.nn.Tanh,
                   "sigmoid": torch.nn.Sigmoid, "linear": torch.nn.Identity,
                   "leaky_relu": lambda: torch.nn.LeakyReLU(ACTIVATIONS["leaky_relu"].op.parameter)}

    class Neurons(torch.nn.Module):
        """A layer of chainrule neurons: ``activation(linear(x))``."""

        def __init__(self, nin: int, nout: int, activation: str) -> None:
            super().__init__()
            self.linear = torch.nn.Linear(nin, nout)
            self.activation = activations[activation]()

        def forward(self, x):
            return self.activation(self.linear(x))

    class TorchMLP(torch.nn.Module):
        """chainrule's MLP: its layers one after the other."""

        def __init__(self, layers: list) -> None:
            super().__init__()
            self.layers = torch.nn.ModuleList(layers)

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    class TorchAttention(torch.nn.Module):
        """chainrule's CausalSelfAttention over a whole sequence ``(batch, T, n_embd)``."""

        def __init__(self, n_embd: int, n_head: int, bias: bool) -> None:
            super().__init__()
            self.n_head, self.head_dim = n_head, n_embd // n_head
            self.q_proj, self.k_proj, self.v_proj, self.out_proj = (
                torch.nn.Linear(n_embd, n_embd, bias=bias) for _ in range(4))

        def forward(self, x):
            batch, steps, n_embd = x.shape
            q, k, v = ((proj(x).view(batch, steps, self.n_head, self.head_dim).transpose(1, 2))
                       for proj in (self.q_proj, self.k_proj, self.v_proj))
            logits = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(self.head_dim))
            future = torch.ones(steps, steps, dtype=torch.bool, device=x.device).triu(1)
            weights = logits.masked_fill(future, float("-inf")).softmax(dim=-1)
            heads = (weights @ v).transpose(1, 2).reshape(batch, steps, n_embd)
            return self.out_proj(heads)

    class TorchBlock(torch.nn.Module):
        """nn.gpt.Block: ``x + attn(norm(x))``, then ``x + fc2(relu(fc1(norm(x))))``."""

        def __init__(self, attn, attn_norm, mlp_norm, fc1, fc2) -> None:
            super().__init__()
            self.attn, self.attn_norm, self.mlp_norm = attn, attn_norm, mlp_norm
            self.fc1, self.fc2 = fc1, fc2

        def forward(self, x):
            x = x + self.attn(self.attn_norm(x))
            return x + self.fc2(torch.relu(self.fc1(self.mlp_norm(x))))

    class TorchGPT(torch.nn.Module):
        """nn.gpt.GPT over whole sequences: token ids ``(batch, T)`` → logits."""

        def __init__(self, wte, wpe, norm, blocks: list, lm_head) -> None:
            super().__init__()
            self.wte, self.wpe, self.norm = wte, wpe, norm
            self.blocks = torch.nn.ModuleList(blocks)
            self.lm_head = lm_head

        def forward(self, tokens):
            positions = torch.arange(tokens.shape[-1], device=tokens.device)
            x = self.norm(self.wte(tokens) + self.wpe(positions))
            for block in self.blocks:
                x = block(x)
            return self.lm_head(x)

    return SimpleNamespace(torch=torch, Neurons=Neurons, MLP=TorchMLP,
                           CausalSelfAttention=TorchAttention, Block=TorchBlock, GPT=TorchGPT)


def _data(grid: Any) -> Any:
    return grid.data if not isinstance(grid, list) else [_data(g) for g in grid]


def _shape(grid: Any) -> tuple[int, ...]:
    return (len(grid), *_shape(grid[0])) if isinstance(grid, list) and grid else ()


def _flatten(grid: Any) -> list:
    return [x for g in grid for x in _flatten(g)] if isinstance(grid, list) else [grid]
