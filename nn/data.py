"""Toy 2-D datasets for classification, made with numpy (no scikit-learn needed).

Every function returns ``(X, y)``: ``X`` a float array of shape ``(n_samples, 2)``, ``y`` an int
array of shape ``(n_samples,)`` holding class indices ``0 .. n_classes - 1`` (0 and 1 for the
two-class sets), as scikit-learn does. For ``hinge_loss``, which wants labels ±1, use
``2 * y - 1``. The samples are shuffled and the same ``seed`` always gives the same data; the
random numbers come from ``numpy.random.default_rng(seed)``, never from numpy's global state.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["make_blobs", "make_circles", "make_moons", "make_spirals"]


def make_moons(n_samples: int = 100, noise: float = 0.1,
               seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (scikit-learn's ``make_moons``): upper moon 0, lower 1.

    ``noise`` is the standard deviation of Gaussian noise added to each coordinate.

    >>> X, y = make_moons(100, seed=0)
    >>> X.shape, y.shape, sorted(set(y.tolist()))
    ((100, 2), (100,), [0, 1])
    """
    _check_samples(n_samples, 2)
    _check_noise(noise)
    rng = np.random.default_rng(seed)
    n_upper = n_samples // 2
    n_lower = n_samples - n_upper
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    X = np.concatenate([
        np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1),
        np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_upper, dtype=np.int64), np.ones(n_lower, dtype=np.int64)])
    return _finish(X, y, noise, rng)


def make_circles(n_samples: int = 100, noise: float = 0.05, factor: float = 0.5,
                 seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A circle of radius 1 (class 0) around one of radius ``factor`` (class 1).

    >>> X, y = make_circles(10, noise=0.0, seed=0)
    >>> np.round(np.hypot(X[:, 0], X[:, 1])[y == 1], 6).tolist()
    [0.5, 0.5, 0.5, 0.5, 0.5]
    """
    _check_samples(n_samples, 2)
    _check_noise(noise)
    if not 0.0 < factor < 1.0:
        raise ValueError(f"make_circles: factor must be between 0 and 1, got {factor}")
    rng = np.random.default_rng(seed)
    n_outer = n_samples // 2
    n_inner = n_samples - n_outer
    t_outer = np.linspace(0.0, 2.0 * np.pi, n_outer, endpoint=False)
    t_inner = np.linspace(0.0, 2.0 * np.pi, n_inner, endpoint=False)
    X = np.concatenate([
        np.stack([np.cos(t_outer), np.sin(t_outer)], axis=1),
        factor * np.stack([np.cos(t_inner), np.sin(t_inner)], axis=1),
    ])
    y = np.concatenate([np.zeros(n_outer, dtype=np.int64), np.ones(n_inner, dtype=np.int64)])
    return _finish(X, y, noise, rng)


def make_spirals(n_samples: int = 100, n_classes: int = 2, noise: float = 0.05,
                 turns: float = 1.0, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``n_classes`` spiral arms winding out from the origin, arm ``k`` is class ``k``.

    Each arm makes ``turns`` full turns from radius 0 to 1; arm ``k`` is the first one rotated
    by ``2π k / n_classes`` (two classes: the classic twin spirals; three: CS231n's spirals).

    >>> X, y = make_spirals(90, n_classes=3, seed=0)
    >>> X.shape, np.bincount(y).tolist()
    ((90, 2), [30, 30, 30])
    """
    if n_classes < 2:
        raise ValueError(f"make_spirals: needs at least 2 classes, got {n_classes}")
    _check_samples(n_samples, n_classes)
    _check_noise(noise)
    if turns <= 0:
        raise ValueError(f"make_spirals: turns must be positive, got {turns}")
    rng = np.random.default_rng(seed)
    parts, labels = [], []
    for k, count in enumerate(_split(n_samples, n_classes)):
        r = np.linspace(0.05, 1.0, count)
        theta = 2.0 * np.pi * (turns * r + k / n_classes)
        parts.append(np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1))
        labels.append(np.full(count, k, dtype=np.int64))
    return _finish(np.concatenate(parts), np.concatenate(labels), noise, rng)


def make_blobs(n_samples: int = 100, centers: int | Sequence[Sequence[float]] = 3,
               cluster_std: float = 1.0, center_box: tuple[float, float] = (-10.0, 10.0),
               seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs, one class per center (scikit-learn's ``make_blobs`` for 2-D points).

    ``centers`` is a number of centers drawn uniformly from ``center_box`` (in both coordinates)
    or the list of center coordinates; each blob has standard deviation ``cluster_std``.

    >>> X, y = make_blobs(6, centers=[[0, 0], [5, 5]], cluster_std=0.0, seed=0)
    >>> sorted(map(tuple, X[y == 1].tolist()))
    [(5.0, 5.0), (5.0, 5.0), (5.0, 5.0)]
    """
    rng = np.random.default_rng(seed)
    if isinstance(centers, (int, np.integer)):
        if centers < 1:
            raise ValueError(f"make_blobs: needs at least one center, got {centers}")
        low, high = center_box
        center_array = rng.uniform(low, high, size=(int(centers), 2))
    else:
        center_array = np.asarray(centers, dtype=float)
        if center_array.ndim != 2 or center_array.shape[1] != 2 or len(center_array) < 1:
            raise ValueError(f"make_blobs: centers must be a list of (x, y) pairs, got shape "
                             f"{center_array.shape}")
    if cluster_std < 0:
        raise ValueError(f"make_blobs: cluster_std must be >= 0, got {cluster_std}")
    _check_samples(n_samples, len(center_array))
    counts = _split(n_samples, len(center_array))
    X = np.repeat(center_array, counts, axis=0)
    y = np.repeat(np.arange(len(center_array), dtype=np.int64), counts)
    return _finish(X, y, cluster_std, rng)


def _split(n: int, parts: int) -> list[int]:
    """``n`` items in ``parts`` groups as even as can be, the first groups taking the remainder."""
    return [n // parts + (k < n % parts) for k in range(parts)]


def _finish(X: np.ndarray, y: np.ndarray, noise: float,
            rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    order = rng.permutation(len(y))  # first, so the order does not depend on the noise
    X, y = X[order], y[order]
    if noise:
        X = X + rng.normal(0.0, noise, size=X.shape)
    return X, y


def _check_samples(n_samples: int, at_least: int) -> None:
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
        raise TypeError(f"n_samples must be an int, got {type(n_samples).__name__}")
    if n_samples < at_least:
        raise ValueError(f"n_samples must be at least {at_least}, got {n_samples}")


def _check_noise(noise: float) -> None:
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise}")
