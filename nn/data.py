"""Toy 2-D datasets for classification, made with numpy (no scikit-learn needed).

Every function returns ``(X, y)``: ``X`` a float array of shape ``(n_samples, 2)``, ``y`` an int
array of shape ``(n_samples,)`` holding class indices ``0 .. n_classes - 1`` (0 and 1 for the
two-class sets), as scikit-learn does. For ``hinge_loss``, which wants labels ±1, use
``2 * y - 1``.

The arguments scikit-learn also has keep its names and defaults (``n_samples=100``,
``noise=None`` — no noise —, ``shuffle=True``, ``random_state=None``, ``make_circles``'
``factor=0.8``, ``make_blobs``' ``cluster_std=1.0`` and ``center_box=(-10, 10)``), so code
written for ``sklearn.datasets`` runs unchanged; the points themselves come from another random
generator. ``random_state`` is an int (the same int always gives the same data), a
``numpy.random.Generator`` to draw from, or ``None`` (fresh randomness); numpy's global state is
never used. ``seed=`` is accepted as another name for ``random_state``, the word ``nn.MLP`` uses.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Union

import numpy as np

from nn.validation import check_int, check_number, finite_float

__all__ = ["make_blobs", "make_circles", "make_moons", "make_spirals"]

RandomState = Union[int, np.random.Generator, None]


def make_moons(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
               random_state: RandomState = None,
               seed: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): upper moon 0, lower 1.

    ``noise`` is the standard deviation of Gaussian noise added to each coordinate.

    >>> X, y = make_moons(100, noise=0.1, random_state=0)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((100, 2), (100,), [0, 1])
    """
    check_int("make_moons", "n_samples", n_samples, 2)
    noise = _non_negative("make_moons", "noise", noise)
    rng = _generator("make_moons", random_state, seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    X = np.concatenate([
        np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
        np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_upper, dtype=np.int64), np.ones(n_lower, dtype=np.int64)])
    return _finish(X, y, noise, rng, shuffle)


def make_circles(n_samples: int = 100, *, shuffle: bool = True, noise: float | None = None,
                 random_state: RandomState = None, factor: float = 0.8,
                 seed: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1).

    >>> X, y = make_circles(10, factor=0.5, random_state=0)
    >>> np.round(np.hypot(X[:, 0], X[:, 1])[y == 1], 6).tolist()
    [0.5, 0.5, 0.5, 0.5, 0.5]
    """
    check_int("make_circles", "n_samples", n_samples, 2)
    noise = _non_negative("make_circles", "noise", noise)
    number = finite_float(factor)
    if number is None or not 0.0 < number < 1.0:
        raise ValueError(f"make_circles: factor must be a number between 0 and 1, got {factor!r}")
    rng = _generator("make_circles", random_state, seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2.0 * np.pi, n_inner, endpoint=False)
    X = np.concatenate([
        np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
        number * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_outer, dtype=np.int64), np.ones(n_inner, dtype=np.int64)])
    return _finish(X, y, noise, rng, shuffle)


def make_spirals(n_samples: int = 100, n_classes: int = 2, noise: float | None = 0.05,
                 turns: float = 1.0, *, shuffle: bool = True, random_state: RandomState = None,
                 seed: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` spiral arms winding out from the origin, arm ``k`` is class ``k``.

    Each arm makes ``turns`` full turns from radius 0 to 1; arm ``k`` is the first one rotated
    by ``2π k / n_classes`` (two classes: the classic twin spirals; three: CS231n's spirals).
    scikit-learn has no spirals; the arguments follow its other makers.

    >>> X, y = make_spirals(90, n_classes=3, random_state=0)
    >>> X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    n_classes = check_int("make_spirals", "n_classes", n_classes, 2)
    check_int("make_spirals", "n_samples", n_samples, n_classes)
    noise = _non_negative("make_spirals", "noise", noise)
    number = check_number("make_spirals", "turns", turns, positive=True)
    rng = _generator("make_spirals", random_state, seed)
    parts, labels = [], []
    for k, count in enumerate(_split(n_samples, n_classes)):
        r = np.linspace(0.05, 1.0, count)
        theta = 2.0 * np.pi * (number * r + k / n_classes)
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        labels.append(np.full(count, k, dtype=np.int64))
    return _finish(np.concatenate(parts), np.concatenate(labels), noise, rng, shuffle)


def make_blobs(n_samples: int = 100, centers: int | Sequence[Sequence[float]] | None = None,
               cluster_std: float = 1.0, center_box: tuple[float, float] = (-10.0, 10.0), *,
               shuffle: bool = True, random_state: RandomState = None,
               seed: RandomState = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one class per center (scikit-learn's ``make_blobs`` for 2-D points).

    ``centers`` is a number of centers drawn uniformly from ``center_box`` (in both coordinates;
    ``None`` means 3, as in scikit-learn) or the list of center coordinates; each blob has
    standard deviation ``cluster_std``.

    >>> X, y = make_blobs(6, centers=[[0, 0], [5, 5]], cluster_std=0.0, random_state=0)
    >>> sorted(map(tuple, X[y == 1].tolist()))
    [(5.0, 5.0), (5.0, 5.0), (5.0, 5.0)]
    """
    rng = _generator("make_blobs", random_state, seed)
    if centers is None or isinstance(centers, numbers.Number):
        count = check_int("make_blobs", "centers", 3 if centers is None else centers, 1)
        box = [finite_float(v) for v in np.asarray(center_box, dtype=object).ravel()]
        if len(box) != 2 or None in box or not box[0] < box[1]:
            raise ValueError(f"make_blobs: center_box must be a pair of finite numbers (low, "
                             f"high) with low < high, got {center_box!r}")
        center_array = rng.uniform(box[0], box[1], size=(count, 2))
    else:
        center_array = np.asarray(centers, dtype=float)
        if center_array.ndim != 2 or center_array.shape[1] != 2 or len(center_array) < 1:
            raise ValueError(f"make_blobs: centers must be a list of (x, y) pairs, got shape "
                             f"{center_array.shape}")
        if not np.isfinite(center_array).all():
            raise ValueError("make_blobs: centers must be finite numbers")
    std = check_number("make_blobs", "cluster_std", cluster_std)
    check_int("make_blobs", "n_samples", n_samples, len(center_array))
    counts = _split(n_samples, len(center_array))
    X = np.repeat(center_array, counts, axis=0)
    y = np.repeat(np.arange(len(center_array), dtype=np.int64), counts)
    return _finish(X, y, std, rng, shuffle)


def _split(n: int, parts: int) -> list[int]:
    """``n`` items in ``parts`` groups as even as can be, the first groups taking the remainder."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def _finish(X: np.ndarray, y: np.ndarray, noise: float, rng: np.random.Generator,
            shuffle: bool) -> tuple[np.ndarray, np.ndarray]:
    if shuffle:
        order = rng.permutation(len(y))  # first, so the order does not depend on the noise
        X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(0.0, noise, size=X.shape)
    return X, y


def _generator(name: str, random_state: RandomState, seed: RandomState) -> np.random.Generator:
    if seed is not None:
        if random_state is not None:
            raise TypeError(f"{name}: give random_state or seed (the same thing), not both")
        random_state = seed
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    state = check_int(name, "random_state", random_state, 0)
    return np.random.default_rng(state)


def _non_negative(name: str, what: str, value: float | None) -> float:
    return 0.0 if value is None else check_number(name, what, value, hint=" (None is allowed too)")
