"""``autograd.compile``: record once, replay many — the same bits as the eager engine.

The suite runs on both engines (``./dev.sh test``), so every check here holds for the compiled
core's replay and for the reference's. Also ``autograd.take`` (an index as an input) and the
bulk transfer ``read_floats``/``write_floats``.
"""

from __future__ import annotations

import copy
import math
import numbers
import pickle
import random
import sys
import threading
from array import array
from typing import Any, Callable

import pytest

import autograd
from autograd import DataDependentError, Value, apply, ops
from autograd.recording import Replayed, read_floats, write_floats
from tests.conftest import ALL_OPS, sample_points

# --- read_floats / write_floats ----------------------------------------------------------------


def test_read_floats_reads_data_and_grad_into_an_array():
    xs = [Value(1.0), Value(-2.5), Value(3)]
    xs[1].grad = 4.0
    assert read_floats(xs, "data") == array("d", [1.0, -2.5, 3.0])
    assert read_floats(xs, "grad") == array("d", [0.0, 4.0, 0.0])
    assert read_floats([], "data") == array("d")


def test_write_floats_takes_arrays_numpy_and_sequences():
    np = pytest.importorskip("numpy")
    xs = [Value(0.0), Value(0.0)]
    write_floats(xs, "data", array("d", [1.5, -2.0]))
    assert [x.data for x in xs] == [1.5, -2.0]
    write_floats(xs, "data", np.array([3.0, 4.0]))
    assert [x.data for x in xs] == [3.0, 4.0] and all(type(x.data) is float for x in xs)
    write_floats(xs, "grad", [1, 2.5])
    assert [x.grad for x in xs] == [1.0, 2.5] and all(type(x.grad) is float for x in xs)
    write_floats(xs, "grad", np.array([math.inf, -0.0], dtype=np.float32))
    assert xs[0].grad == math.inf and math.copysign(1.0, xs[1].grad) == -1.0


@pytest.mark.parametrize("call, error, message", [
    (lambda xs: write_floats(xs, "label", [1.0, 2.0]), ValueError,
     "write_floats: attribute must be 'data' or 'grad', got 'label'"),
    (lambda xs: read_floats(xs, "value"), ValueError,
     "read_floats: attribute must be 'data' or 'grad', got 'value'"),
    (lambda xs: write_floats(xs, "data", [1.0]), ValueError,
     "write_floats: 2 values but 1 numbers"),
    (lambda xs: write_floats(xs, "data", [1.0, math.nan]), ValueError,
     "write_floats: numbers[1]: Value needs a number, got NaN (a NaN would spread silently)"),
    (lambda xs: write_floats(xs, "data", [1.0, "2"]), TypeError,
     "write_floats: numbers[1]: Value needs a real number (int, float, or a numpy "
     "integer/floating scalar), got str: '2'"),
    (lambda xs: write_floats([*xs, 3.0], "data", [1.0, 2.0, 3.0]), TypeError,
     "write_floats: values[2] is a float, not a Value"),
    (lambda xs: read_floats([xs[0], "w"], "data"), TypeError,
     "read_floats: values[1] is a str, not a Value"),
    (lambda xs: write_floats(xs, "data", 2.0), TypeError,
     "write_floats: numbers must be a sequence or a buffer of floats, got float"),
])
def test_bulk_transfer_errors_name_what_is_wrong_and_write_nothing(call, error, message):
    xs = [Value(7.0), Value(8.0)]
    with pytest.raises(error) as raised:
        call(xs)
    assert str(raised.value) == message
    assert [x.data for x in xs] == [7.0, 8.0]


def test_read_floats_refuses_a_gradient_that_is_a_value():
    x = Value(2.0)
    (x * x).backward(create_graph=True)
    with pytest.raises(TypeError, match=r"values\[0\]\.grad is a Value"):
        read_floats([x], "grad")
    x.grad = 0.0


# --- take ---------------------------------------------------------------------------------------


def test_take_with_a_value_index_is_one_node_whose_gradient_goes_to_the_pick():
    xs = [Value(1.0), Value(5.0), Value(7.0)]
    index = Value(1)
    picked = autograd.take(xs, index)
    assert picked.op == "take" and picked.parents == (index, *xs) and picked.data == 5.0
    (picked * picked).backward()
    assert [x.grad for x in xs] == [0.0, 10.0, 0.0] and index.grad == 0.0
    assert autograd.take(xs, Value(-3)).data == 1.0
    assert autograd.take([2, 3], Value(0.0)).data == 2.0  # numbers become constant leaves


def test_take_with_an_int_index_is_the_element_itself():
    xs = [Value(1.0), Value(5.0)]
    assert autograd.take(xs, 1) is xs[1] and autograd.take(xs, -2) is xs[0]
    assert autograd.take([1.5, 2.5], 1).data == 2.5


@pytest.mark.parametrize("index, error, message", [
    (Value(1.5), ValueError, "take: the index must be an integral number, got 1.5 "
                             "(allowed: -3 to 2)"),
    (Value(3), IndexError, "take: index 3 is out of range for 3 values (allowed: -3 to 2)"),
    (Value(-4), IndexError, "take: index -4 is out of range for 3 values (allowed: -3 to 2)"),
    (Value(math.inf), ValueError, "take: the index must be an integral number, got inf "
                                  "(allowed: -3 to 2)"),
    (3, IndexError, "take: index 3 is out of range for 3 values (allowed: -3 to 2)"),
    (1.0, TypeError, "take: the index must be an int or a Value holding an integral number, got "
                     "float: 1.0"),
])
def test_take_refuses_an_index_that_is_not_integral_or_out_of_range(index, error, message):
    with pytest.raises(error) as raised:
        autograd.take([Value(1.0), Value(2.0), Value(3.0)], index)
    assert str(raised.value) == message


def test_take_needs_something_to_pick_from():
    with pytest.raises(ValueError, match="take: needs at least one value"):
        autograd.take([], Value(0))
    with pytest.raises(TypeError, match="take: takes an index and at least one value"):
        autograd.apply(autograd.ops.TAKE, Value(0))


def test_take_is_differentiable_twice_like_any_op():
    xs = [Value(2.0), Value(3.0)]
    y = autograd.take(xs, Value(1)) ** 3
    dy = autograd.gradients(y, [xs[1]], create_graph=True)[xs[1]]
    assert dy.data == 27.0
    dy.backward()
    assert xs[1].grad == 18.0


# --- replay == eager, bit for bit ----------------------------------------------------------------


def _leaves(x: Any) -> Any:
    """The arguments as compile hands them to the function: each number a new leaf Value."""
    if isinstance(x, (list, tuple)):
        return type(x)(_leaves(item) for item in x)
    return Value(x)


def _outcome(make: Callable[[], Any], params: list[Value]) -> Any:
    """The output's bits and the parameters' gradients' bits after backward(), or the error."""
    for p in params:
        p.grad = 0.0
    try:
        out = make()
        data = out.data.hex()
        out.backward()
    except Exception as error:
        return type(error).__name__, str(error), [p.grad for p in params]
    return data, [p.grad.hex() for p in params]


def assert_replays_as_eager(function: Callable[..., Value], params: list[Value],
                            calls: list[tuple[Any, ...]], updates: list[list[float]] | None = None
                            ) -> int:
    """Record ``function`` on ``calls[0]``, replay it on the others; each outcome is eager's.

    ``updates[k]``, if given, are the parameters' numbers before call ``k``. Returns how many
    calls were replays (the others raised as eager did, or recorded)."""
    compiled = autograd.compile(function)
    replays = 0
    for k, args in enumerate(calls):
        if updates is not None:
            for p, number in zip(params, updates[k]):
                p.data = number
        eager = _outcome(lambda args=args: function(*_leaves(args)), params)
        result: list[Any] = []
        replayed = _outcome(lambda args=args, result=result: result.append(compiled(*args))
                            or result[0], params)
        assert replayed == eager, f"call {k} with {args}"
        assert len(compiled.recordings) == 1  # one shape: the later calls replayed, or raised
        replays += bool(result) and isinstance(result[0], Replayed)
    return replays


@pytest.mark.parametrize("op", [*ALL_OPS, ops.TAKE], ids=[op.name for op in [*ALL_OPS, ops.TAKE]])
def test_every_op_replays_as_eager(op):
    """Each op of the table, each family member, a user's op and take: recorded at one point,
    replayed at others, with half the inputs arguments and half captured parameters."""
    if op is ops.TAKE:
        points = [[float(i), 0.5, -1.5, 2.0] for i in (0, 2, -1, 1)]
    else:
        points = sample_points(op, count=4, seed=3)
    n = len(points[0])
    params = [Value(0.0) for _ in range(n)]
    captured = list(range(1, n, 2)) if op is not ops.TAKE else [1, 3]

    def function(*xs):
        inputs = [params[i] if i in captured else xs[i] for i in range(n)]
        return apply(op, *inputs) * xs[0] if op is not ops.TAKE else apply(op, *inputs) * 3.0

    calls = [tuple(point) for point in points]
    updates = [list(point) for point in points]
    assert assert_replays_as_eager(function, params, calls, updates) == len(points) - 1


def test_the_first_call_records_and_returns_the_eager_value_the_next_ones_replay():
    w = Value(1.5)
    f = autograd.compile(lambda x: (w * x).tanh())
    first, second = f(0.5), f(0.25)
    assert isinstance(first, Value) and first.op == "tanh"
    assert isinstance(second, Replayed) and second.data == math.tanh(1.5 * 0.25)
    assert second.item() == float(second) == second.data
    assert repr(second) == f"Replayed(data={second.data!r}, grad=0.0)"
    second.backward()
    assert second.grad == 1.0 and w.grad == (1.0 - second.data**2) * 0.25


def _random_function(seed: int, params: list[Value]) -> Callable[..., Value]:
    """A random function of three arguments and the parameters: the same structure each call
    (the choices come from ``seed``), any op, fused ones, take, softmax, reuse of nodes."""

    def function(a, b, i):
        rng = random.Random(seed)
        pool: list[Any] = [a, b, *params]
        for _ in range(rng.randint(5, 25)):
            x, y = rng.choice(pool), rng.choice(pool)
            kind = rng.random()
            if kind < 0.3:
                node = rng.choice([x + y, x - y, x * y, x * 0.5 + 1, 2 - y, -x, x / (y * y + 1)])
            elif kind < 0.5:
                name = rng.choice(["exp", "tanh", "sigmoid", "softplus", "relu", "gelu", "erf",
                                   "sin", "cos", "abs"])
                node = getattr(x * 0.3, name)()
            elif kind < 0.6:
                node = ((x * x + 0.5) ** rng.choice([2, 0.5, -1, 1.5])).log()
            elif kind < 0.8:
                xs = rng.sample(pool, k=min(len(pool), rng.randint(1, 4)))
                fused = rng.choice([autograd.sum, lambda v: autograd.dot(v, v),
                                    lambda v: autograd.dot(v, v[::-1], bias=v[0]),
                                    autograd.logsumexp,
                                    lambda v: autograd.softmax(v)[-1],
                                    lambda v: autograd.linear(v, [v], [0.5], "tanh")[0]])
                node = fused(xs)
            else:
                node = autograd.take(pool[-3:], i)
            pool.append(node)
        return pool[-1] * 1.0 + autograd.sum(pool[-4:]) * 0.1

    return function


@pytest.mark.parametrize("seed", range(12))
def test_random_functions_replay_as_eager(seed):
    rng = random.Random(f"replay-{seed}")
    params = [Value(rng.uniform(-1, 1)) for _ in range(3)]
    calls = [(rng.uniform(-2, 2), rng.uniform(-2, 2), rng.randint(-3, 2)) for _ in range(4)]
    updates = [[rng.uniform(-1, 1) for _ in params] for _ in calls]
    function = _random_function(seed, params)
    assert assert_replays_as_eager(function, params, calls, updates) >= 1


def test_training_steps_replay_as_eager_steps():
    """Several SGD steps of a small network through nn-like code, compiled and not: the same
    losses and weights, bit for bit (the update goes through read_floats/write_floats)."""
    rng = random.Random(5)

    def model(params):
        w1, b1, w2, b2 = params[:8], params[8:12], params[12:16], params[16]
        return lambda x: autograd.dot(autograd.linear(x, [w1[:2], w1[2:4], w1[4:6], w1[6:]],
                                                      b1, "relu"), w2, bias=b2)

    def loss_fn(params):
        net = model(params)
        return lambda X, y: autograd.sum([(1.0 - net(x) * t).relu() for x, t in zip(X, y)]) \
            * (1.0 / len(X)) + 1e-4 * autograd.dot(params, params)

    start = [rng.uniform(-1, 1) for _ in range(17)]
    X = [[rng.uniform(-2, 2), rng.uniform(-2, 2)] for _ in range(10)]
    y = [rng.choice([-1.0, 1.0]) for _ in range(10)]
    trajectories = []
    for compiled in (False, True):
        params = [Value(x) for x in start]
        step = autograd.compile(loss_fn(params)) if compiled else loss_fn(params)
        losses = []
        for _ in range(5):
            write_floats(params, "grad", [0.0] * len(params))
            loss = step(X, y)
            loss.backward()
            losses.append(loss.data)
            data, grad = read_floats(params, "data"), read_floats(params, "grad")
            write_floats(params, "data", [p - 0.1 * g for p, g in zip(data, grad)])
        trajectories.append((losses, list(read_floats(params, "data"))))
    assert trajectories[0] == trajectories[1]


def test_a_take_index_is_an_argument_at_replay():
    params = [Value(float(k)) for k in range(5)]
    f = autograd.compile(lambda i: autograd.take(params, i) * 2.0)
    assert f(1).data == 2.0  # recorded with the index 1
    r = f(3)
    assert isinstance(r, Replayed) and r.data == 6.0
    r.backward()
    assert [p.grad for p in params] == [0.0, 0.0, 0.0, 2.0, 0.0]
    assert f(-1).data == 8.0
    for bad, error in [(5, IndexError), (2.5, ValueError)]:
        with pytest.raises(error) as replayed:
            f(bad)
        with pytest.raises(error) as eager:
            autograd.take(params, Value(bad))
        assert str(replayed.value) == str(eager.value)


def test_captured_values_are_read_at_each_replay_and_constants_are_baked_in():
    w = Value(2.0)
    kept: list[Value] = []

    def function(x):
        c = Value(10.0)  # made here and held by nothing else: a constant
        d = Value(1.0)
        kept.append(d)  # held outside: captured, as eager would read it
        return w * x + c + d

    f = autograd.compile(function)
    assert f(1.0).data == 13.0
    tape = next(iter(f.recordings.values())).tape
    assert list(tape.constants) == [10.0] and tape.captured == (w, kept[0])
    w.data, kept[0].data = 3.0, 5.0
    assert f(1.0).data == 18.0


def test_softmax_replays_with_the_new_largest_input():
    """softmax shifts by its largest input; a replay computes that shift anew."""
    def function(a, b, c):
        return autograd.softmax([a, b, c])[0]

    calls = [(1.0, 2.0, 3.0), (800.0, -5.0, 2.0), (-1e3, 1e3, 0.0), (0.5, 0.5, 0.5)]
    assert assert_replays_as_eager(function, [], calls) == 3


def test_several_outputs_in_their_structure():
    w = Value(2.0)
    f = autograd.compile(lambda x: {"not": "allowed"} if x is None else [w * x, (w + x, 7.0)])
    f(1.0)
    out = f(3.0)
    assert type(out) is list and type(out[1]) is tuple and out[1][1] == 7.0
    assert [out[0].data, out[1][0].data] == [6.0, 5.0]
    out[1][0].backward()
    assert w.grad == 1.0
    out[0].backward()
    assert w.grad == 4.0


def test_a_recording_per_shape_and_a_bounded_cache():
    f = autograd.compile(lambda xs, mode: autograd.sum(xs) * (2.0 if mode == "double" else 1.0),
                         max_recordings=2)
    assert isinstance(f([1.0, 2.0], "double"), Value)
    assert f([3.0, 4.0], "double").data == 14.0  # same shape: a replay
    assert isinstance(f([1.0, 2.0, 3.0], "double"), Value)  # another length: records
    assert isinstance(f([1.0], "single"), Value)  # another mode: records, drops the oldest
    assert len(f.recordings) == 2
    assert isinstance(f([1.0, 2.0], "double"), Value)  # dropped: records again
    assert isinstance(f([1.0], "single"), Replayed)


def test_bad_arguments_and_options_are_refused_clearly():
    f = autograd.compile(lambda x: x * 2.0)
    with pytest.raises(TypeError, match="compile: an argument is a Value; pass numbers"):
        f(Value(1.0))
    with pytest.raises(TypeError, match="compile: an argument is a dict, which is neither"):
        f({"x": 1.0})
    with pytest.raises(ValueError, match="compile: max_recordings must be a positive int"):
        autograd.compile(lambda x: x, max_recordings=0)
    with pytest.raises(TypeError, match="compile: needs a function"):
        autograd.compile(3)
    f(1.0)
    with pytest.raises(ValueError, match="Value needs a number, got NaN"):
        f(math.nan)  # as Value(nan) refuses it in the eager call
    with pytest.raises(TypeError, match="returned a set"):
        autograd.compile(lambda x: {x})(1.0)


def test_errors_at_replay_are_the_eager_ones_and_change_nothing():
    w, small = Value(1.0), Value(1e-10)
    cases = [
        (lambda x: (w * x).log(), [(2.0,), (-1.0,), (0.0,)]),  # the op's domain
        (lambda x: (w * x).exp(), [(1.0,), (800.0,)]),  # the forward overflows
        (lambda x: (w * x) ** 0.5, [(4.0,), (0.0,)]),  # the derivative is undefined at 0
        (lambda x: (w * x) * 1e300 * 1e300, [(1e-300,), (2e-300,)]),  # a node's gradient
        (lambda x: autograd.sum([small * x, small * x]), [(1.0,), (1e308,)]),  # at a leaf
        (lambda x: (w * x).log(), [(1.0,), (1e-320,)]),  # a derivative overflows
    ]
    for function, calls in cases:
        w.data = 1.0
        assert_replays_as_eager(function, [w], calls)
    w.grad = 1e308  # accumulating into .grad overflows: refused, nothing written
    g = autograd.compile(lambda x: w * x)
    g(1e308)
    with pytest.raises(OverflowError) as replayed:
        g(1e308).backward()
    w.grad = 1e308
    with pytest.raises(OverflowError) as eager:
        (w * Value(1e308)).backward()
    assert str(replayed.value) == str(eager.value) and w.grad == 1e308
    w.grad = 0.0


def test_under_no_grad_a_replay_computes_and_backward_is_refused_as_eager():
    w = Value(2.0)
    f = autograd.compile(lambda x: w * x)
    with autograd.no_grad():
        assert isinstance(f(1.0), Value)  # nothing recorded under no_grad
    assert not f.recordings
    f(1.0)
    with autograd.no_grad():
        r = f(4.0)
        e = w * 4.0
    assert r.data == 8.0
    with pytest.raises(RuntimeError) as replayed:
        r.backward()
    with pytest.raises(RuntimeError) as eager:
        e.backward()
    assert str(replayed.value) == str(eager.value)
    with pytest.raises(RuntimeError, match="create_graph"):
        f(1.0).backward(create_graph=True)


# --- data dependence is refused -------------------------------------------------------------


READS = {
    "v.data": lambda v: v.data,
    "v.item()": lambda v: v.item(),
    "float(v)": lambda v: float(v),
    "bool(v)": lambda v: bool(v),
    "int(v)": lambda v: int(v),
    "a Value as an index": lambda v: [1, 2][v],
    "round(v)": lambda v: round(v),
    "format(v)": lambda v: f"{v:.3f}",
    "v < w": lambda v: v < 1.0,
    "v <= w": lambda v: v <= 1.0,
    "v > w": lambda v: v > 1.0,
    "v >= w": lambda v: v >= 1.0,
    "backward()": lambda v: v.backward(),
}


@pytest.mark.parametrize("what", READS)
def test_reading_a_number_while_recording_is_refused_naming_the_line(what):
    read = READS[what]
    w = Value(1.0)

    def function(x):
        y = w * x
        read(y)
        return y

    f = autograd.compile(function)
    with pytest.raises(DataDependentError) as refused:
        f(2.0)
    line = read.__code__.co_firstlineno
    message = str(refused.value)
    assert message.startswith(what) and f"test_compile.py:{line}" in message
    assert "function" in message and not f.recordings
    assert not autograd.grad_mode.is_recording()
    # outside a recording, the same read is allowed (or the TypeError it always was)
    try:
        read(w * 2.0)
    except TypeError:
        assert what in ("int(v)", "a Value as an index", "round(v)", "format(v)")


def test_what_is_not_a_read_of_the_number_is_allowed_while_recording():
    w = Value(1.0, label="w")

    def function(x):
        y = w * x
        assert y == y and y != w and hash(y) == hash(y)
        assert y.label == "" and w.grad == 0.0 and y.op == "*" and y.parents[0] is w
        assert "Value(data=" in repr(y)
        return y

    f = autograd.compile(function)
    f(2.0)
    assert f(3.0).data == 3.0


def test_a_value_computed_under_no_grad_inside_is_refused():
    w = Value(1.0)

    def function(x):
        with autograd.no_grad():
            scale = w * x
        return w * scale

    with pytest.raises(DataDependentError, match="inside no_grad"):
        autograd.compile(function)(2.0)


def test_a_compiled_function_called_while_recording_is_part_of_the_recording():
    w = Value(3.0)
    inner = autograd.compile(lambda x: w * x)
    outer = autograd.compile(lambda x: inner(x) + 1.0)
    outer(1.0)
    assert outer(2.0).data == 7.0 and not inner.recordings


def test_recording_is_per_thread():
    w = Value(1.0)
    seen: list[float] = []

    def other_thread():
        seen.append(w.data)  # not refused here while the main thread records

    def function(x):
        thread = threading.Thread(target=other_thread)
        thread.start()
        thread.join()
        return w * x

    autograd.compile(function)(2.0)
    assert seen == [1.0]


def test_the_shape_of_the_arguments_keys_the_recordings():
    from autograd.recording import flatten, py_flatten

    np = pytest.importorskip("numpy")
    cases = [((1.0, 2),), ([[1.0, 2.0], [3.0]], "mean"), ((), {}.get("x")),
             ([np.float64(1.5), np.int64(2)], True), ([(1.0,)], (("name", 2.0),))]
    for arguments in cases:
        assert flatten(arguments) == py_flatten(arguments)  # the compiled core's twin, if any
    assert py_flatten(([1.0, 2.0], "a"))[0] == py_flatten(([5.0, 6], "a"))[0]
    shapes = {py_flatten(a)[0] for a in [([1.0, 2.0],), ([1.0],), ((1.0, 2.0),), ([1.0, "2"],),
                                         ([1.0, True],), ([[1.0], 2.0],), ([1.0, [2.0]],)]}
    assert len(shapes) == 7
    assert py_flatten(([1, 2.5],))[1] == array("d", [1.0, 2.5])


def test_keyword_arguments_are_part_of_the_shape():
    w = Value(2.0)
    f = autograd.compile(lambda x, scale=1.0, mode="plain": w * x * scale)
    f(1.0, scale=3.0)
    assert isinstance(f(2.0, scale=0.5), Replayed) and f(2.0, scale=0.5).data == 2.0
    assert isinstance(f(2.0, scale=0.5, mode="other"), Value)


def test_compile_is_reachable_but_not_exported_and_decorates():
    namespace: dict[str, Any] = {}
    exec("from autograd import *", namespace)
    assert "compile" not in namespace and namespace.get("take") is autograd.take
    w = Value(3.0)

    @autograd.compile(max_recordings=1)
    def f(x):
        return w * x

    assert f.max_recordings == 1 and f.__name__ == "f"
    f(1.0)
    assert f(2.0).data == 6.0 and len(f.recordings) == 1


def test_the_tape_is_flat_arrays_as_documented():
    w = Value(2.0)
    f = autograd.compile(lambda x, y: (w * x + 3.0).tanh() * y)
    f(1.0, 2.0)
    tape = next(iter(f.recordings.values())).tape
    assert (tape.n_arguments, tape.captured, list(tape.constants)) == (2, (w,), [3.0])
    assert tape.first_instruction == 4 and tape.n_instructions == 4 and tape.n_slots == 8
    assert [tape.ops[c].name for c in tape.codes] == ["*", "+", "tanh", "*"]
    assert list(tape.parents) == [2, 0, 4, 3, 5, 6, 1] and list(tape.starts) == [0, 2, 4, 5, 7]
    assert list(tape.outputs) == [7] and list(tape.walk_order(7)) == [7, 6, 5, 4]
    assert {a.typecode: a.itemsize for a in (tape.codes, tape.starts, tape.parents)} == {"i": 4}
    result = f(1.0, 2.0)
    result.backward()
    values, grads = result._run.values, result._run.grads
    assert values.itemsize == 8 and len(values) == tape.n_slots  # no fused neuron here
    assert grads.itemsize == 8 and len(grads) == tape.n_slots


def test_the_guide_runs_as_written():
    import re
    from pathlib import Path

    guide = Path(__file__).resolve().parent.parent / "docs" / "compile.md"
    blocks = re.findall(r"```python\n(.*?)```", guide.read_text(encoding="utf-8"), flags=re.S)
    assert blocks
    for block in blocks:
        namespace: dict[str, Any] = {}
        exec(block, namespace)
        assert isinstance(namespace["loss"], Replayed)


def test_a_value_computed_before_the_call_is_recorded_with_its_ops():
    """A Value the function reads that was computed outside it (not a leaf) is recorded with the
    ops that made it: a replay computes it again from the current numbers of its leaves."""
    w = Value(2.0)
    h = w * 3.0
    f = autograd.compile(lambda x: h * x)
    assert f(1.0).data == 6.0
    tape = next(iter(f.recordings.values())).tape
    assert tape.captured == (w,) and [op.name for op in tape.ops] == ["*"]
    w.data = 5.0  # h.data is still 6.0, but the replay recomputes it
    assert h.data == 6.0 and f(1.0).data == 15.0


def test_is_recording_tells_a_library_when_its_caller_is_recorded():
    from autograd.recording import is_recording

    seen = []
    f = autograd.compile(lambda x: seen.append(is_recording()) or Value(2.0) * x)
    f(1.0)
    f(2.0)
    assert seen == [True] and not is_recording()


def test_a_replay_takes_as_many_numbers_as_recorded():
    from autograd.recording import Program, PyProgram

    f = autograd.compile(lambda x, y: Value(2.0) * x * y)
    f(1.0, 2.0)
    tape = next(iter(f.recordings.values())).tape
    for program in {PyProgram, Program}:
        with pytest.raises(ValueError) as raised:
            program(tape).forward(array("d", [1.0, 2.0, 3.0]))
        assert str(raised.value) == "Program.forward: the recording takes 2 numbers, got 3"


def test_a_compiled_method_gets_its_instance():
    class Model:
        def __init__(self, w: float) -> None:
            self.w = Value(w)

        @autograd.compile
        def loss(self, x):
            return self.w * x

    a, b = Model(2.0), Model(3.0)
    assert [a.loss(1.0).data, a.loss(2.0).data, b.loss(2.0).data] == [2.0, 4.0, 6.0]
    assert isinstance(a.loss(5.0), Replayed) and len(Model.loss.recordings) == 2


def test_a_value_held_only_by_a_closure_is_captured():
    def make():
        v = Value(1.0)  # after make() returns, only the closure's cell holds it
        return lambda x: v * x, lambda: v

    function, get = make()
    f = autograd.compile(function)
    f(2.0)
    get().data = 4.0
    assert f(2.0).data == 8.0


def test_numbers_read_from_elsewhere_are_part_of_the_recording():
    """As in JAX: a float the function reads from a closure is baked in; pass it instead."""
    w = Value(1.0)
    settings = {"scale": 2.0}
    f = autograd.compile(lambda x: w * x * settings["scale"])
    assert f(1.0).data == 2.0 and f.max_recordings == autograd.recording.MAX_RECORDINGS == 32
    settings["scale"] = 10.0
    assert f(1.0).data == 2.0  # the recorded 2.0


def test_each_engine_replays_with_its_own_program():
    from autograd import _compiled, recording

    core = _compiled.core
    expected = (core.Program, core.read_floats, core.write_floats) if core is not None else (
        recording.PyProgram, recording.py_read_floats, recording.py_write_floats)
    assert (recording.Program, recording.read_floats, recording.write_floats) == expected


@pytest.mark.parametrize("seed", range(4))
def test_the_walk_order_is_the_engines_topological_order(seed):
    params = [Value(0.5), Value(-0.25), Value(1.5)]
    function = _random_function(seed, params)
    f = autograd.compile(function)
    eager = f(0.3, -0.7, 1)
    tape = next(iter(f.recordings.values())).tape
    root = tape.outputs[0]
    order = tape.walk_order(root)  # set when recorded, where the instructions are that order
    assert list(order) == tape._topological_order(root)[::-1]
    assert len(order) == len(autograd.topological_order(eager))


def test_a_failed_recording_leaves_nothing_behind():
    w = Value(1.0)
    calls = []

    def function(x):
        calls.append(x)
        if len(calls) == 1:
            raise KeyError("first call fails")
        return w * x

    f = autograd.compile(function)
    with pytest.raises(KeyError):
        f(1.0)
    assert not f.recordings and not autograd.grad_mode.is_recording()
    assert isinstance(f(2.0), Value) and isinstance(f(3.0), Replayed)


def test_the_values_a_recording_reads_are_those_of_the_first_call():
    """Like a closure's arrays in jax.jit: the Values captured are the ones read when recorded."""
    models = {"current": Value(1.0)}
    f = autograd.compile(lambda x: models["current"] * x)
    f(1.0)
    models["current"] = Value(5.0)  # another Value: the recording still reads the first one
    assert f(1.0).data == 1.0
    assert isinstance(autograd.compile(lambda x: models["current"] * x)(1.0), Value)


def test_a_result_computed_under_no_grad_is_refused_and_a_leaf_result_replays():
    w = Value(2.0)

    def untracked(x):
        with autograd.no_grad():
            return w * x

    with pytest.raises(DataDependentError, match="inside no_grad"):
        autograd.compile(untracked)(1.0)
    for function in (lambda x: w, lambda x: [x, w]):  # a captured Value, an argument
        f = autograd.compile(function)
        f(1.0)
        w.data = 3.0
        out = f(5.0)
        numbers = out.data if isinstance(out, Replayed) else [o.data for o in out]
        assert numbers in (3.0, [5.0, 3.0])
        w.data = 2.0


def test_replayed_results_compare_by_their_numbers_as_values_do():
    f = autograd.compile(lambda x: Value(1.0) * x)
    f(1.0)
    low, high = f(1.0), f(2.0)
    assert low < high and low <= 1.0 and high > Value(1.5) and high >= 2.0 and not low > high
    assert sorted([high, low])[0] is low


def test_where_several_ops_fail_a_replay_raises_the_first_the_eager_call_meets():
    """The tape's order is topological, not the order the function made the nodes in: a replay
    that fails runs the function eagerly, so that the error is the eager call's own."""
    w = Value(1.0)
    f = autograd.compile(lambda x, y: (w * x).log() + (w * y).exp())
    f(1.0, 1.0)
    with pytest.raises(ValueError) as replayed:
        f(-1.0, 1000.0)  # log fails first in the function, exp first in the tape
    with pytest.raises(ValueError) as eager:
        (w * Value(-1.0)).log() + (w * Value(1000.0)).exp()
    assert str(replayed.value) == str(eager.value)
    assert len(f.recordings) == 1


def test_ops_whose_results_are_dropped_are_not_replayed():
    w = Value(1.0)

    def function(x):
        (w * x).log()  # dropped: not in the tape
        return w * x

    f = autograd.compile(function)
    f(1.0)
    assert f(-1.0).data == -1.0
    with pytest.raises(ValueError, match="log"):
        function(Value(-1.0))


def test_a_replay_keeps_a_number_per_slot_and_per_fused_neuron_on_the_compiled_core():
    w = [Value(0.5), Value(-1.0)]
    f = autograd.compile(lambda x: autograd.sum(autograd.linear([x, x], [w, w], [0.5, 0.25],
                                                                "tanh")))
    f(1.0)
    result = f(2.0)
    tape = next(iter(f.recordings.values())).tape
    neurons = sum(tape.ops[c].activation is not None for c in tape.codes)
    extra = neurons if autograd.implementation == "compiled" else 0
    assert neurons == 2 and len(result._run.values) == tape.n_slots + extra


def test_without_reference_counts_every_leaf_is_captured(monkeypatch):
    """On a Python without sys.getrefcount (PyPy, GraalPy) constants are captured Values: the
    replay reads their (unchanging) numbers, so it gives the same bits."""
    monkeypatch.delattr("sys.getrefcount")
    w = Value(2.0)
    f = autograd.compile(lambda x: w * x + 3.0)
    f(1.0)
    tape = next(iter(f.recordings.values())).tape
    assert len(tape.captured) == 2 and not tape.constants
    assert f(2.0).data == 7.0


def test_backward_uses_the_numbers_of_its_forward():
    """A replay's backward works on the numbers its forward read; eager backward() would read a
    leaf's .data as it is then (they differ only if .data changes in between)."""
    w = Value(2.0)
    f = autograd.compile(lambda x: w * w * x)
    f(1.0)
    y = f(3.0)
    w.data = 100.0
    y.backward()
    assert w.grad == 3.0 * (2.0 + 2.0) and y.data == 12.0  # d(w² x)/dw at w = 2, x = 3


# --- the review's findings (R2-R8): each engine gives the reference's result or error -----------


def test_a_users_op_whose_forward_reads_a_number_while_recording_is_refused():
    """R7: a user's forward runs on numbers, but one that reads a Value's number (here a
    parameter's) depends on data the recording cannot see: refused by both engines."""
    w = Value(3.0)

    def forward(x):
        return x * w.data

    peek = ops.Op("peek", forward, lambda out, x: (3.0,), arity=1, domain=[(-1, 1)])
    f = autograd.compile(lambda x: apply(peek, w * x))
    with pytest.raises(DataDependentError) as refused:
        f(2.0)
    line = forward.__code__.co_firstlineno + 1
    assert str(refused.value).startswith(f"v.data reads the number a Value holds, at {__file__}:"
                                         f"{line}, while autograd.compile records ")
    assert not f.recordings and not autograd.grad_mode.is_recording()
    assert apply(peek, Value(2.0)).data == 6.0  # outside a recording it may read it


COPIES = {
    "v.detach()": lambda v: v.detach(),
    "copy.deepcopy(v)": lambda v: copy.deepcopy(v),
    "copy.copy(v)": lambda v: copy.copy(v),
    "pickle.dumps(v)": lambda v: pickle.loads(pickle.dumps(v)),
}


@pytest.mark.parametrize("how", COPIES)
def test_copying_a_value_while_recording_is_refused_as_a_read_of_its_number(how):
    """R8: a copy holds the number it was made from, so a replay would reuse that number: both
    engines refuse the copy as they refuse ``.data``, naming the line that copies."""
    copy_of = COPIES[how]
    w = Value(3.0)
    f = autograd.compile(lambda x: copy_of(w) * x)
    with pytest.raises(DataDependentError) as refused:
        f(2.0)
    line = copy_of.__code__.co_firstlineno
    assert str(refused.value).startswith(f"v.data reads the number a Value holds, at {__file__}:"
                                         f"{line}, while autograd.compile records ")
    assert not f.recordings
    copied = copy_of(w)  # outside a recording: a new leaf with the number
    assert copied is not w and copied.data == 3.0 and copied.is_leaf


_RETURNED: list[Any] = []  # what the rule below returned


class _Clearing:
    """A real number whose conversion to float empties the list a rule returned (R2)."""

    def __init__(self, x: float) -> None:
        self.x = x

    def __float__(self) -> float:
        _RETURNED.clear()
        return self.x


numbers.Real.register(_Clearing)


def test_a_rule_whose_derivatives_change_their_list_while_converted_is_read_as_the_reference():
    """R2: the derivatives are converted one by one (Python code: a number's ``__float__``);
    the reference's ``map`` over the rule's list stops where the list now ends, and the
    compiled core reads it the same way, never past its end."""

    def rule(out, x, y):
        _RETURNED[:] = [_Clearing(1.0), _Clearing(5.0)]
        return _RETURNED

    op = ops.Op("clearing", lambda x, y: x + y, rule, arity=2, domain=[(-1, 1)] * 2)
    w, x = Value(2.0), Value(1.0)
    apply(op, w, x).backward()  # the eager walk
    assert (w.grad, x.grad) == (1.0, 0.0)
    w.grad = 0.0
    f = autograd.compile(lambda x: apply(op, w, x) * 1.0)
    f(1.0)
    f(1.0).backward()  # the replay
    assert w.grad == 1.0


class _LenOnly:
    def __len__(self) -> int:
        return 1


def test_a_rule_giving_a_sized_object_that_is_not_iterable_fails_as_the_reference():
    """R4: the reference iterates the derivatives, so the error is Python's own."""
    op = ops.Op("lenonly", lambda x: x * 2.0, lambda out, x: _LenOnly(), arity=1, domain=[(-1, 1)])
    w = Value(2.0)
    message = "backward through lenonly at inputs [2.0]: '_LenOnly' object is not iterable"
    with pytest.raises(TypeError) as eager:
        apply(op, w * Value(1.0)).backward()
    assert str(eager.value) == message
    f = autograd.compile(lambda x: apply(op, w * x))
    f(1.0)
    with pytest.raises(TypeError) as replayed:
        f(1.0).backward()
    assert str(replayed.value) == message and w.grad == 0.0


def test_a_users_rule_runs_once_when_a_captured_grad_is_a_value():
    """R5: a captured Value whose ``.grad`` is a Value (after ``create_graph``) makes the
    reference walk the replay: the rules still run once each."""
    calls = []

    def rule(out, x):
        calls.append(x)
        return (2.0,)

    counted = ops.Op("counted", lambda x: x * 2.0, rule, arity=1, domain=[(-1, 1)])
    w = Value(2.0)
    f = autograd.compile(lambda x: apply(counted, w * x))
    f(1.0)
    w.grad = Value(0.5)  # as after backward(create_graph=True)
    result = f(1.5)
    calls.clear()
    result.backward()
    assert calls == [3.0] and isinstance(w.grad, Value) and w.grad.data == 0.5 + 2.0 * 1.5
    w.grad = 0.0


def test_write_floats_from_a_buffer_that_changes_the_values_writes_nothing_freed():
    """R3: from Python 3.12 a class may export a buffer (``__buffer__``), so Python code runs
    while the numbers are taken: here it empties (and frees) the Values being written."""
    values = [Value(float(i)) for i in range(100)]

    class Numbers:
        def __buffer__(self, flags):
            values.clear()
            return memoryview(array("d", [7.0] * 100))

    if sys.version_info >= (3, 12):
        error, message = ValueError, "write_floats: 0 values but 100 numbers"
    else:  # no buffer from Python code: not a sequence either
        error, message = TypeError, ("write_floats: numbers must be a sequence or a buffer of "
                                     "floats, got Numbers")
    with pytest.raises(error) as refused:
        write_floats(values, "data", Numbers())
    assert str(refused.value) == message


def test_a_rule_error_is_raised_from_none_whatever_the_caller_handles():
    """R9: the named error of a failing rule is raised as the reference raises it (``from None``
    in its ``except``): its context is the rule's own error, and a traceback does not print the
    exception the caller was handling."""
    failing = ops.Op("failing", lambda x: x * 2.0, lambda out, x: 1 / 0, arity=1,
                     domain=[(-1, 1)])
    w = Value(2.0)
    f = autograd.compile(lambda x: apply(failing, w * x))
    f(1.0)
    for backward in (lambda: apply(failing, w * Value(1.0)).backward(), lambda: f(1.0).backward()):
        try:
            raise KeyError("the caller's")
        except KeyError:
            with pytest.raises(ZeroDivisionError) as raised:
                backward()
        assert str(raised.value) == ("backward through failing at inputs [2.0]: its derivative "
                                     "is undefined there (division by zero)")
        assert type(raised.value.__context__) is ZeroDivisionError
        assert raised.value.__suppress_context__ and raised.value.__cause__ is None
    assert w.grad == 0.0
