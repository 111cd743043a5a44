"""Modules: ``Module`` (parameters and state dicts), ``Neuron``, ``Layer`` and ``MLP``.

A module's parameters are the ``Value``s it holds in its attributes, found the way PyTorch's
``ModuleList``, ``ModuleDict`` and ``ParameterList`` find them: an attribute that is a
``Value``, a ``Module``, or a list, tuple or dict of them (nested as deep as you like)
contributes its parameters under its attribute name, list items under their index and dict
items under their key: ``layers.0.neurons.3.weight``, ``heads.left.bias``. A list of Values is
one state-dict entry (a list of floats). A set, or any other container holding Values, is
refused with a ``TypeError`` rather than skipped; attributes whose names start with ``_`` are
not searched.

A ``Value`` held in several places (tied weights) is one parameter: it is listed, saved and
stepped once, under the first name it is found at.

Each neuron's weights are initialised as its activation's entry in ``nn.activations`` says
(Kaiming or Xavier uniform), biases to 0. The random numbers come from
``random.Random(seed)``, never from the global generator, so the same seed gives the same
network whatever else the program does.
"""

from __future__ import annotations

import itertools
import numbers
import random
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Union

import autograd
from autograd import Value
from autograd.recording import is_recording
from nn.activations import get_activation
from nn.validation import (
    check_int,
    check_sample,
    describe,
    finite_float,
    make_rng,
    overflow_hint,
)

Number = Union[int, float]
StateDict = dict[str, Union[float, list[float]]]

MAX_PARAMETERS = 10_000_000
"""The most parameters a ``Neuron``, ``Layer`` or ``MLP`` may have (checked before allocating).

Each parameter is a ``Value`` (a Python object of about 100 bytes) and a training step builds a
graph node per neuron and sample, so ten million parameters is already far beyond what a scalar
engine trains in reasonable time; a typo such as ``MLP(10**9, [1])`` is refused at once instead
of filling the memory. Set ``nn.module.MAX_PARAMETERS`` higher if you mean it.
"""


def _neurons_forward(x: Sequence[Value | Number], weights: Sequence[Sequence[Value]],
                    biases: Sequence[Value], activation: str) -> list[Value]:
    """``activation(w · x + b)`` for each row ``w`` of ``weights``: a layer of neurons' outputs.

    Every neuron's graph is built here and nowhere else: one node per neuron, the fused op
    ``affine>activation`` (``autograd.linear`` with the activation's op; a plain ``affine``
    node for ``linear``), so a network has as many op nodes as neurons.

    >>> w, b = [[Value(1.0), Value(-1.0)]], [Value(0.5)]
    >>> [(v.op, round(v.data, 4)) for v in _neurons_forward([2.0, 1.0], w, b, "tanh")]
    [('affine>tanh', 0.9051)]
    """
    return autograd.linear(x, weights, biases, activation=get_activation(activation).op)


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

    >>> class Scale(Module):
    ...     def __init__(self):
    ...         self.k = Value(2.0)
    ...         self.shifts = {"a": Value(0.5), "b": [Value(1.0), Value(2.0)]}
    ...     def forward(self, x):
    ...         return self.k * x + self.shifts["a"]
    >>> m = Scale()
    >>> m(3.0).data, m.state_dict()
    (6.5, {'k': 2.0, 'shifts.a': 0.5, 'shifts.b': [1.0, 2.0]})
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
        try:
            return self.forward(*args, **kwargs)
        except OverflowError as error:  # say it shortly, with its usual cause in training
            if is_recording():  # the hint reads the parameters' numbers, which is refused then
                raise
            raise overflow_hint(type(self).__name__, error,
                                (p.data for p in self.parameters()), "its parameters") from None

    def _entries(self) -> list[tuple[str, Value | list[Value]]]:
        """(name, parameter or list of parameters) for every parameter, each Value once."""
        return list(_find(self, "", set(), set(), type(self).__name__))

    def named_parameters(self) -> list[tuple[str, Value]]:
        """Every parameter with its dotted name; list entries get their index as a suffix.

        A Value held in two places (shared weights) is listed once, under its first name, so an
        optimizer updates it once per step.

        >>> [name for name, _ in Neuron(2, seed=0).named_parameters()]
        ['weight.0', 'weight.1', 'bias']
        """
        named = []
        for name, entry in self._entries():
            if isinstance(entry, Value):
                named.append((name, entry))
            else:
                named.extend((f"{name}.{i}", v) for i, v in enumerate(entry))
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
        ``ValueError`` and a ``KeyError``) naming the problems (the first few of each kind, and
        how many more); the module is then untouched.
        Any real number is accepted (``int``, ``float``, numpy's scalars...) and stored as a
        ``float``.

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
                problems.append("missing " + _first_few(missing, "missing"))
            if unexpected:
                problems.append("unexpected " + _first_few(unexpected, "unexpected"))
        updates: list[tuple[Value, float]] = []
        for name, entry in entries.items():
            if name not in state_dict:
                continue
            given = state_dict[name]
            if isinstance(entry, Value):
                number = finite_float(given)
                if number is None:
                    problems.append(f"{name!r} must be a finite number, got {describe(given)}")
                else:
                    updates.append((entry, number))
            elif isinstance(given, (str, bytes, Mapping)) or not isinstance(given, Collection):
                problems.append(f"{name!r} must be a list of {len(entry)} numbers, "
                                f"got {describe(given)}")
            elif len(given) != len(entry):
                problems.append(f"{name!r} has {len(given)} value(s) but the parameter has "
                                f"{len(entry)}")
            else:
                numbers_ = [finite_float(x) for x in given]
                if None in numbers_:
                    i = numbers_.index(None)
                    problems.append(f"{name!r} must hold finite numbers, got "
                                    f"{describe(list(given)[i])} at index {i}")
                else:
                    updates.extend(zip(entry, numbers_))
        if problems:
            shown = problems[:_SHOWN]  # the missing and unexpected lists come first
            more = len(problems) - len(shown)
            raise StateDictError(f"{type(self).__name__}.load_state_dict: " + "; ".join(shown)
                                 + (f"; and {more} more problems" if more else ""))
        for value, number in updates:
            value.data = number


_SHOWN = 8  # names or problems of one kind that a StateDictError lists before counting the rest


def _first_few(names: list[str], kind: str) -> str:
    shown = ", ".join(map(repr, names[:_SHOWN]))
    return shown + (f" and {len(names) - _SHOWN} more {kind}" if len(names) > _SHOWN else "")


def _find(obj: object, name: str, seen: set[int], containers: set[int],
          owner: str) -> Iterator[tuple[str, Value | list[Value]]]:
    """The parameter entries under ``obj``, named from ``name``, skipping Values in ``seen``.

    ``owner`` (the class of the module asked) names the place in errors. ``containers`` holds
    the ids of the modules, lists and dicts already walked, so a module held twice is walked
    once and a container that holds itself ends the walk.
    """
    if isinstance(obj, Value):
        if id(obj) not in seen:
            seen.add(id(obj))
            yield name, obj
        return
    if not isinstance(obj, (Module, list, tuple, Mapping)):
        if _holds_parameters(obj):
            raise TypeError(f"{owner}.{name} is a {type(obj).__name__} holding Values or "
                            f"Modules; a Module finds its parameters in Values, Modules and "
                            f"lists, tuples and dicts of them (use a list or a dict)")
        return
    if id(obj) in containers:
        return
    containers.add(id(obj))
    prefix = f"{name}." if name else ""
    if isinstance(obj, Module):
        for attr, child in vars(obj).items():
            if not attr.startswith("_"):
                yield from _find(child, prefix + attr, seen, containers, owner)
    elif isinstance(obj, Mapping):
        for key, child in obj.items():
            if (not isinstance(key, str) or not key or "." in key) and _holds_parameters(child):
                raise TypeError(f"{owner}.{name} has the key {key!r} holding parameters; "
                                f"keys of a dict of parameters must be non-empty strings "
                                f"without '.', since they become part of the parameters' names")
            yield from _find(child, prefix + str(key), seen, containers, owner)
    elif obj and all(isinstance(v, Value) for v in obj) and _all_new(obj, seen):
        seen.update(map(id, obj))  # a list of new Values: one entry, a list of floats
        yield name, list(obj)
    else:
        for i, child in enumerate(obj):
            yield from _find(child, f"{prefix}{i}", seen, containers, owner)


def _all_new(values: Sequence[Value], seen: set[int]) -> bool:
    ids = set(map(id, values))
    return len(ids) == len(values) and seen.isdisjoint(ids)


def _holds_parameters(obj: object) -> bool:
    """Whether ``obj`` is or holds (at any depth) a Value or a Module."""
    if isinstance(obj, (Value, Module)):
        return True
    if isinstance(obj, (str, bytes, bytearray, range)) or not isinstance(obj, Collection):
        return False
    if getattr(getattr(obj, "dtype", None), "kind", "O") != "O":
        return False  # a numpy array of numbers
    items = obj.values() if isinstance(obj, Mapping) else obj
    return any(_holds_parameters(item) for item in items)


def check_parameter_count(call: str, count: int) -> None:
    """Refuse a module of more than ``MAX_PARAMETERS`` parameters before it is allocated.

    >>> check_parameter_count("MLP(10**9, [1])", 10**9 + 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: MLP(10**9, [1]) would have 1,000,000,001 parameters, more than ...
    """
    if count > MAX_PARAMETERS:
        raise ValueError(f"{call} would have {count:,} parameters, more than "
                         f"nn.module.MAX_PARAMETERS = {MAX_PARAMETERS:,}: each is a Python "
                         f"object, far too many for a scalar engine to train (raise "
                         f"MAX_PARAMETERS if you mean it)")


class Neuron(Module):
    """``activation(w · x + b)``: ``nin`` weights and a bias.

    ``seed`` is an int (or a ``random.Random`` to draw from); ``fan_out`` only matters for the
    Xavier initialisation of tanh, sigmoid and linear neurons (see ``nn.activations``).

    >>> n = Neuron(3, activation="tanh", seed=0)
    >>> y = n([1.0, -2.0, 0.5])
    >>> y.op, len(n.parameters())
    ('affine>tanh', 4)
    """

    def __init__(self, nin: int, activation: str = "relu", *, fan_out: int = 1,
                 seed: int | random.Random | None = None) -> None:
        nin = check_int("Neuron", "nin", nin)
        fan_out = check_int("Neuron", "fan_out", fan_out)
        check_parameter_count(f"Neuron({nin})", nin + 1)
        self.activation = get_activation(activation).name
        rng = make_rng(seed)
        bound = get_activation(activation).init_bound(nin, fan_out)
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
        x = check_sample(type(self).__name__, x, self.nin)
        return _neurons_forward(x, [self.weight], [self.bias], self.activation)[0]

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
        nin, nout = check_int("Layer", "nin", nin), check_int("Layer", "nout", nout)
        check_parameter_count(f"Layer({nin}, {nout})", (nin + 1) * nout)
        self.activation = get_activation(activation).name
        rng = make_rng(seed)
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
        out = self._forward(check_sample(type(self).__name__, x, self.nin))
        return out[0] if len(out) == 1 else out

    def _forward(self, x: Sequence[Value | Number]) -> list[Value]:
        return _neurons_forward(x, [n.weight for n in self.neurons],
                               [n.bias for n in self.neurons], self.activation)

    def __repr__(self) -> str:
        return f"Layer({self.nin}, {len(self.neurons)}, activation={self.activation!r})"


class MLP(Module):
    """A multi-layer perceptron: ``nin`` inputs, then one ``Layer`` per entry of ``nouts``.

    Hidden layers use ``activation``; the last layer is linear (it gives scores or logits). A
    network with one output returns one ``Value``, otherwise a list. ``MLP(2, [16, 16, 1])`` is
    micrograd's demo network. It takes one sample at a time: ``[model(x) for x in X.tolist()]``
    for a batch.

    >>> model = MLP(2, [16, 16, 1], seed=0)
    >>> model
    MLP(2, [16, 16, 1], activation='relu')
    >>> score = model([0.5, -1.0]); score.op
    'affine'
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 seed: int | random.Random | None = None) -> None:
        nin = check_int("MLP", "nin", nin)
        if isinstance(nouts, numbers.Number) or not isinstance(nouts, Collection) \
                or isinstance(nouts, (str, Mapping)):
            raise TypeError(f"MLP: nouts is the list of layer sizes, the last one being the "
                            f"number of outputs, like MLP(2, [16, 16, 1]); got "
                            f"{describe(nouts)} (for a single layer write [{nouts!r}])")
        sizes = [nin, *(check_int("MLP", f"nouts[{i}]", n) for i, n in enumerate(nouts))]
        if len(sizes) == 1:
            raise ValueError("MLP needs at least one layer: nouts is empty")
        check_parameter_count(f"MLP({nin}, {sizes[1:]})",
                               sum((a + 1) * b for a, b in itertools.pairwise(sizes)))
        self.activation = get_activation(activation).name
        rng = make_rng(seed)
        last = len(sizes) - 2
        self.layers = [Layer(sizes[i], sizes[i + 1], activation if i < last else "linear",
                             seed=rng)
                       for i in range(last + 1)]

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
        x = check_sample(type(self).__name__, x, self.nin)
        for layer in self.layers:  # checked once here, not again by each layer
            x = layer._forward(x)
        return x[0] if len(x) == 1 else x

    def __repr__(self) -> str:
        return f"MLP({self.nin}, {self.nouts}, activation={self.activation!r})"
