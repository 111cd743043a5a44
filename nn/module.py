"""Modules: ``Module`` (parameters and state dicts), ``Neuron``, ``Layer`` and ``MLP``.

A module's parameters are the ``Value``s it holds as attributes, found the way PyTorch finds
them: an attribute that is a ``Value``, a list of ``Value``s, a ``Module`` or a list of
``Module``s contributes its parameters under its attribute name (``layers.0.neurons.3.weight``).

Initialisation (weights uniform in ``[-bound, bound]``, biases 0), chosen by activation:

- relu, leaky_relu, gelu: Kaiming/He uniform, ``bound = gain * sqrt(3 / fan_in)`` with
  ``gain = sqrt(2)`` (``sqrt(2 / (1 + slope**2))`` for leaky_relu), as ``torch.nn.init``'s
  ``kaiming_uniform_``: the variance of the pre-activations stays the same from layer to layer.
- tanh, sigmoid, linear: Xavier/Glorot uniform, ``bound = gain * sqrt(6 / (fan_in + fan_out))``
  with ``gain = 5/3`` for tanh and 1 otherwise, as ``xavier_uniform_``.

The random numbers come from ``random.Random(seed)``, never from the global generator, so the
same seed gives the same network whatever else the program does.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from typing import Callable, Union

import autograd
from autograd import Value, ops
from autograd.ops import Op

Number = Union[int, float]
StateDict = dict[str, Union[float, list[float]]]

LEAKY_RELU_SLOPE = 0.01  # PyTorch's default negative slope

ACTIVATIONS: dict[str, Callable[[Value], Value]] = {
    "relu": Value.relu,
    "tanh": Value.tanh,
    "sigmoid": Value.sigmoid,
    "leaky_relu": lambda z: z.leaky_relu(LEAKY_RELU_SLOPE),
    "gelu": Value.gelu,
    "linear": lambda z: z,
}
"""The activations a neuron can use, by name."""

ACTIVATION_OPS: dict[str, Op | None] = {
    "relu": ops.RELU,
    "tanh": ops.TANH,
    "sigmoid": ops.SIGMOID,
    "leaky_relu": ops.leaky_relu(LEAKY_RELU_SLOPE),
    "gelu": ops.GELU,
    "linear": None,
}
"""The op each activation fuses into a neuron's node (``autograd.linear(..., activation=)``)."""


def check_activation(name: str) -> str:
    """Return ``name`` if it is an activation in ``ACTIVATIONS``, else raise ``ValueError``.

    >>> check_activation("tanh")
    'tanh'
    >>> check_activation("swish")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: unknown activation 'swish'; choose one of: gelu, leaky_relu, linear, relu, ...
    """
    if name not in ACTIVATIONS:
        allowed = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {allowed}")
    return name


def neurons_forward(x: Sequence[Value | Number], weights: Sequence[Sequence[Value]],
                    biases: Sequence[Value], activation: str) -> list[Value]:
    """``activation(w · x + b)`` for each row ``w`` of ``weights``: a layer of neurons' outputs.

    Every neuron's graph is built here and nowhere else: one node per neuron, the fused op
    ``affine>activation`` (``autograd.linear`` with an activation; a plain ``affine`` node for
    ``linear``), so a network has as many op nodes as neurons.

    >>> w, b = [[Value(1.0), Value(-1.0)]], [Value(0.5)]
    >>> [(v.op, round(v.data, 4)) for v in neurons_forward([2.0, 1.0], w, b, "tanh")]
    [('affine>tanh', 0.9051)]
    """
    return autograd.linear(x, weights, biases, activation=ACTIVATION_OPS[activation])


def init_bound(activation: str, fan_in: int, fan_out: int) -> float:
    """Half-width of the uniform distribution the weights are drawn from (see the module doc).

    >>> round(init_bound("relu", 2, 16), 4), round(init_bound("linear", 16, 1), 4)
    (1.7321, 0.5941)
    """
    check_activation(activation)
    if activation in ("relu", "gelu"):
        return math.sqrt(2.0) * math.sqrt(3.0 / fan_in)
    if activation == "leaky_relu":
        return math.sqrt(2.0 / (1.0 + LEAKY_RELU_SLOPE**2)) * math.sqrt(3.0 / fan_in)
    gain = 5.0 / 3.0 if activation == "tanh" else 1.0
    return gain * math.sqrt(6.0 / (fan_in + fan_out))


class StateDictError(ValueError, KeyError):
    """A state dict that does not fit the module: names missing, unexpected or mis-sized.

    It is both a ``ValueError`` and a ``KeyError``, so either ``except`` catches it.

    >>> try:
    ...     Neuron(1, seed=0).load_state_dict({})
    ... except KeyError as error:
    ...     print(error)
    Neuron.load_state_dict: missing 'weight', 'bias'
    """

    __str__ = BaseException.__str__  # KeyError would put the message in quotes


class Module:
    """Base class: finds the parameters held in attributes; ``model(x)`` calls ``forward(x)``.

    Attributes whose names start with ``_`` are skipped.

    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.k = Value(2.0)
    ...     def forward(self, x):
    ...         return self.k * x
    >>> m = Scale()
    >>> m(3.0).data, m.state_dict()
    (6.0, {'k': 2.0})
    """

    def forward(self, *args, **kwargs):
        """What the module computes; subclasses define it, and ``module(x)`` calls it.

        >>> Module()(1.0)
        Traceback (most recent call last):
        ...
        NotImplementedError: Module must define forward()
        """
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    def _entries(self, prefix: str = "") -> Iterator[tuple[str, Value | list[Value]]]:
        """(name, parameter or list of parameters), recursing into sub-modules, in order."""
        for attr, obj in vars(self).items():
            if attr.startswith("_"):
                continue
            if isinstance(obj, Value):
                yield prefix + attr, obj
            elif isinstance(obj, Module):
                yield from obj._entries(f"{prefix}{attr}.")
            elif isinstance(obj, (list, tuple)) and obj:
                if all(isinstance(v, Value) for v in obj):
                    yield prefix + attr, list(obj)
                elif all(isinstance(m, Module) for m in obj):
                    for i, m in enumerate(obj):
                        yield from m._entries(f"{prefix}{attr}.{i}.")

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name; list entries get their index as a suffix.

        A Value held in two places (shared weights) is listed once, under its first name, so an
        optimizer updates it once per step.

        >>> [name for name, _ in Neuron(2, seed=0).named_parameters()]
        ['weight.0', 'weight.1', 'bias']
        """
        named, seen = [], set()
        for name, entry in self._entries():
            pairs = [(name, entry)] if isinstance(entry, Value) else \
                [(f"{name}.{i}", v) for i, v in enumerate(entry)]
            for pair in pairs:
                if pair[1] not in seen:
                    seen.add(pair[1])
                    named.append(pair)
        return named

    def parameters(self) -> list[Value]:
        """Every parameter, in the order of ``named_parameters``.

        >>> len(MLP(2, [16, 16, 1], seed=0).parameters())
        337
        """
        return [v for _, v in self.named_parameters()]

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 (gradients accumulate across ``backward`` calls).

        >>> n = Neuron(1, seed=0); n([1.0]).backward(); n.zero_grad(); n.bias.grad
        0.0
        """
        for p in self.parameters():
            p.grad = 0.0

    def state_dict(self) -> StateDict:
        """The parameters' values by name: a float per scalar, a list of floats per list.

        >>> Neuron(2, activation="linear", seed=0).state_dict()["bias"]
        0.0
        """
        return {name: entry.data if isinstance(entry, Value) else [v.data for v in entry]
                for name, entry in self._entries()}

    def load_state_dict(self, state_dict: Mapping[str, Number | Sequence[Number]],
                        strict: bool = True) -> None:
        """Copy the values of ``state_dict`` into the parameters, after checking all of it.

        Names missing from ``state_dict`` or unexpected in it (with ``strict=True``), entries of
        the wrong size and values that are not finite numbers raise ``StateDictError`` (a
        ``ValueError`` and a ``KeyError``) naming every problem; the module is then untouched.

        >>> a, b = Neuron(2, seed=0), Neuron(2, seed=1)
        >>> b.load_state_dict(a.state_dict()); b.state_dict() == a.state_dict()
        True
        >>> b.load_state_dict({"weight": [1.0]})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        nn.module.StateDictError: Neuron.load_state_dict: missing 'bias'; 'weight' has 1 ...
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"load_state_dict needs a mapping of names to numbers, "
                            f"got {type(state_dict).__name__}")
        entries = dict(self._entries())
        problems = []
        if strict:
            missing = [name for name in entries if name not in state_dict]
            unexpected = [name for name in state_dict if name not in entries]
            if missing:
                problems.append("missing " + ", ".join(map(repr, missing)))
            if unexpected:
                problems.append("unexpected " + ", ".join(map(repr, unexpected)))
        updates: list[tuple[Value, float]] = []
        for name, entry in entries.items():
            if name not in state_dict:
                continue
            given = state_dict[name]
            if isinstance(entry, Value):
                if not _is_number(given):
                    problems.append(f"{name!r} must be a finite number, got {_describe(given)}")
                else:
                    updates.append((entry, float(given)))
            elif not isinstance(given, (list, tuple)):
                problems.append(f"{name!r} must be a list of {len(entry)} numbers, "
                                f"got {_describe(given)}")
            elif len(given) != len(entry):
                problems.append(f"{name!r} has {len(given)} value(s) but the parameter has "
                                f"{len(entry)}")
            elif not all(map(_is_number, given)):
                bad = next(x for x in given if not _is_number(x))
                problems.append(f"{name!r} must hold finite numbers, got {_describe(bad)}")
            else:
                updates.extend(zip(entry, map(float, given)))
        if problems:
            raise StateDictError(f"{type(self).__name__}.load_state_dict: " + "; ".join(problems))
        for value, number in updates:
            value.data = number


def _is_number(x: object) -> bool:
    return (isinstance(x, (int, float)) and not isinstance(x, bool)) and math.isfinite(x)


def _describe(x: object) -> str:
    return f"{type(x).__name__} {x!r}" if not isinstance(x, (list, tuple)) else \
        f"a {type(x).__name__} of {len(x)}"


def _rng(seed: int | random.Random | None) -> random.Random:
    return seed if isinstance(seed, random.Random) else random.Random(seed)


class Neuron(Module):
    """``activation(w · x + b)``: ``nin`` weights and a bias.

    ``seed`` is an int (or a ``random.Random`` to draw from); ``fan_out`` only matters for the
    Xavier initialisation of tanh, sigmoid and linear neurons (see the module doc).

    >>> n = Neuron(3, activation="tanh", seed=0)
    >>> y = n([1.0, -2.0, 0.5])
    >>> y.op, len(n.parameters())
    ('affine>tanh', 4)
    """

    def __init__(self, nin: int, activation: str = "relu", *, fan_out: int = 1,
                 seed: int | random.Random | None = None) -> None:
        if nin < 1:
            raise ValueError(f"Neuron needs at least one input, got nin={nin}")
        self.activation = check_activation(activation)
        rng = _rng(seed)
        bound = init_bound(activation, nin, fan_out)
        self.weight = [Value(rng.uniform(-bound, bound)) for _ in range(nin)]
        self.bias = Value(0.0)

    @property
    def nin(self) -> int:
        """The number of inputs. ``Neuron(3).nin == 3``."""
        return len(self.weight)

    @property
    def w(self) -> list[Value]:
        """The weights, under micrograd's name: ``n.w is n.weight``."""
        return self.weight

    @property
    def b(self) -> Value:
        """The bias, under micrograd's name. ``Neuron(3).b.data == 0.0``."""
        return self.bias

    def forward(self, x: Sequence[Value | Number]) -> Value:
        """``activation(weight · x + bias)``. ``Neuron(1, "linear", seed=0)([0.0]).data == 0.0``."""
        _check_inputs(self, x, self.nin)
        return neurons_forward(x, [self.weight], [self.bias], self.activation)[0]

    def __repr__(self) -> str:
        return f"Neuron({self.nin}, activation={self.activation!r})"


class Layer(Module):
    """``nout`` neurons reading the same ``nin`` inputs; one output comes back as one Value.

    >>> layer = Layer(2, 3, seed=0)
    >>> len(layer([1.0, 2.0])), len(layer.parameters())
    (3, 9)
    """

    def __init__(self, nin: int, nout: int, activation: str = "relu", *,
                 seed: int | random.Random | None = None) -> None:
        if nout < 1:
            raise ValueError(f"Layer needs at least one output, got nout={nout}")
        rng = _rng(seed)
        self.activation = check_activation(activation)
        self.neurons = [Neuron(nin, activation, fan_out=nout, seed=rng) for _ in range(nout)]

    @property
    def nin(self) -> int:
        """The number of inputs. ``Layer(3, 2).nin == 3``."""
        return self.neurons[0].nin

    def forward(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        """Every neuron on ``x``: a list, or one Value for a one-neuron layer.

        >>> len(Layer(2, 4, seed=0)([1.0, 2.0]))
        4
        """
        _check_inputs(self, x, self.nin)
        out = neurons_forward(x, [n.weight for n in self.neurons],
                              [n.bias for n in self.neurons], self.activation)
        return out[0] if len(out) == 1 else out

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {len(self.neurons)}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then one ``Layer`` per entry of ``nouts``.

    Hidden layers use ``activation``; the last layer is linear (it gives scores or logits). A
    network with one output returns one ``Value``, otherwise a list. ``MLP(2, [16, 16, 1])`` is
    micrograd's demo network.

    >>> model = MLP(2, [16, 16, 1], seed=0)
    >>> model
    MLP(2, [16, 16, 1], activation='relu')
    >>> score = model([0.5, -1.0]); score.op
    'affine'
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 seed: int | random.Random | None = None) -> None:
        if not nouts:
            raise ValueError("MLP needs at least one layer: nouts is empty")
        check_activation(activation)
        rng = _rng(seed)
        sizes = [nin, *nouts]
        self.activation = activation
        self.layers = [Layer(sizes[i], sizes[i + 1],
                             activation if i < len(nouts) - 1 else "linear", seed=rng)
                       for i in range(len(nouts))]

    @property
    def nin(self) -> int:
        """The number of inputs. ``MLP(2, [3, 1]).nin == 2``."""
        return self.layers[0].nin

    @property
    def nouts(self) -> list[int]:
        """Each layer's size. ``MLP(2, [3, 1]).nouts == [3, 1]``."""
        return [len(layer.neurons) for layer in self.layers]

    def forward(self, x: Sequence[Value | Number]) -> Value | list[Value]:
        """The layers one after the other: one Value for one output, else a list.

        >>> len(MLP(2, [4, 3], seed=0)([1.0, 2.0]))
        3
        """
        for layer in self.layers:
            x = layer(x)
            if isinstance(x, Value):
                x = [x]
        return x[0] if len(x) == 1 else x

    def __repr__(self) -> str:
        return f"MLP({self.nin}, {self.nouts}, activation={self.activation!r})"


def _check_inputs(module: Module, x: Sequence, nin: int) -> None:
    if len(x) != nin:
        raise ValueError(f"{type(module).__name__} takes {nin} input(s), got {len(x)}")
