"""chainrule's neural-network package: modules, losses, optimizers, datasets and checkpoints.

>>> import nn
>>> X, y = nn.make_moons(20, seed=0)
>>> model = nn.MLP(2, [8, 1], seed=0)
>>> optimizer = nn.SGD(model.parameters(), lr=0.1)
>>> loss = nn.hinge_loss([model(x) for x in X.tolist()], (2 * y - 1).tolist())
>>> optimizer.zero_grad(); loss.backward(); optimizer.step()

The training command is ``python -m nn.train`` (see ``nn/train.py``).
"""

import nn._autograd_check  # noqa: F401  first: is "autograd" chainrule's, not HIPS autograd?
from nn.data import make_blobs, make_circles, make_moons, make_spirals
from nn.losses import binary_cross_entropy_with_logits, cross_entropy, hinge_loss, mse_loss
from nn.module import (
    ACTIVATIONS,
    MLP,
    Layer,
    Module,
    Neuron,
    StateDictError,
    check_activation,
    init_bound,
    neurons_forward,
)
from nn.optim import SGD, Adam, AdamW, Optimizer
from nn.serialization import load, save

__all__ = [
    "ACTIVATIONS",
    "MLP",
    "SGD",
    "Adam",
    "AdamW",
    "Layer",
    "Module",
    "Neuron",
    "Optimizer",
    "StateDictError",
    "binary_cross_entropy_with_logits",
    "check_activation",
    "cross_entropy",
    "hinge_loss",
    "init_bound",
    "load",
    "make_blobs",
    "make_circles",
    "make_moons",
    "make_spirals",
    "mse_loss",
    "neurons_forward",
    "save",
]
