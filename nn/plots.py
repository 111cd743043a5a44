"""Pictures of a training run: the decision boundary over the data, and the loss curve.

matplotlib is imported inside the functions, and only its object-oriented API is used (a
``Figure`` drawn by the Agg backend): no window opens, and pyplot's global backend is left as
the caller set it, so these work the same in a script, a test and a notebook.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from typing import Union

import numpy as np

from autograd import Value, no_grad
from nn._extra import require
from nn.module import Module
from nn.serialization import check_target, write_atomically

PathLike = Union[str, "os.PathLike[str]"]


def predict(model: Module, X: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """Class indices for the rows of ``X``: ``score > 0`` for one output, else the largest.

    >>> from nn import MLP
    >>> predict(MLP(2, [3], seed=0), [[0.0, 0.0], [1.0, 2.0]]).shape
    (2,)
    """
    return _classes(_scores(model, X))


def _classes(scores: np.ndarray) -> np.ndarray:
    """Class indices from one score per row (``> 0``) or several (the largest)."""
    return (scores > 0.0 if scores.ndim == 1 else scores.argmax(axis=1)).astype(np.int64)


def _scores(model: Module, X: np.ndarray | Sequence[Sequence[float]]) -> np.ndarray:
    """The model's outputs for the rows of ``X`` (under ``no_grad``): ``(n,)`` or ``(n, k)``."""
    rows = X.tolist() if isinstance(X, np.ndarray) else [list(map(float, x)) for x in X]
    with no_grad():
        outputs = [model(x) for x in rows]
    if all(isinstance(out, Value) for out in outputs):
        return np.array([out.data for out in outputs])
    return np.array([[v.data for v in out] for out in outputs])


def plot_decision_boundary(model: Module, X: np.ndarray, y: np.ndarray, path: PathLike,
                           resolution: int = 80, title: str = "") -> None:
    """Save a picture of the model's predicted class over the plane, with the points on top.

    The file is a PNG unless ``path``'s suffix names another format matplotlib writes (``.svg``,
    ``.pdf``...); it is written atomically, and a folder as ``path`` raises
    ``IsADirectoryError``.

    The model is evaluated on a ``resolution`` x ``resolution`` grid (under ``no_grad``)
    spanning the data with a margin.

    >>> import os, tempfile
    >>> from nn import MLP, make_moons
    >>> X, y = make_moons(20, seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "boundary.png")
    >>> plot_decision_boundary(MLP(2, [4, 1], seed=0), X, y, path, resolution=10)
    >>> os.path.getsize(path) > 0
    True
    """
    require("matplotlib", "nn.plots")
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    X, y = np.asarray(X, dtype=float), np.asarray(y)
    margin = 0.25 * (X.max(axis=0) - X.min(axis=0)) + 0.1
    low, high = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    grid_x, grid_y = np.meshgrid(xs, ys)
    grid = np.stack([grid_x.ravel(), grid_y.ravel()], axis=1)
    scores = _scores(model, grid)
    classes = _classes(scores).reshape(grid_x.shape)
    n_classes = int(max(y.max(), classes.max())) + 1
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860"]
    cmap = ListedColormap(colors[:max(n_classes, 2)])

    figure = Figure(figsize=(5, 5), dpi=100)
    ax = figure.add_subplot()
    # cells, not contourf: interpolating class indices would draw a sliver of class 1
    # wherever class 0 meets class 2
    ax.pcolormesh(grid_x, grid_y, classes, shading="nearest", cmap=cmap, vmin=-0.5,
                  vmax=n_classes - 0.5, alpha=0.35)
    if scores.ndim == 1 and 0 < classes.sum() < classes.size:
        # the score's zero level, interpolated between grid points: a smooth boundary
        ax.contour(grid_x, grid_y, scores.reshape(grid_x.shape), levels=[0.0], colors="black",
                   linewidths=0.8)
    elif n_classes == 2 and 0 < classes.sum() < classes.size:
        ax.contour(grid_x, grid_y, classes, levels=[0.5], colors="black", linewidths=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap=cmap, vmin=-0.5, vmax=n_classes - 0.5, s=22,
               edgecolors="black", linewidths=0.5)
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_title(title or "decision boundary")
    _save(figure, path)


def plot_loss_curve(losses: Sequence[float], path: PathLike,
                    accuracies: Sequence[float] | None = None, title: str = "") -> None:
    """Save a PNG of the loss per step (log scale), and the accuracy on a second axis if given.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "loss.png")
    >>> plot_loss_curve([1.0, 0.5, 0.2], path, accuracies=[0.5, 0.8, 1.0])
    >>> os.path.getsize(path) > 0
    True
    """
    require("matplotlib", "nn.plots")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), dpi=100)
    ax = figure.add_subplot()
    steps = np.arange(1, len(losses) + 1)
    ax.plot(steps, losses, color="#4c72b0", label="loss")
    if len(losses) and min(losses) > 0:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss", color="#4c72b0")
    if accuracies is not None:
        ax2 = ax.twinx()
        ax2.plot(steps, np.asarray(accuracies) * 100, color="#dd8452", label="accuracy")
        ax2.set_ylabel("training accuracy (%)", color="#dd8452")
        ax2.set_ylim(0, 105)
    ax.set_title(title or "training loss")
    _save(figure, path)


def _save(figure, path: PathLike) -> None:
    """Write the figure to exactly ``path``, atomically (as ``nn.save``): a PNG unless the
    suffix names another format matplotlib writes."""
    check_target(path)  # a folder or a missing folder is refused before drawing
    suffix = os.path.splitext(os.fspath(path))[1].lstrip(".").lower()
    formats = figure.canvas.get_supported_filetypes()
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=suffix if suffix in formats else "png")
    write_atomically(path, buffer.getvalue())
