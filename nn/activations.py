"""The activations a neuron can use: one table, name → the op fused into the neuron and its init.

Each entry says everything ``nn`` needs to know about an activation, in one place: the unary op
that ``autograd.linear`` fuses into a neuron's node (``None`` for ``linear``: a plain ``affine``
node), and how the weights of a neuron using it are initialised (uniform in
``[-bound, bound]``, biases 0):

- ``"kaiming"`` (relu, leaky_relu, gelu): ``bound = gain * sqrt(3 / fan_in)``, as
  ``torch.nn.init.kaiming_uniform_``: the variance of the pre-activations stays the same from
  layer to layer.
- ``"xavier"`` (tanh, sigmoid, linear): ``bound = gain * sqrt(6 / (fan_in + fan_out))``, as
  ``torch.nn.init.xavier_uniform_``.

The gains are ``torch.nn.init.calculate_gain``'s: sqrt(2) for relu, ``sqrt(2 / (1 + slope**2))``
for leaky_relu, 5/3 for tanh, 1 for sigmoid and linear; gelu (which PyTorch gives no gain)
uses relu's.

>>> sorted(ACTIVATIONS)
['gelu', 'leaky_relu', 'linear', 'relu', 'sigmoid', 'tanh']
>>> get_activation("tanh").op.name, round(get_activation("tanh").gain, 4)
('tanh', 1.6667)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from autograd import ops
from autograd.ops import Op

LEAKY_RELU_SLOPE = ops.LEAKY_SLOPE
"""The negative slope of the ``leaky_relu`` activation (PyTorch's default)."""


@dataclass(frozen=True)
class Activation:
    """One row of the table: a name, the op fused into the neuron, and the initialisation.

    >>> relu = get_activation("relu")
    >>> relu.op.name, relu.init, round(relu.init_bound(fan_in=2, fan_out=16), 4)
    ('relu', 'kaiming', 1.7321)
    """

    name: str
    op: Op | None
    """The unary op applied to ``w · x + b`` (``None``: the neuron is linear)."""
    init: Literal["kaiming", "xavier"]
    gain: float

    def init_bound(self, fan_in: int, fan_out: int) -> float:
        """Half-width of the uniform distribution a neuron's weights are drawn from.

        >>> round(get_activation("linear").init_bound(16, 1), 4)
        0.5941
        """
        if self.init == "kaiming":
            return self.gain * math.sqrt(3.0 / fan_in)
        return self.gain * math.sqrt(6.0 / (fan_in + fan_out))


_KAIMING_RELU = math.sqrt(2.0)
_LEAKY_RELU = ops.leaky_relu(LEAKY_RELU_SLOPE)

ACTIVATIONS: dict[str, Activation] = {a.name: a for a in (
    Activation("relu", ops.RELU, "kaiming", _KAIMING_RELU),
    Activation("leaky_relu", _LEAKY_RELU, "kaiming",
               math.sqrt(2.0 / (1.0 + _LEAKY_RELU.parameter**2))),
    Activation("gelu", ops.GELU, "kaiming", _KAIMING_RELU),
    Activation("tanh", ops.TANH, "xavier", 5.0 / 3.0),
    Activation("sigmoid", ops.SIGMOID, "xavier", 1.0),
    Activation("linear", None, "xavier", 1.0),
)}
"""Every activation a neuron can use, by name."""


def get_activation(name: str) -> Activation:
    """The table's entry for ``name``; an unknown name raises ``ValueError`` listing the choices.

    >>> get_activation("gelu").init
    'kaiming'
    >>> get_activation("swish")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'swish'; choose one of: gelu, leaky_relu, linear, relu, ...
    """
    try:
        return ACTIVATIONS[name]
    except (KeyError, TypeError):  # TypeError: an unhashable name, such as a list
        allowed = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {allowed}") from None
