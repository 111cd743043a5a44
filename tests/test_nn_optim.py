"""Optimizers: steps against hand-computed values (and against PyTorch when it is installed)."""

from __future__ import annotations

import json
import math

import pytest

import nn
from autograd import Value
from nn import SGD, Adam, AdamW

GRADS = [0.5, -1.0, 2.0, 0.25]  # the gradient at each step, for one parameter starting at 1.0


def run(optimizer_class, grads=GRADS, start=1.0, **kwargs) -> list[float]:
    p = Value(start)
    opt = optimizer_class([p], **kwargs)
    trajectory = []
    for g in grads:
        opt.zero_grad()
        p.grad = g
        opt.step()
        trajectory.append(p.data)
    return trajectory


def sgd_by_hand(lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    p, buf, out = 1.0, None, []
    for g in GRADS:
        g = g + weight_decay * p
        if momentum:
            buf = g if buf is None else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        p -= lr * g
        out.append(p)
    return out


def adam_by_hand(lr, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0, decoupled=False):
    p, m, v, out = 1.0, 0.0, 0.0, []
    for t, g in enumerate(GRADS, start=1):
        if decoupled:
            p *= 1 - lr * weight_decay
        else:
            g = g + weight_decay * p
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        p -= lr * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + eps)
        out.append(p)
    return out


def test_sgd_plain_by_hand():
    # p = 1 - 0.1 * 0.5 = 0.95; then 0.95 + 0.1 = 1.05; 1.05 - 0.2 = 0.85; 0.85 - 0.025 = 0.825
    assert run(SGD, lr=0.1) == pytest.approx([0.95, 1.05, 0.85, 0.825])


@pytest.mark.parametrize("kwargs", [
    {"momentum": 0.9},
    {"momentum": 0.9, "dampening": 0.5},
    {"momentum": 0.9, "nesterov": True},
    {"weight_decay": 0.1},
    {"momentum": 0.5, "weight_decay": 0.01, "nesterov": True},
])
def test_sgd_variants_by_hand(kwargs):
    assert run(SGD, lr=0.1, **kwargs) == pytest.approx(sgd_by_hand(0.1, **kwargs), rel=1e-12)


def test_sgd_momentum_first_steps_spelled_out():
    # buf1 = 0.5, p = 1 - 0.05 = 0.95; buf2 = 0.9 * 0.5 - 1 = -0.55, p = 0.95 + 0.055 = 1.005
    assert run(SGD, grads=GRADS[:2], lr=0.1, momentum=0.9) == pytest.approx([0.95, 1.005])


def test_adam_first_step_moves_by_lr():
    # m̂ = g and v̂ = g² after one step, so the step is lr * g / (|g| + eps)
    assert run(Adam, grads=[0.5], lr=0.1) == pytest.approx([0.9], rel=1e-7)
    assert run(Adam, grads=[-2000.0], lr=0.1) == pytest.approx([1.1], rel=1e-7)


@pytest.mark.parametrize("kwargs", [
    {"lr": 0.1}, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-3}, {"lr": 0.1, "weight_decay": 0.5},
])
def test_adam_by_hand(kwargs):
    hand = adam_by_hand(kwargs["lr"], *kwargs.get("betas", (0.9, 0.999)),
                        eps=kwargs.get("eps", 1e-8), weight_decay=kwargs.get("weight_decay", 0.0))
    assert run(Adam, **kwargs) == pytest.approx(hand, rel=1e-12)


def test_adamw_decouples_weight_decay():
    assert AdamW([Value(0.0)]).weight_decay == 0.01  # PyTorch's default
    hand = adam_by_hand(0.1, weight_decay=0.5, decoupled=True)
    assert run(AdamW, lr=0.1, weight_decay=0.5) == pytest.approx(hand, rel=1e-12)
    assert run(AdamW, lr=0.1, weight_decay=0.5) != pytest.approx(run(Adam, lr=0.1,
                                                                     weight_decay=0.5))


def test_lr_is_settable_and_checked():
    p = Value(1.0)
    opt = SGD([p], lr=0.1)
    opt.lr = 0.5
    p.grad = 1.0
    opt.step()
    assert p.data == 0.5
    with pytest.raises(ValueError, match="Invalid learning rate"):
        opt.lr = -1.0


def test_zero_grad_and_several_parameters():
    params = [Value(1.0), Value(2.0)]
    opt = SGD(params, lr=1.0)
    (params[0] * params[1]).backward()
    assert [p.grad for p in params] == [2.0, 1.0]
    opt.step()
    assert [p.data for p in params] == [-1.0, 1.0]
    opt.zero_grad()
    assert [p.grad for p in params] == [0.0, 0.0]


def test_optimizers_accept_a_generator_and_a_model():
    model = nn.MLP(2, [3, 1], seed=0)
    opt = Adam(p for p in model.parameters())
    assert len(opt.params) == 13


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: SGD(p, lr=-1), "Invalid learning rate: -1"),
    (lambda p: SGD(p, lr=float("nan")), "Invalid learning rate"),
    (lambda p: SGD(p, lr=0.1, momentum=-0.5), "Invalid momentum value"),
    (lambda p: SGD(p, lr=0.1, weight_decay=-1), "Invalid weight_decay value"),
    (lambda p: SGD(p, lr=0.1, nesterov=True), "Nesterov momentum requires"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), "Nesterov"),
    (lambda p: Adam(p, lr=-0.1), "Invalid learning rate"),
    (lambda p: Adam(p, betas=(1.0, 0.999)), "Invalid beta parameter at index 0"),
    (lambda p: Adam(p, betas=(0.9, -0.1)), "Invalid beta parameter at index 1"),
    (lambda p: Adam(p, eps=-1e-8), "Invalid epsilon value"),
    (lambda p: AdamW(p, weight_decay=-0.01), "Invalid weight_decay value"),
    (lambda p: SGD([], lr=0.1), "empty parameter list"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=float("nan")), "Invalid dampening value"),
    (lambda p: SGD(p, lr=0.1, momentum=0.9, dampening=-0.5), "Invalid dampening value"),
    (lambda p: SGD(p, lr=10**400), "Invalid learning rate"),
    (lambda p: Adam(p, eps=0), "eps must be > 0"),
    (lambda p: Adam(p, betas=(0.9, float("nan"))), "Invalid beta parameter at index 1"),
    (lambda p: SGD(p + p, lr=0.1), r"params\[1\] is params\[0\] again"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make([Value(1.0)])


def test_params_say_what_to_pass():
    model = nn.MLP(2, [3, 1], seed=0)
    with pytest.raises(TypeError, match=r"the method parameters itself: call it, "
                                        r"SGD\(model.parameters\(\), lr=...\)"):
        SGD(model.parameters, lr=0.1)
    with pytest.raises(TypeError, match=r"got the MLP itself: pass its parameters"):
        Adam(model)
    with pytest.raises(TypeError, match="got dict"):
        SGD(dict(model.named_parameters()), lr=0.1)


def test_params_must_be_values():
    with pytest.raises(TypeError, match="single Value"):
        SGD(Value(1.0), lr=0.1)
    with pytest.raises(TypeError, match=r"params\[1\]"):
        SGD([Value(1.0), 2.0], lr=0.1)
    with pytest.raises(TypeError):
        SGD([Value(1.0)], lr="0.1")


@pytest.mark.parametrize("make", [
    lambda p: SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: Adam(p, lr=0.05, betas=(0.8, 0.9)),
    lambda p: AdamW(p, lr=0.05),
])
def test_state_dict_resumes_exactly(make, tmp_path):
    """Two steps, save, two more steps == four steps in one go (also through a JSON file)."""
    p = Value(1.0)
    opt = make([p])
    for g in GRADS[:2]:
        p.grad = g
        opt.step()
    path = tmp_path / "opt.json"
    nn.save(opt.state_dict(), path)
    q = Value(p.data)
    resumed = make([q])
    resumed.lr = 123.0  # overwritten by the state
    resumed.load_state_dict(nn.load(path))
    assert json.loads(json.dumps(resumed.state_dict())) == json.loads(json.dumps(opt.state_dict()))
    for g in GRADS[2:]:
        p.grad = q.grad = g
        opt.step()
        resumed.step()
    assert q.data == p.data


def test_load_state_dict_refuses_a_mismatch():
    opt = Adam([Value(1.0), Value(2.0)])
    with pytest.raises(ValueError, match="for 'SGD'"):
        opt.load_state_dict(SGD([Value(1.0)], lr=0.1).state_dict())
    with pytest.raises(ValueError, match="2 parameters"):
        opt.load_state_dict(Adam([Value(1.0)]).state_dict())
    assert opt.steps == 0 and opt.exp_avg.tolist() == [0.0, 0.0]


def adam_state(n: int = 2, **changes) -> tuple[Adam, dict]:
    """An Adam that has taken a step, and a saved state of another one with ``changes``."""
    params = [Value(float(i)) for i in range(n)]
    opt = Adam(params, lr=0.1)
    for p in params:
        p.grad = 1.0
    opt.step()
    other = Adam([Value(0.0) for _ in range(n)], lr=0.2)
    for p in other.params:
        p.grad = -3.0
    other.step()
    other.step()
    return opt, {**other.state_dict(), **changes}


@pytest.mark.parametrize(("changes", "error", "message"), [
    ({"exp_avg_sq": [1.0, "x"]}, ValueError, r"'exp_avg_sq'\[1\] must be a finite number >= 0"),
    ({"exp_avg_sq": [1.0, -1.0]}, ValueError, r"'exp_avg_sq'\[1\]"),
    ({"exp_avg": [float("nan"), 0.0]}, ValueError, r"'exp_avg'\[0\] must be a finite number"),
    ({"exp_avg": [10**400, 0.0]}, ValueError, r"'exp_avg'\[0\]"),
    ({"exp_avg": [0.5]}, ValueError, "'exp_avg' has 1 entries for 2 parameters"),
    ({"exp_avg": "00"}, ValueError, "'exp_avg' must be a list"),
    ({"steps": -1}, ValueError, "'steps' must be an int >= 0, got -1"),
    ({"steps": 1.5}, ValueError, "'steps' must be an int"),
    ({"steps": True}, ValueError, "'steps' must be an int"),
    ({"lr": -1.0}, ValueError, "Adam.load_state_dict: Invalid learning rate"),
    ({"eps": 0.0}, ValueError, "eps must be > 0"),
    ({"betas": [0.9]}, ValueError, "betas must be a pair"),
])
def test_load_state_dict_is_all_or_nothing(changes, error, message):
    opt, state = adam_state(**changes)
    before = opt.state_dict()
    with pytest.raises(error, match=message):
        opt.load_state_dict(state)
    assert opt.state_dict() == before  # nothing changed, exp_avg included


def test_load_state_dict_refuses_what_is_not_a_state():
    opt, _ = adam_state()
    for bad in ([], "state", None):
        with pytest.raises(TypeError, match="needs a mapping"):
            opt.load_state_dict(bad)
    state = {k: v for k, v in adam_state()[1].items() if k != "exp_avg_sq"}
    with pytest.raises(ValueError, match="missing 'exp_avg_sq'"):
        opt.load_state_dict(state)


def test_loaded_numpy_numbers_and_none_buffers():
    import numpy as np

    opt = SGD([Value(1.0), Value(2.0)], lr=0.1, momentum=0.9)
    state = {**opt.state_dict(), "momentum_buffer": [np.float32(0.5), None],
             "steps": np.int64(3), "lr": np.float64(0.2)}
    opt.load_state_dict(state)
    assert opt.momentum_buffer == [0.5, None] and opt.steps == 3 and opt.lr == 0.2
    opt, state = adam_state(exp_avg=[None, 0.0])
    with pytest.raises(ValueError, match=r"'exp_avg'\[0\] must be a finite number, got None"):
        opt.load_state_dict(state)


# --- the arrays against the formulas one parameter at a time -----------------------------------

def loop_reference(name: str, kwargs: dict, starts: list[float],
                   grads: list[list[float]]) -> list[list[float]]:
    """The update formulas on Python floats, one parameter at a time (the optimizers' code
    before they worked on arrays): the parameters after each step."""
    lr = kwargs["lr"]
    wd = kwargs.get("weight_decay", 0.01 if name == "AdamW" else 0.0)
    momentum, dampening = kwargs.get("momentum", 0.0), kwargs.get("dampening", 0.0)
    beta1, beta2 = kwargs.get("betas", (0.9, 0.999))
    eps = kwargs.get("eps", 1e-8)
    data, buf = list(starts), [None] * len(starts)
    m, v = [0.0] * len(starts), [0.0] * len(starts)
    trajectory = []
    for t, step in enumerate(grads, start=1):
        for i, g in enumerate(step):
            if name == "SGD":
                if wd:
                    g += wd * data[i]
                if momentum:
                    buf[i] = g if buf[i] is None else momentum * buf[i] + (1.0 - dampening) * g
                    g = g + momentum * buf[i] if kwargs.get("nesterov") else buf[i]
                data[i] -= lr * g
                continue
            if wd and name == "AdamW":
                data[i] *= 1.0 - lr * wd
            elif wd:
                g += wd * data[i]
            m[i] = beta1 * m[i] + (1.0 - beta1) * g
            v[i] = beta2 * v[i] + (1.0 - beta2) * g * g
            data[i] -= (lr / (1.0 - beta1**t)) * m[i] / (
                math.sqrt(v[i]) / math.sqrt(1.0 - beta2**t) + eps)
        trajectory.append(list(data))
    return trajectory


@pytest.mark.parametrize(("optimizer", "kwargs"), [
    (SGD, {"lr": 0.1}),
    (SGD, {"lr": 0.1, "momentum": 0.9, "dampening": 0.1, "weight_decay": 0.01}),
    (SGD, {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1}),
    (Adam, {"lr": 0.05}),
    (Adam, {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-4, "weight_decay": 0.1}),
    (AdamW, {"lr": 0.05}),
    (AdamW, {"lr": 0.05, "weight_decay": 0.3}),
])
def test_arrays_equal_the_formulas_one_parameter_at_a_time(optimizer, kwargs):
    """Bit for bit, over 60 steps of 40 parameters (numpy rounds each operation as Python does,
    and the arrays take the formulas' operations in the same order)."""
    import random

    rng = random.Random(7)
    starts = [rng.uniform(-1.0, 1.0) for _ in range(40)]
    grads = [[rng.gauss(0.0, 1.0) * 10.0 ** rng.randint(-3, 3) for _ in starts]
             for _ in range(60)]
    params = [Value(x) for x in starts]
    opt = optimizer(params, **kwargs)
    expected = loop_reference(optimizer.__name__, kwargs, starts, grads)
    for step, want in zip(grads, expected):
        opt.zero_grad()
        for p, g in zip(params, step):
            p.grad = g
        opt.step()
        assert [p.data for p in params] == want


def test_gradients_that_are_ints_or_values():
    """An int gradient, and a Value one (from ``backward(create_graph=True)``) count as their
    number, as before."""
    p, q = Value(1.0), Value(2.0)
    (p * p * q).backward(create_graph=True)
    assert isinstance(p.grad, Value)
    q.grad = 3
    SGD([p, q], lr=0.5).step()
    assert (p.data, q.data) == (1.0 - 0.5 * 4.0, 2.0 - 0.5 * 3)


def test_a_loaded_momentum_buffer_with_gaps():
    """A state whose buffer is None for some parameters: those start from their gradient."""
    params = [Value(1.0), Value(2.0)]
    opt = SGD(params, lr=0.1, momentum=0.9)
    opt.load_state_dict({**opt.state_dict(), "momentum_buffer": [0.5, None]})
    params[0].grad = params[1].grad = 1.0
    opt.step()
    assert opt.momentum_buffer == [0.9 * 0.5 + 1.0, 1.0]
    assert [p.data for p in params] == [1.0 - 0.1 * (0.9 * 0.5 + 1.0), 2.0 - 0.1 * 1.0]


# --- against PyTorch --------------------------------------------------------------------------

@pytest.mark.parametrize(("ours", "theirs", "kwargs"), [
    (SGD, "SGD", {"lr": 0.1}),
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "dampening": 0.2, "weight_decay": 0.05}),
    (SGD, "SGD", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    (Adam, "Adam", {"lr": 0.05}),
    (Adam, "Adam", {"lr": 0.05, "betas": (0.8, 0.95), "eps": 1e-4, "weight_decay": 0.1}),
    (AdamW, "AdamW", {"lr": 0.05}),
    (AdamW, "AdamW", {"lr": 0.05, "weight_decay": 0.3}),
])
def test_against_torch(ours, theirs, kwargs):
    torch = pytest.importorskip("torch")
    starts = [1.0, -0.5, 2.0]
    grads = [[0.5, -1.0, 2.0], [0.1, 0.3, -0.7], [-2.0, 0.0, 1.5], [0.25, 0.5, -0.5]]
    params = [Value(x) for x in starts]
    opt = ours(params, **kwargs)
    tensor = torch.tensor(starts, dtype=torch.float64, requires_grad=True)
    torch_opt = getattr(torch.optim, theirs)([tensor], **kwargs)
    for g in grads:
        for p, gi in zip(params, g):
            p.grad = gi
        opt.step()
        tensor.grad = torch.tensor(g, dtype=torch.float64)
        torch_opt.step()
        assert [p.data for p in params] == pytest.approx(tensor.detach().tolist(), rel=1e-12,
                                                          abs=1e-14)
