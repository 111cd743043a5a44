"""Engine behaviour: graph shapes, deep chains, accumulation, no_grad, detach, errors."""

from __future__ import annotations

import gc
import math
import re
import threading

import pytest

import autograd
from autograd import GradcheckError, Value, gradcheck, no_grad


def test_readme_example_matches_hand_derivatives():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = (a * b + a.exp()).tanh()
    c.backward()
    s = 1 - math.tanh(2 * -3 + math.exp(2)) ** 2
    assert a.grad == pytest.approx(s * (-3 + math.exp(2)))
    assert b.grad == pytest.approx(s * 2)
    assert isinstance(a.grad, float) and isinstance(b.grad, float)


@pytest.mark.parametrize("data", [3, 2.5, -1, ("float64", 1.5), ("float32", 0.25), ("int64", 7)])
def test_value_accepts_real_numbers_and_stores_a_float(data):
    if isinstance(data, tuple):  # a numpy scalar, made here: Pyodide has no numpy (conftest.py)
        import numpy

        data = getattr(numpy, data[0])(data[1])
    v = Value(data)
    assert type(v.data) is float and v.data == float(data)
    assert v.grad == 0.0 and v.label == "" and v.op == "" and v.parents == () and v.is_leaf


@pytest.mark.parametrize("data", ["1.0", None, [1.0], 1 + 2j, True])
def test_value_rejects_anything_else_naming_its_type(data):
    with pytest.raises(TypeError, match=type(data).__name__):
        Value(data)


def test_value_rejects_nan_and_names_too_large_integers():
    with pytest.raises(ValueError, match="NaN"):
        Value(float("nan"))
    with pytest.raises(ValueError, match="NaN"):
        Value(2.0) ** float("nan")
    with pytest.raises(OverflowError, match=r"Value: .* too large"):
        Value(10**400)
    assert Value(float("inf")).data == float("inf")


def test_arithmetic_with_numbers_on_either_side():
    x = Value(3.0)
    cases = {
        x + 2: 5.0, 2 + x: 5.0, x - 2: 1.0, 2 - x: -1.0, x * 2: 6.0, 2 * x: 6.0,
        x / 2: 1.5, 6 / x: 2.0, x**2: 9.0, 2**x: 8.0, x**x: 27.0, -x: -3.0,
    }
    for result, expected in cases.items():
        assert result.data == pytest.approx(expected)
    assert sum([x, x, x]).data == 9.0


def test_operators_and_methods_are_differentiated_correctly():
    assert gradcheck(lambda x, y: (x + 2) * (3 - y) / (x * y) + 2**x - 1 / y, [0.7, 1.3])
    assert gradcheck(lambda x, y: x**y + y ** 2.5 - (-x) ** 3, [1.2, 0.8])
    assert gradcheck(lambda x: x.leaky_relu(0.1) + x.leaky_relu() + abs(x), [-0.7])


def test_stable_sigmoid_and_softplus_at_extremes():
    assert Value(1000.0).sigmoid().data == 1.0 and Value(-1000.0).sigmoid().data == 0.0
    assert Value(1000.0).softplus().data == 1000.0 and Value(-1000.0).softplus().data == 0.0
    x = Value(-1000.0)
    x.sigmoid().backward()
    assert x.grad == 0.0


def test_gelu_is_the_exact_erf_form():
    assert Value(1.0).gelu().data == pytest.approx(0.5 * (1 + math.erf(1 / math.sqrt(2))))


def test_parameterised_ops_take_int_parameters():
    from autograd import ops

    assert ops.power(2) is ops.power(2.0) and ops.power(2).forward(3.0) == 9.0
    assert ops.leaky_relu(1) is ops.leaky_relu(1.0)


def test_fused_ops_are_one_node_each():
    xs = [Value(float(i)) for i in range(1, 5)]
    ys = [Value(0.5 * i) for i in range(1, 5)]
    s, d, lse = autograd.sum(xs), autograd.dot(xs, ys), autograd.logsumexp(xs)
    assert (s.op, d.op, lse.op) == ("sum", "dot", "logsumexp")
    assert s.parents == tuple(xs) and d.parents == tuple(xs + ys)
    assert s.data == 10.0 and d.data == 15.0
    assert lse.data == pytest.approx(math.log(sum(math.exp(i) for i in range(1, 5))))
    probs = autograd.softmax(xs)
    assert isinstance(probs, list) and sum(p.data for p in probs) == pytest.approx(1.0)
    assert all(p.parents[1] is probs[0].parents[1] for p in probs)  # one shared logsumexp


def test_fused_ops_are_stable_and_check_their_arguments():
    big = [Value(1000.0), Value(1000.0)]
    assert autograd.logsumexp(big).data == pytest.approx(1000.0 + math.log(2))
    assert [p.data for p in autograd.softmax(big)] == pytest.approx([0.5, 0.5])
    assert autograd.sum([]).data == 0.0
    with pytest.raises(ValueError, match="same length"):
        autograd.dot([Value(1.0)], [1.0, 2.0])
    with pytest.raises(ValueError, match="empty"):
        autograd.logsumexp([])


@pytest.mark.parametrize("n", [1, 2, 3])
def test_fused_ops_with_few_inputs_backpropagate(n):
    def f(*xs):
        half = max(1, len(xs) // 2)
        return (autograd.sum(xs) + autograd.logsumexp(xs)
                + autograd.dot(xs[:half], xs[-half:]) + autograd.dot(xs[:1], xs[-1:], bias=xs[0]))

    point = [0.5, -0.25, 1.5][:n]
    xs = [Value(x) for x in point]
    f(*xs).backward()
    assert gradcheck(f, point)
    grads = autograd.gradients(f(*[Value(x) for x in point]), None)
    assert len(grads) > 0
    for x, expected in zip(xs, autograd.grad(f, argnums=tuple(range(n)))(*point)):
        assert x.grad == pytest.approx(expected)


def test_linear_is_a_row_of_affine_nodes():
    xs = [Value(0.3), 1.5, Value(-0.7)]
    weights = [[Value(0.1 * (i - j)) for j in range(3)] for i in range(4)]
    biases = [Value(0.5), 0.25, Value(-1.0), Value(2.0)]
    outputs = autograd.linear(xs, weights, biases)
    expected = [autograd.dot(w, xs, bias=b) for w, b in zip(weights, biases)]
    assert [v.data for v in outputs] == [v.data for v in expected]
    assert all(v.op == "affine" and len(v.parents) == 7 for v in outputs)
    assert gradcheck(lambda *v: autograd.sum(autograd.linear(v[:3], [v[3:6], v[6:9]], v[9:])),
                     [0.1 * k - 0.4 for k in range(11)])
    with pytest.raises(ValueError, match="one bias per row"):
        autograd.linear(xs, weights, biases[:2])
    with pytest.raises(ValueError, match="needs 3 entries"):
        autograd.linear(xs, [[Value(1.0)]], [0.0])


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "gelu", "leaky_relu"])
def test_linear_with_an_activation_is_one_fused_node_per_neuron(activation):
    xs = [Value(0.3), Value(-1.1), 0.8]
    weights = [[Value(0.5 - 0.3 * i + 0.2 * j) for j in range(3)] for i in range(4)]
    biases = [Value(0.1 * i - 0.2) for i in range(4)]
    fused = autograd.linear(xs, weights, biases, activation=activation)
    op = autograd.ops.unary(activation)
    separate = [autograd.apply(op, z) for z in autograd.linear(xs, weights, biases)]
    assert [v.op for v in fused] == [f"affine>{op.name}"] * 4
    assert [v.data for v in fused] == [v.data for v in separate]
    autograd.sum(fused).backward()
    fused_grads = [p.grad for p in [xs[0], xs[1], *weights[1], biases[2]]]
    for p in [xs[0], xs[1], *weights[1], biases[2]]:
        p.grad = 0.0
    autograd.sum(separate).backward()
    assert fused_grads == pytest.approx([p.grad for p in [xs[0], xs[1], *weights[1], biases[2]]])


def test_linear_names_the_activations_it_knows():
    with pytest.raises(ValueError, match=r"unknown unary op 'swish'.*leaky_relu.*relu"):
        autograd.linear([1.0], [[Value(1.0)]], [0.0], activation="swish")


def test_fused_ops_gradients_with_softmax_cross_entropy():
    def loss(a, b, c):
        probs = autograd.softmax([a, b, c])
        return -probs[1].log() + autograd.dot([a, b], [c, c])

    assert gradcheck(loss, [0.3, -1.2, 0.8])


def test_comparisons_use_data_while_equality_is_identity():
    a, b = Value(1.0), Value(1.0)
    assert a <= b and a >= b and not a < b and a < 2 and a > 0.5
    assert a != b and a == a and len({a, b}) == 2
    assert {a: "a", b: "b"}[b] == "b"


def test_repr_shows_data_grad_and_label():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, label="w")) == "Value(data=2.0, grad=0.0, label='w')"


def test_labels_are_per_node():
    a = Value(1.0)
    b, c = a + 1, a + 2
    b.label = "b"
    assert (a.label, b.label, c.label) == ("", "b", "")
    assert b.op == "+"


def test_parents_are_read_only():
    a = Value(1.0)
    b = a * 2
    assert isinstance(b.parents, tuple)
    with pytest.raises(AttributeError):
        b.parents = ()


def test_reused_node():
    a = Value(3.0)
    b = a + a
    c = b + b
    c.backward()
    assert a.grad == 4.0 and b.grad == 2.0


def test_diamond_graph():
    x = Value(0.5)
    left, right = x.exp(), x.sin()
    y = left * right
    y.backward()
    assert x.grad == pytest.approx(math.exp(0.5) * (math.sin(0.5) + math.cos(0.5)))


def test_a_zero_gradient_passes_nothing_on_but_its_rule_is_evaluated():
    x = Value(2.0)
    below = x * -3.0  # below the 0: its gradient is exactly 0, and -0.0 would reach x
    (below * 0.0).backward()
    assert below.grad == 0.0 and math.copysign(1.0, below.grad) == 1.0
    assert x.grad == 0.0 and math.copysign(1.0, x.grad) == 1.0  # untouched, not -0.0
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        (Value(0.0).sqrt() * 0.0).backward()  # the rule still runs, and 0.5 / 0 is undefined


def test_second_backward_accumulates_on_leaves_and_recomputes_interior_nodes():
    a = Value(2.0)
    b = a * a
    c = b * b
    c.backward()
    c.backward()
    assert a.grad == 64.0 and b.grad == 8.0 and c.grad == 1.0


def test_backward_from_a_leaf_accumulates_one():
    a = Value(5.0)
    a.backward()
    a.backward()
    assert a.grad == 2.0


def test_million_step_chain_backprops_without_recursion():
    a, b = Value(1.0 + 1e-7), Value(1e-7)
    x = Value(0.5)
    for _ in range(1_000_000):
        x = x * a + b
    x.backward()
    assert math.isfinite(a.grad) and a.grad > 0
    assert b.grad == pytest.approx((a.data**1_000_000 - 1) / (a.data - 1), rel=1e-6)
    del x  # freeing a million-deep chain must not recurse either


def test_backward_restores_the_garbage_collector_setting():
    x = Value(1.0)
    y = x * x
    assert gc.isenabled()
    y.backward()
    assert gc.isenabled()
    gc.disable()
    try:
        y.backward()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_no_grad_records_nothing_and_restores():
    x = Value(2.0)
    with no_grad():
        y = x * 3 + 1
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()
    assert y.data == 7.0 and y.is_leaf
    z = x * 3
    assert z.parents == (x, z.parents[1])


def test_no_grad_as_a_decorator():
    @no_grad()
    def predict(v):
        return v * v

    assert predict(Value(3.0)).is_leaf
    assert autograd.is_grad_enabled()


def test_no_grad_is_per_thread():
    inside, other_thread_saw = threading.Event(), []
    release = threading.Event()

    def worker():
        inside.wait()
        other_thread_saw.append((Value(1.0) * 2).is_leaf)
        release.set()

    thread = threading.Thread(target=worker)
    thread.start()
    with no_grad():
        inside.set()
        release.wait(timeout=10)
        assert (Value(1.0) * 2).is_leaf
    thread.join()
    assert other_thread_saw == [False]


def test_one_no_grad_instance_can_nest_recurse_and_be_shared():
    switch = no_grad()

    @switch
    def recurse(n):
        assert not autograd.is_grad_enabled()
        if n:
            recurse(n - 1)

    recurse(3)
    assert autograd.is_grad_enabled()
    with switch:
        with switch:
            pass
        assert not autograd.is_grad_enabled()
    assert autograd.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    with no_grad():
        with autograd.enable_grad():
            assert (Value(1.0) * 2).op == "*"
        assert (Value(1.0) * 2).is_leaf


def test_detach():
    x = Value(2.0)
    y = (x * x).detach()
    z = y * x
    z.backward()
    assert y.data == 4.0 and y.is_leaf and x.grad == 4.0


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Value(0.0).log(), ValueError, ["log", "0.0", "> 0"]),
        (lambda: Value(-1.0).log(), ValueError, ["log", "-1.0", "> 0"]),
        (lambda: Value(-4.0).sqrt(), ValueError, ["sqrt", "-4.0", ">= 0"]),
        (lambda: Value(-2.0) ** Value(2.0), ValueError, ["**", "-2.0", "> 0"]),
        (lambda: 0 ** Value(2.0), ValueError, ["**", "0", "> 0"]),
        (lambda: Value(1.0) / 0, ZeroDivisionError, ["/", "1.0", "zero"]),
        (lambda: 1 / Value(0.0), ZeroDivisionError, ["/", "zero"]),
        (lambda: Value(0.0) ** -1, ZeroDivisionError, ["**-1", "0.0"]),
        (lambda: Value(-8.0) ** 0.5, ValueError, ["**0.5", "-8.0"]),
        (lambda: Value(1000.0).exp(), OverflowError, ["exp", "1000.0"]),
        (lambda: Value(float("inf")) - float("inf"), ValueError, ["NaN", "-"]),
        (lambda: Value(float("inf")).sin(), ValueError, ["sin", "inf", "finite"]),
        (lambda: Value(float("-inf")).cos(), ValueError, ["cos", "-inf", "finite"]),
        (lambda: autograd.softmax([]), ValueError, ["softmax", "empty"]),
    ],
)
def test_bad_inputs_raise_clear_errors(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_an_error_leaves_the_graph_usable():
    x = Value(2.0)
    y = x * x
    with pytest.raises(ValueError):
        (y - 10).log()
    y.backward()
    assert x.grad == 4.0


def test_backward_names_an_undefined_derivative():
    x = Value(0.0)
    y = x.sqrt()
    with pytest.raises(ZeroDivisionError, match="sqrt"):
        y.backward()


def test_gradcheck_error_names_index_values_and_difference():
    wrong = autograd.Op("wrong", lambda x, y: x * y, lambda out, x, y: (y, 2 * x), 2,
                        ((-1.0, 1.0), (-1.0, 1.0)))
    with pytest.raises(GradcheckError) as info:
        gradcheck(lambda x, y: autograd.apply(wrong, x, y), [0.5, 0.25])
    message = str(info.value)
    assert "input[1]" in message and "analytical 1.0" in message
    assert re.search(r"numerical 0\.(5|4999)", message) and "difference 0.5" in message


def test_gradcheck_wants_a_value():
    with pytest.raises(TypeError, match="must return a Value"):
        gradcheck(lambda x: 3.0, [1.0])


def test_graphs_hold_no_reference_cycles():
    gc.collect()
    gc.disable()
    try:
        x = Value(1.5)
        y = ((x * 2).tanh() + x.exp()).log()
        y.backward()
        del x, y
        assert gc.collect() == 0
    finally:
        gc.enable()
