"""The engine's policies, each pinned by the defect that showed it was needed.

Overflow and NaN: a result or a gradient that overflows from finite inputs raises OverflowError,
a NaN raises ValueError, both naming the op, on every path. backward() is all or nothing.
"""

from __future__ import annotations

import copy
import math
import pickle
import threading

import pytest

import autograd
from autograd import Value, grad, gradcheck, hessian, logsumexp, no_grad, softmax

# --- D1: a failed backward() changes nothing ----------------------------------------------------


def test_a_failing_backward_leaves_every_grad_as_it_was():
    a, b, c = Value(2.0), Value(3.0), Value(0.0)
    a.grad = 0.5
    y = a * b + c.sqrt()
    with pytest.raises(ZeroDivisionError, match="backward through sqrt at inputs"):
        y.backward()
    assert (a.grad, b.grad, c.grad, y.grad) == (0.5, 0.0, 0.0, 0.0)
    with pytest.raises(ZeroDivisionError):
        y.backward(create_graph=True)
    assert (a.grad, b.grad, c.grad) == (0.5, 0.0, 0.0)


def test_an_interrupted_backward_leaves_every_grad_as_it_was():
    from autograd.ops import Op
    interrupt = Op("interrupt", lambda x: x, lambda out, x: (_raise(KeyboardInterrupt()),), 1,
                   [(-1, 1)])
    a = Value(2.0)
    y = a * 3 + autograd.apply(interrupt, a)
    with pytest.raises(KeyboardInterrupt):
        y.backward()
    assert a.grad == 0.0


def _raise(error):
    raise error


# --- D2: a derivative inside a derivative keeps the closed-over variable ------------------------


def test_nested_grad_at_a_number_keeps_the_outer_variable():
    assert grad(lambda x: x * grad(lambda y: x * y)(1.0))(1.0) == 2.0
    assert grad(lambda x: x * grad(lambda y: x * y)(Value(1.0)))(1.0) == 2.0
    assert grad(lambda x: grad(lambda y: x * x * y)(3.0))(2.0) == 4.0


# --- D3: no_grad on a generator function ------------------------------------------------------


def test_no_grad_covers_a_generator_functions_body_and_not_the_caller():
    @no_grad()
    def doubled(values):
        for v in values:
            assert not autograd.is_grad_enabled()
            received = yield v * 2
            assert received is None or received == "sent"

    outputs = []
    generator = doubled([Value(1.0), Value(2.0)])
    for out in generator:
        assert autograd.is_grad_enabled()  # the caller's code between steps records
        outputs.append(out)
    assert [o.data for o in outputs] == [2.0, 4.0]
    assert all(o.is_leaf for o in outputs)


# --- D4, D5: softmax and logsumexp exact at any magnitude, first and second order --------------


@pytest.mark.parametrize("scale", [1.0, 1e4, 1e8, 1e12, 1e16, 1e300])
def test_softmax_is_exact_at_any_magnitude(scale):
    xs = [scale, scale * (1 - 2**-40), scale]
    probs = [p.data for p in softmax([Value(x) for x in xs])]
    top = max(xs)
    exps = [math.exp(x - top) for x in xs]
    expected = [e / math.fsum(exps) for e in exps]
    assert probs == pytest.approx(expected, rel=1e-15)
    assert [p.data for p in softmax([Value(scale)] * 2)] == [0.5, 0.5]


def test_softmax_second_derivative_of_a_constant_is_zero():
    assert hessian(lambda x: softmax([1e6 * x * x] * 2)[0])(1.0) == [[0.0]]


def test_logsumexp_gradient_is_the_exact_softmax():
    g = grad(lambda x, y: logsumexp([x, y]), argnums=(0, 1))(1e16, 1e16)
    assert g == (0.5, 0.5)


def test_logsumexp_hessian_keeps_every_term_when_an_input_is_huge():
    # f(x) = log(e^(e^x) + 1); f'' = e^x s + e^2x s(1 - s) with s = sigmoid(e^x) = 1 at x = 40
    expected = math.exp(40.0)
    assert hessian(lambda x: logsumexp([x.exp(), Value(0.0)]))(40.0)[0][0] == \
        pytest.approx(expected, rel=1e-15)


# --- D6: one overflow and NaN policy ----------------------------------------------------------


@pytest.mark.parametrize("compute", [
    lambda: Value(1e200) * Value(1e200),
    lambda: Value(1.7e308) + Value(1.7e308),
    lambda: autograd.sum([Value(1.7e308), Value(1.7e308)]),
    lambda: autograd.dot([Value(1e200)], [Value(1e200)]),
    lambda: Value(1e200) ** 2,
    lambda: Value(710.0).exp(),
    lambda: Value(1e-200) ** -2,
])
def test_a_result_that_overflows_raises_naming_the_op_and_inputs(compute):
    with pytest.raises(OverflowError, match=r"the result overflows a float .* at inputs \["):
        compute()


def test_an_overflowing_derivative_raises_on_every_path_without_errno():
    for f in (lambda x: 1 / x, lambda x: x ** -1):
        with pytest.raises(OverflowError) as caught:
            grad(f)(1e-200)
        assert "overflows" in str(caught.value) and "(34" not in str(caught.value)
        x = Value(1e-200)
        with pytest.raises(OverflowError):
            f(x).backward()
        with pytest.raises(OverflowError):
            f(Value(1e-200)).backward(create_graph=True)
        assert x.grad == 0.0


def test_x_over_x_at_the_smallest_float_raises_alike_on_every_path():
    for run in (lambda: grad(lambda x: x / x)(5e-324),
                lambda: (lambda x: (x / x).backward())(Value(5e-324)),
                lambda: (lambda x: (x / x).backward(create_graph=True))(Value(5e-324))):
        with pytest.raises(OverflowError, match="overflows a float"):
            run()


def test_infinite_inputs_are_allowed_and_give_the_limits_as_derivatives():
    assert grad(lambda x: x.gelu())(math.inf) == 1.0
    assert grad(lambda x: x.gelu())(-math.inf) == 0.0
    assert grad(lambda x, y: logsumexp([x, y]), argnums=(0, 1))(math.inf, 1.0) == (1.0, 0.0)
    assert (Value(math.inf) + 1).data == math.inf  # not an overflow: the input was infinite


def test_a_nan_result_raises_value_error():
    with pytest.raises(ValueError, match="the result is NaN"):
        Value(math.inf) - Value(math.inf)


# --- D11: pickling and deep copies --------------------------------------------------------------


def test_a_leaf_pickles_with_its_data_grad_and_label():
    w = Value(1.5, label="w")
    w.grad = 0.25
    clone = pickle.loads(pickle.dumps(w))
    assert (clone.data, clone.grad, clone.label) == (1.5, 0.25, "w")


def test_a_value_with_history_refuses_to_pickle_and_says_why():
    with pytest.raises(TypeError, match=r"cannot pickle a Value computed by '\*'.*detach"):
        pickle.dumps(Value(1.0) * 2)


def test_deepcopy_of_a_deep_chain_does_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    clone = copy.deepcopy(y)
    clone.backward()
    assert clone.data == y.data and x.grad == 0.0
    leaf = clone
    while leaf.parents:
        leaf = leaf.parents[0]
    assert leaf is not x and leaf.grad == 1.0


# --- a newcomer's silent failures and unhelpful errors (issue 11) -----------------------------


def test_backward_on_a_result_computed_inside_no_grad_raises_naming_no_grad():
    with no_grad():
        y = Value(2.0) * 3
    with pytest.raises(RuntimeError, match=r"inside no_grad\(\)"):
        y.backward()
    Value(2.0).backward()  # a leaf you made still accumulates d leaf / d leaf = 1


def test_label_must_be_a_string_with_a_hint_for_micrographs_constructor():
    a, b = Value(1.0), Value(2.0)
    with pytest.raises(TypeError, match=r"label must be a str, got tuple.*micrograd"):
        Value(5.0, (a, b))


def test_a_value_of_a_value_says_what_to_do():
    with pytest.raises(TypeError, match=r"got a Value: use that Value itself, or .*detach"):
        Value(Value(1.0))


def test_numpy_scalars_and_zero_d_arrays_are_numbers():
    import numpy as np  # here, not at the top: Pyodide has no numpy (conftest.py)

    assert Value(np.array(1.5)).data == 1.5
    assert Value(np.float32(2.0)).data == 2.0 and Value(np.int64(3)).data == 3.0
    with pytest.raises(TypeError, match="real number"):
        Value(np.array([1.0, 2.0]))
    with pytest.raises(OverflowError, match="too large for a float"):
        Value(np.longdouble("1e4000"))


def test_grad_mode_is_per_thread_inside_a_generator_too():
    seen = []

    @no_grad()
    def body():
        yield
        seen.append(autograd.is_grad_enabled())

    def run():
        for _ in body():
            pass

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [False] and autograd.is_grad_enabled()


@pytest.mark.parametrize(("option", "bad"), [("eps", 0), ("eps", -1e-6), ("eps", math.nan),
                                             ("atol", -1.0), ("rtol", math.inf)])
def test_gradcheck_refuses_a_step_or_tolerance_it_cannot_use(option, bad):
    with pytest.raises(ValueError, match=f"gradcheck: {option} .*got {bad!r}"):
        gradcheck(lambda x: x * x, [1.0], **{option: bad})


def test_gradcheck_takes_numpy_scalars_as_its_step_and_tolerances():
    import numpy as np

    assert gradcheck(lambda x: x * x, [1.0], eps=np.float32(1e-3), atol=np.float32(1e-4),
                     rtol=np.int64(0))
