"""Higher-order gradients: create_graph, grad, value_and_grad, jacobian, hessian."""

from __future__ import annotations

import math

import pytest

from autograd import Value, grad, gradcheck, hessian, jacobian, no_grad, value_and_grad


def test_backward_with_create_graph_gives_differentiable_gradients():
    x = Value(1.5)
    y = x * x * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == pytest.approx(3 * 1.5**2)
    first = x.grad
    x.grad = 0.0
    first.backward()
    assert x.grad == pytest.approx(6 * 1.5)


def test_backward_without_create_graph_stays_floats():
    x = Value(1.5)
    (x.sin() * x).backward()
    assert type(x.grad) is float


def test_grad_of_sin_to_third_order():
    f = lambda x: x.sin()
    for x in (-1.0, 0.3, 2.0):
        assert grad(f)(x) == pytest.approx(math.cos(x))
        assert grad(grad(f))(x) == pytest.approx(-math.sin(x))
        assert grad(grad(grad(f)))(x) == pytest.approx(-math.cos(x))


def test_grad_returns_floats_on_numbers_and_values_on_values():
    f = lambda x: x * x
    assert type(grad(f)(3.0)) is float
    derivative = grad(f)(Value(3.0))
    assert isinstance(derivative, Value) and derivative.data == 6.0


def test_value_and_grad_with_several_argnums():
    f = lambda x, y, z: x * y + z.exp()
    value, (dx, dz) = value_and_grad(f, argnums=(0, 2))(2.0, 3.0, 0.0)
    assert value == 7.0 and (dx, dz) == (3.0, 1.0)
    assert value_and_grad(f, argnums=1)(2.0, 3.0, 0.0) == (7.0, 2.0)
    assert grad(f, argnums=-1)(2.0, 3.0, 0.0) == 1.0


def test_same_value_passed_twice_gets_two_partials():
    f = lambda x, y: x * y * y
    x = Value(2.0)
    dx, dy = grad(f, argnums=(0, 1))(x, x)
    assert (dx.data, dy.data) == (4.0, 8.0)


def test_an_argument_f_ignores_has_zero_derivative():
    assert grad(lambda x, y: y * 2, argnums=0)(1.0, 5.0) == 0.0


def test_grad_does_not_touch_dot_grad():
    w = Value(3.0)
    x = Value(2.0)
    grad(lambda v: v * w)(x)
    assert w.grad == 0.0 and x.grad == 0.0


def test_rosenbrock_hessian_matches_closed_form():
    a, b = 1.0, 100.0
    f = lambda x, y: (a - x) ** 2 + b * (y - x * x) ** 2
    for x, y in [(0.5, -0.3), (1.2, 1.0), (-1.0, 2.0)]:
        expected = [[2 - 4 * b * (y - 3 * x * x), -4 * b * x], [-4 * b * x, 2 * b]]
        got = hessian(f)(x, y)
        for row, want in zip(got, expected):
            assert row == pytest.approx(want)


def test_jacobian_of_a_polar_to_cartesian_map():
    f = lambda r, t: [r * t.cos(), r * t.sin()]
    r, t = 2.0, 0.7
    assert jacobian(f)(r, t) == [
        pytest.approx([math.cos(t), -r * math.sin(t)]),
        pytest.approx([math.sin(t), r * math.cos(t)]),
    ]


def test_newtons_method_with_grad_of_grad():
    f = lambda x: x.exp() - 2 * x * x  # its minimum is near x = 2.15
    df, d2f = grad(f), grad(grad(f))
    x = 3.0
    for _ in range(20):
        step = df(x) / d2f(x)
        x -= step
        if abs(step) < 1e-12:
            break
    assert abs(df(x)) < 1e-9 and d2f(x) > 0
    assert x == pytest.approx(2.15329236411035, rel=1e-12)


def test_hessian_of_a_function_built_from_many_ops():
    f = lambda x, y: (x * y).tanh() + x.sigmoid() * y.softplus() + (x / y).log() ** 2
    assert gradcheck(f, [0.7, 1.3], eps=1e-5, atol=1e-4, order=2)


def test_grad_needs_a_single_value():
    with pytest.raises(TypeError, match=r"single Value.*list"):
        grad(lambda x: [x, x])(1.0)
    with pytest.raises(TypeError, match=r"single Value.*float"):
        grad(lambda x: 3.0)(1.0)


def test_bad_argnums():
    with pytest.raises(ValueError, match="out of range"):
        grad(lambda x: x, argnums=1)(1.0)
    with pytest.raises(TypeError, match="argnums"):
        grad(lambda x: x, argnums="0")(1.0)


def test_jacobian_rejects_non_value_outputs():
    with pytest.raises(TypeError, match="output 1"):
        jacobian(lambda x: [x, "x"])(1.0)


def test_the_functional_api_works_inside_no_grad():
    with no_grad():
        assert grad(lambda x: x * x)(3.0) == 6.0
        assert hessian(lambda x: x * x * x)(2.0) == [[12.0]]
        assert jacobian(lambda x, y: [x * y])(2.0, 3.0) == [[3.0, 2.0]]
        assert gradcheck(lambda x: x * x, [3.0], order=2)
        x = Value(3.0)
        y = x * 1.0
    assert y.is_leaf  # no_grad itself still holds around them


def test_create_graph_inside_no_grad_still_records_the_gradient():
    x = Value(3.0)
    y = x * x * x
    with no_grad():
        y.backward(create_graph=True)
    assert not x.grad.is_leaf and x.grad.data == 27.0


def test_constant_and_linear_powers_differentiate_at_zero():
    x = Value(0.0)
    (x**0).backward()
    assert x.grad == 0.0
    assert grad(grad(lambda x: x**1))(0.0) == 0.0
    assert grad(grad(grad(lambda x: x**2)))(0.0) == 0.0
    assert grad(grad(grad(lambda x: x**3)))(0.0) == 6.0


def test_argnums_rejects_bools():
    with pytest.raises(TypeError, match="argnums"):
        grad(lambda x, y: x * y, argnums=True)(1.0, 2.0)


def test_a_list_argument_says_to_unpack_it():
    with pytest.raises(TypeError, match=r"argument 0 is a list .*one number per argument"):
        grad(lambda x: x * x)([1, 2])
    with pytest.raises(TypeError, match="argument 1 is a tuple"):
        jacobian(lambda x, y: [x * y])(1.0, (2.0, 3.0))
