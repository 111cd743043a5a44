"""Toy datasets: shapes, labels, seeds, geometry."""

from __future__ import annotations

import numpy as np
import pytest

from nn import make_blobs, make_circles, make_moons, make_spirals

MAKERS = [make_moons, make_circles, make_spirals, make_blobs]


# every class present needs at least as many points as classes: blobs has three
SIZES = [(make, n) for make in MAKERS for n in (2, 3, 100, 101) if make is not make_blobs or n >= 3]


@pytest.mark.parametrize("make, n", SIZES)
def test_shapes_and_types(make, n):
    X, y = make(n, seed=0)
    assert X.shape == (n, 2) and X.dtype == np.float64
    assert y.shape == (n,) and np.issubdtype(y.dtype, np.integer)
    assert set(y.tolist()) == set(range(int(y.max()) + 1))  # labels 0 .. k-1, all present


@pytest.mark.parametrize("make", MAKERS)
def test_seeded_and_independent_of_global_state(make):
    X1, y1 = make(50, seed=3)
    np.random.seed(0)
    np.random.rand()
    X2, y2 = make(50, seed=3)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    X3, _ = make(50, seed=4)
    assert not np.array_equal(X1, X3)


def test_moons_geometry_without_noise():
    X, y = make_moons(100, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    assert len(upper) == len(lower) == 50
    assert np.allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0)  # centred at (0, 0)
    assert np.allclose(np.hypot(lower[:, 0] - 1.0, lower[:, 1] - 0.5), 1.0)  # at (1, 0.5)
    assert (upper[:, 1] >= -1e-12).all() and (lower[:, 1] <= 0.5 + 1e-12).all()


def test_circles_radii_and_noise():
    X, y = make_circles(200, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.3)
    Xn, yn = make_circles(200, noise=0.1, factor=0.3, seed=0)
    assert np.array_equal(y, yn)
    assert 0.05 < np.std(np.hypot(Xn[:, 0], Xn[:, 1])[yn == 0]) < 0.2


def test_spirals_classes_and_radius():
    X, y = make_spirals(301, n_classes=3, noise=0.0, seed=0)
    assert np.bincount(y).tolist() == [101, 100, 100]
    assert np.hypot(X[:, 0], X[:, 1]).max() == pytest.approx(1.0)


def test_blobs_centers_and_spread():
    centers = [[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]
    X, y = make_blobs(3000, centers=centers, cluster_std=0.5, seed=0)
    for k, c in enumerate(centers):
        assert np.allclose(X[y == k].mean(axis=0), c, atol=0.1)
        assert np.allclose(X[y == k].std(axis=0), 0.5, atol=0.05)
    X, y = make_blobs(100, centers=4, center_box=(-1.0, 1.0), cluster_std=0.0, seed=1)
    assert np.abs(X).max() <= 1.0 and len(np.unique(X, axis=0)) == 4


@pytest.mark.parametrize(("call", "error"), [
    (lambda: make_moons(1), ValueError),
    (lambda: make_moons(10, noise=-0.1), ValueError),
    (lambda: make_moons(10.0), TypeError),
    (lambda: make_circles(10, factor=1.5), ValueError),
    (lambda: make_spirals(10, n_classes=1), ValueError),
    (lambda: make_spirals(2, n_classes=3), ValueError),
    (lambda: make_blobs(10, centers=0), ValueError),
    (lambda: make_blobs(10, centers=[1, 2, 3]), ValueError),
    (lambda: make_blobs(10, cluster_std=-1), ValueError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("make", MAKERS)
def test_random_state_is_scikit_learns_word_and_seed_its_alias(make):
    X1, y1 = make(30, random_state=7)
    X2, y2 = make(30, seed=7)
    assert np.array_equal(X1, X2) and np.array_equal(y1, y2)
    X3, _ = make(30, random_state=np.random.default_rng(7))
    assert np.array_equal(X1, X3)  # a Generator is drawn from
    with pytest.raises(TypeError, match="random_state or seed"):
        make(30, random_state=1, seed=1)
    with pytest.raises(TypeError, match="random_state must be an int"):
        make(30, random_state="7")
    with pytest.raises(ValueError, match="random_state must be an int >= 0"):
        make(30, random_state=-1)


def test_scikit_learn_defaults_where_the_names_match():
    import inspect

    defaults = {  # from scikit-learn 1.5's sklearn.datasets
        make_moons: {"n_samples": 100, "shuffle": True, "noise": None, "random_state": None},
        make_circles: {"n_samples": 100, "shuffle": True, "noise": None, "random_state": None,
                       "factor": 0.8},
        make_blobs: {"n_samples": 100, "cluster_std": 1.0, "center_box": (-10.0, 10.0),
                     "shuffle": True, "random_state": None},
    }
    for make, expected in defaults.items():
        params = inspect.signature(make).parameters
        assert {name: params[name].default for name in expected} == expected
    X, y = make_circles(random_state=0)
    r = np.hypot(X[:, 0], X[:, 1])
    assert np.allclose(r[y == 0], 1.0) and np.allclose(r[y == 1], 0.8)  # no noise by default
    assert len(make_blobs(random_state=0)[0]) == 100 and set(make_blobs(random_state=0)[1]) == {
        0, 1, 2}


def test_shuffle_false_keeps_classes_in_order():
    _, y = make_moons(10, shuffle=False)
    assert y.tolist() == [0] * 5 + [1] * 5


@pytest.mark.parametrize("call", [
    lambda: make_moons(10, noise=float("inf")),
    lambda: make_moons(10, noise=float("nan")),
    lambda: make_circles(10, noise=float("inf")),
    lambda: make_circles(10, factor=float("nan")),
    lambda: make_spirals(10, turns=float("nan")),
    lambda: make_spirals(10, turns=float("inf")),
    lambda: make_spirals(10, noise=-1.0),
    lambda: make_blobs(10, cluster_std=float("nan")),
    lambda: make_blobs(10, cluster_std=float("inf")),
    lambda: make_blobs(10, center_box=(0.0, float("inf"))),
    lambda: make_blobs(10, center_box=(1.0, -1.0)),
    lambda: make_blobs(10, centers=[[0.0, float("nan")], [1.0, 1.0]]),
])
def test_parameters_that_would_give_inf_or_nan_data_are_refused(call):
    with pytest.raises(ValueError, match=r"finite|between 0 and 1|low < high"):
        call()


def test_numpy_integers_as_sizes():
    X, y = make_spirals(np.int64(30), n_classes=np.int32(3), random_state=np.int64(0))
    assert X.shape == (30, 2) and set(y.tolist()) == {0, 1, 2}
    with pytest.raises(TypeError, match="n_classes must be an int"):
        make_spirals(30, n_classes=2.5)
