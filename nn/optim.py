"""Optimizers with PyTorch's update formulas, argument names and argument checks.

Each one holds a list of parameters (``Value``s) and, per parameter, the state its formula needs,
in float64 numpy arrays with one entry per parameter. ``step()`` reads every gradient at once
(``autograd.recording.read_floats``), computes the update on arrays, and writes every parameter's
``.data`` at once (``write_floats``): no Python loop per parameter, which matters once the graph
itself is replayed by ``autograd.compile``. The array operations are the formula's own, in the
same order, and numpy rounds each one as Python's float arithmetic does, so the numbers are bit
for bit those of a loop over the parameters. ``zero_grad()`` resets the gradients, which
otherwise accumulate across ``backward`` calls. ``lr`` can be set at any time (a learning-rate
schedule is a loop that sets it).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from autograd import Value
from autograd.recording import read_floats, write_floats
from nn.validation import finite_float, int_rule, number_rule


class Optimizer:
    """Base class: the parameter list, ``lr``, ``zero_grad`` and ``state_dict``.

    >>> p = Value(1.0); opt = SGD([p], lr=0.1); p.grad = 2.0
    >>> opt.step(); round(p.data, 10)
    0.8
    """

    _hyperparameters: tuple[str, ...] = ("lr",)

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params: list[Value] = _parameter_list(type(self).__name__, params)
        self.lr = lr
        self.steps = 0  # how many times step() has run

    @property
    def lr(self) -> float:
        """The learning rate; setting it checks it, as the constructor does.

        >>> opt = SGD([Value(1.0)], lr=0.1); opt.lr = 0.05; opt.lr
        0.05
        """
        return self._lr

    @lr.setter
    def lr(self, lr: float) -> None:
        self._lr = _check("learning rate", lr)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to 0.0.

        >>> p = Value(1.0); p.grad = 3.0; SGD([p], lr=0.1).zero_grad(); p.grad
        0.0
        """
        write_floats(self.params, "grad", np.zeros(len(self.params)))

    def step(self) -> None:
        """Update every parameter once from its ``.grad`` (each optimizer defines it).

        >>> Optimizer([Value(1.0)], lr=0.1).step()
        Traceback (most recent call last):
        ...
        NotImplementedError
        """
        raise NotImplementedError

    def _data(self) -> np.ndarray:
        """Every parameter's ``.data``, as a float64 array."""
        return np.frombuffer(read_floats(self.params, "data"), dtype=np.float64)

    def _grads(self) -> np.ndarray:
        """Every parameter's ``.grad`` as a float64 array; a gradient that is a ``Value`` (from
        ``backward(create_graph=True)``) counts as its ``.data``."""
        try:
            return np.frombuffer(read_floats(self.params, "grad"), dtype=np.float64)
        except TypeError:  # some .grad is a Value or an int, set by hand
            return np.array([float(g.data if isinstance(g, Value) else g)
                             for g in (p.grad for p in self.params)])

    def _write(self, data: np.ndarray) -> None:
        write_floats(self.params, "data", data)

    def state_dict(self) -> dict[str, Any]:
        """Hyperparameters, the step count and the per-parameter state, as plain JSON data.

        >>> SGD([Value(1.0)], lr=0.1, momentum=0.9).state_dict()["momentum_buffer"]
        [None]
        """
        state: dict[str, Any] = {"optimizer": type(self).__name__, "steps": self.steps}
        state.update({name: getattr(self, name) for name in self._hyperparameters})
        state.update(self._buffers())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` returned; checks everything before changing anything.

        A state for another optimizer, a missing key, a buffer of the wrong length or holding
        something other than finite numbers, or a step count that is not an int >= 0 raises
        ``ValueError`` (``TypeError`` for a state that is not a mapping) naming the key; the
        optimizer is then unchanged.

        >>> a = Adam([Value(1.0)], lr=0.1); b = Adam([Value(1.0)])
        >>> b.load_state_dict(a.state_dict()); b.lr
        0.1
        >>> b.load_state_dict({**a.state_dict(), "exp_avg_sq": [float("nan")]})
        Traceback (most recent call last):
        ...
        ValueError: Adam.load_state_dict: 'exp_avg_sq'[0] must be a finite number >= 0, got nan
        """
        name = type(self).__name__
        where = f"{name}.load_state_dict"
        if not isinstance(state, Mapping):
            raise TypeError(f"{where}: needs a mapping (what state_dict() returns), got "
                            f"{type(state).__name__}")
        if state.get("optimizer") != name:
            raise ValueError(f"{where}: this state is for {state.get('optimizer')!r}, not {name}")
        buffers = self._buffers()
        missing = [k for k in ("steps", *self._hyperparameters, *buffers) if k not in state]
        if missing:
            raise ValueError(f"{where}: missing {', '.join(map(repr, missing))}")
        steps = state["steps"]
        if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 0:
            raise ValueError(f"{where}: 'steps' must be {int_rule(0)}, got {steps!r}")
        try:
            probe = type(self)(self.params, **{k: state[k] for k in self._hyperparameters})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{where}: {error}") from None
        loaded = {key: self._check_buffer(where, key, state[key]) for key in buffers}
        # everything is checked: from here on nothing can fail
        for key in self._hyperparameters:
            setattr(self, key, getattr(probe, key))
        self._load_buffers(loaded)
        self.steps = int(steps)

    def _check_buffer(self, where: str, key: str, entries: Any) -> list[float | None]:
        """A saved per-parameter buffer as floats, or a ``ValueError`` naming what is wrong."""
        if isinstance(entries, (str, bytes, Mapping)) or not isinstance(entries, Sequence):
            raise ValueError(f"{where}: {key!r} must be a list with one entry per parameter, "
                             f"got {type(entries).__name__}")
        if len(entries) != len(self.params):
            raise ValueError(f"{where}: {key!r} has {len(entries)} entries for "
                             f"{len(self.params)} parameters")
        allows_none = key == "momentum_buffer"  # None: no step has made the buffer yet
        at_least_0 = key == "exp_avg_sq"  # a running average of squares
        loaded: list[float | None] = []
        for i, x in enumerate(entries):
            if x is None and allows_none:
                loaded.append(None)
                continue
            number = finite_float(x)
            if number is None or (at_least_0 and number < 0):
                wanted = number_rule(positive=False) if at_least_0 else "a finite number"
                raise ValueError(f"{where}: {key!r}[{i}] must be {wanted}"
                                 f"{' or None' if allows_none else ''}, got {x!r}")
            loaded.append(number)
        return loaded

    def _buffers(self) -> dict[str, list]:
        """The per-parameter state by name, as lists of floats (``None``: not made yet)."""
        return {}

    def _load_buffers(self, loaded: dict[str, list[float | None]]) -> None:
        """Take the checked lists of ``load_state_dict`` as the per-parameter state."""

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._hyperparameters)
        return f"{type(self).__name__}({len(self.params)} parameters, {args})"


class SGD(Optimizer):
    """Stochastic gradient descent, with momentum, dampening, Nesterov and weight decay.

    As ``torch.optim.SGD``: ``g = grad + weight_decay * p``; with momentum,
    ``buf = g`` at the first step, then ``buf = momentum * buf + (1 - dampening) * g``, and
    ``g = g + momentum * buf`` (Nesterov) or ``g = buf``; finally ``p -= lr * g``.

    >>> p = Value(1.0); opt = SGD([p], lr=0.1, momentum=0.9)
    >>> for _ in range(2):
    ...     p.grad = 1.0; opt.step()
    >>> round(p.data, 10)   # 1 - 0.1 * 1 - 0.1 * (0.9 + 1)
    0.71
    """

    _hyperparameters = ("lr", "momentum", "dampening", "weight_decay", "nesterov")

    def __init__(self, params: Iterable[Value], lr: float = 1e-3, momentum: float = 0.0,
                 dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False) -> None:
        super().__init__(params, lr)
        self.momentum = _check("momentum value", momentum)
        self.dampening = _check("dampening value", dampening)
        self.weight_decay = _check("weight_decay value", weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        self.nesterov = bool(nesterov)
        n = len(self.params)
        self._momentum = np.zeros(n)  # each parameter's momentum buffer, where _started
        self._started = np.zeros(n, dtype=bool)  # False: PyTorch's None, no buffer yet

    @property
    def momentum_buffer(self) -> list[float | None]:
        """Each parameter's momentum buffer, ``None`` before the first step (a copy, as a list).

        >>> p = Value(1.0); opt = SGD([p], lr=0.1, momentum=0.9); opt.momentum_buffer
        [None]
        >>> p.grad = 2.0; opt.step(); opt.momentum_buffer
        [2.0]
        """
        return [x if started else None
                for x, started in zip(self._momentum.tolist(), self._started.tolist())]

    def _buffers(self) -> dict[str, list]:
        return {"momentum_buffer": self.momentum_buffer}

    def _load_buffers(self, loaded: dict[str, list[float | None]]) -> None:
        buffer = loaded["momentum_buffer"]
        self._started = np.array([x is not None for x in buffer], dtype=bool)
        self._momentum = np.array([0.0 if x is None else x for x in buffer])

    def step(self) -> None:
        """Update every parameter once from its ``.grad``.

        >>> p = Value(1.0); opt = SGD([p], lr=0.5, weight_decay=1.0); p.grad = 1.0
        >>> opt.step(); p.data   # 1 - 0.5 * (1 + 1.0 * 1)
        0.0
        """
        lr, momentum, dampening, wd = self.lr, self.momentum, self.dampening, self.weight_decay
        data, g = self._data(), self._grads()
        if wd:
            g = g + wd * data
        if momentum:
            buf = momentum * self._momentum + (1.0 - dampening) * g
            if not self._started.all():  # the first step: the buffer is the gradient itself
                buf = np.where(self._started, buf, g)
                self._started[:] = True
            self._momentum = buf
            g = g + momentum * buf if self.nesterov else buf
        self._write(data - lr * g)
        self.steps += 1


class Adam(Optimizer):
    """Adam (Kingma & Ba), with PyTorch's formulas; ``weight_decay`` is L2 added to the gradient.

    At step t: ``g = grad + weight_decay * p``, ``m = b1 m + (1 - b1) g``,
    ``v = b2 v + (1 - b2) g²``, and ``p -= lr * m̂ / (sqrt(v̂) + eps)`` with the bias-corrected
    ``m̂ = m / (1 - b1**t)`` and ``v̂ = v / (1 - b2**t)``.

    >>> p = Value(1.0); opt = Adam([p], lr=0.1); p.grad = 5.0
    >>> opt.step(); round(p.data, 6)   # the first step moves by lr whatever the gradient's size
    0.9
    """

    _hyperparameters = ("lr", "betas", "eps", "weight_decay")
    _decoupled = False

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        if not isinstance(betas, (tuple, list)) or len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        for i, beta in enumerate(betas):
            if isinstance(beta, bool) or not isinstance(beta, numbers.Real) \
                    or not 0.0 <= beta < 1.0:
                raise ValueError(f"Invalid beta parameter at index {i}: {beta}")
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps = _check("epsilon value", eps)
        if self.eps == 0.0:
            raise ValueError("Invalid epsilon value: 0.0 (eps must be > 0: it keeps the step "
                             "finite when a parameter's gradients have all been 0)")
        self.weight_decay = _check("weight_decay value", weight_decay)
        self.exp_avg = np.zeros(len(self.params))
        """Each parameter's running average of the gradient (``m``), a float64 array."""
        self.exp_avg_sq = np.zeros(len(self.params))
        """Each parameter's running average of the squared gradient (``v``), a float64 array."""

    def _buffers(self) -> dict[str, list]:
        return {"exp_avg": self.exp_avg.tolist(), "exp_avg_sq": self.exp_avg_sq.tolist()}

    def _load_buffers(self, loaded: dict[str, list[float | None]]) -> None:
        self.exp_avg = np.array(loaded["exp_avg"], dtype=np.float64)
        self.exp_avg_sq = np.array(loaded["exp_avg_sq"], dtype=np.float64)

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if isinstance(state, Mapping) and isinstance(state.get("betas"), list):
            state = {**state, "betas": tuple(state["betas"])}  # JSON turns the tuple into a list
        super().load_state_dict(state)

    def step(self) -> None:
        """Update every parameter once from its ``.grad``.

        >>> p = Value(1.0); opt = Adam([p], lr=0.1); p.grad = -3.0
        >>> opt.step(); round(p.data, 6), opt.steps
        (1.1, 1)
        """
        self.steps += 1
        t, lr, eps, wd = self.steps, self.lr, self.eps, self.weight_decay
        beta1, beta2 = self.betas
        step_size = lr / (1.0 - beta1**t)
        sqrt_correction2 = math.sqrt(1.0 - beta2**t)
        data, g = self._data(), self._grads()  # fresh arrays: changed in place below
        if wd:
            if self._decoupled:
                data *= 1.0 - lr * wd
            else:
                g += wd * data
        # in place, the formulas' operations in their order (each rounded as Python rounds it):
        m, v, scratch = self.exp_avg, self.exp_avg_sq, (1.0 - beta1) * g
        m *= beta1
        m += scratch  # m = beta1 * m + (1 - beta1) * g
        np.multiply(g, 1.0 - beta2, out=scratch)
        scratch *= g
        v *= beta2
        v += scratch  # v = beta2 * v + (1 - beta2) * g * g
        np.sqrt(v, out=scratch)
        scratch /= sqrt_correction2
        scratch += eps  # the denominator, sqrt(v) / sqrt(1 - beta2**t) + eps
        step = step_size * m
        step /= scratch
        data -= step
        self._write(data)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``.

    Each step first shrinks the parameter, ``p *= 1 - lr * weight_decay``, then takes the Adam
    step on the gradient alone. The default ``weight_decay`` is PyTorch's, 1e-2.

    >>> p = Value(1.0); opt = AdamW([p], lr=0.1); p.grad = 0.0
    >>> opt.step(); round(p.data, 6)
    0.999
    """

    _decoupled = True

    def __init__(self, params: Iterable[Value], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


def _parameter_list(optimizer: str, params: Iterable[Value]) -> list[Value]:
    """``params`` as a list of distinct Values, or an error saying what to pass instead."""
    usage = f"{optimizer}(model.parameters(), lr=...)"
    if isinstance(params, Value):
        raise TypeError(f"{optimizer}: params must be a list of Values, as in {usage}; got a "
                        f"single Value (wrap it in a list)")
    if callable(getattr(params, "parameters", None)):
        raise TypeError(f"{optimizer}: params must be a list of Values; got the "
                        f"{type(params).__name__} itself: pass its parameters, {usage}")
    if callable(params):
        name = getattr(params, "__name__", type(params).__name__)
        raise TypeError(f"{optimizer}: params must be a list of Values; got the method "
                        f"{name} itself: call it, {usage}")
    if isinstance(params, (str, bytes, Mapping)) or not isinstance(params, Iterable):
        raise TypeError(f"{optimizer}: params must be a list of Values, as in {usage}; got "
                        f"{type(params).__name__}")
    params = list(params)
    if not params:
        raise ValueError(f"{optimizer}: got an empty parameter list")
    first: dict[int, int] = {}
    for i, p in enumerate(params):
        if not isinstance(p, Value):
            raise TypeError(f"{optimizer}: params[{i}] is a {type(p).__name__}, not a Value")
        j = first.setdefault(id(p), i)
        if j != i:
            raise ValueError(f"{optimizer}: params[{i}] is params[{j}] again; pass each "
                             f"parameter once, or it is updated twice per step "
                             f"(model.parameters() lists a shared Value once)")
    return params


def _check(what: str, x: float) -> float:
    """A hyperparameter that must be a finite number >= 0 (PyTorch's wording for the error)."""
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"{what} must be a number, got {type(x).__name__} {x!r}")
    number = finite_float(x)
    if number is None or number < 0.0:
        raise ValueError(f"Invalid {what}: {x} (it must be {number_rule(positive=False)})")
    return number
