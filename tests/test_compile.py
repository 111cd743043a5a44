"""``autograd.compile``: record once, replay many — the same bits as the eager engine.

The suite runs on both engines (``./dev.sh test``), so every check here holds for the compiled
core's replay and for the reference's. Also ``autograd.take`` (an index as an input) and the
bulk transfer ``read_floats``/``write_floats``.
"""

from __future__ import annotations

import math
from array import array

import pytest

import autograd
from autograd import DataDependentError, Value
from autograd.recording import read_floats, write_floats

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
