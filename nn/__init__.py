"""chainrule's neural-network package: modules, losses, optimizers, datasets and checkpoints.

>>> import nn
>>> X, y = nn.make_moons(20, noise=0.1, random_state=0)
>>> model = nn.MLP(2, [8, 1], seed=0)
>>> optimizer = nn.SGD(model.parameters(), lr=0.1)
>>> loss = nn.hinge_loss([model(x) for x in X.tolist()], (2 * y - 1).tolist())
>>> optimizer.zero_grad(); loss.backward(); optimizer.step()

Sequence models (``Embedding``, ``Linear``, ``RMSNorm``, ``CausalSelfAttention``...) are in
``nn.sequence``; the census names and a bigram baseline in ``nn.corpus``; a tiny GPT and its
training loop in ``nn.gpt`` (the names need the ``[gpt]`` extra).

It needs the ``[nn]`` extra (numpy, matplotlib, tqdm): ``pip install "chainrule[nn]"``. The
commands are ``chainrule-train`` (``nn/cli.py``) and ``chainrule-gpt`` (``nn/gpt_cli.py``), or
``python -m nn train`` and ``python -m nn gpt``.
"""

import nn._autograd_check  # noqa: F401  first: is "autograd" chainrule's, not HIPS autograd?
from nn._extra import require

require("numpy", "nn")  # the datasets need it: a missing numpy gets the install hint here

from nn.activations import ACTIVATIONS, Activation, get_activation  # noqa: E402
from nn.data import make_blobs, make_circles, make_moons, make_spirals  # noqa: E402
from nn.losses import (  # noqa: E402
    binary_cross_entropy_with_logits,
    cross_entropy,
    hinge_loss,
    mse_loss,
)
from nn.module import MLP, Layer, Module, Neuron, StateDictError  # noqa: E402
from nn.optim import SGD, Adam, AdamW, Optimizer  # noqa: E402
from nn.pytorch import from_torch, to_torch  # noqa: E402  (torch is imported when called)
from nn.sequence import (  # noqa: E402
    CausalSelfAttention,
    Embedding,
    KVCache,
    LayerNorm,
    Linear,
    RMSNorm,
    sample_from_logits,
)
from nn.serialization import load, save  # noqa: E402

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "SGD",
    "Activation",
    "Adam",
    "AdamW",
    "CausalSelfAttention",
    "Embedding",
    "KVCache",
    "Layer",
    "LayerNorm",
    "Linear",
    "Module",
    "Neuron",
    "Optimizer",
    "RMSNorm",
    "StateDictError",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "from_torch",
    "get_activation",
    "hinge_loss",
    "load",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "mse_loss",
    "sample_from_logits",
    "save",
    "to_torch",
]
