"""B1 written by hand in numpy: the yardstick a compiled scalar engine has to beat.

micrograd's moons step (``MLP(2, [16, 16, 1])``, ReLU hidden layers, hinge loss + L2 1e-4, SGD)
as a competent numpy user writes it: the 100 points as one matrix, one matmul per layer, the
backward pass derived by hand, and every parameter in one flat float64 vector so that the L2
term, its gradient and the SGD update are one vector operation each.

Each layer is a view ``(nout, nin + 1)`` of that vector: row ``j`` is neuron ``j``'s weights
then its bias, the order ``nn.MLP.parameters()`` lists them in, so ``grad[i]`` is the gradient
of ``model.parameters()[i]`` (the tests compare them). numpy's matmul sums in another order
than chainrule's ``affine`` node, so the two agree closely, not to the last bit.

>>> from benchmarks.data import make_moons, mlp_weights
>>> X, y = make_moons(4)
>>> net = NumpyMLP(mlp_weights(2, [3, 1]))
>>> loss = net.loss(X, y); grad = net.backward()
>>> loss > 0, grad.shape
(True, (13,))
"""

from __future__ import annotations

import numpy as np

ALPHA = 1e-4  # the demo's L2 weight (benchmarks.mlp.ALPHA)


class NumpyMLP:
    """The demo's network over one flat parameter vector; ``loss``, ``backward``, ``sgd``.

    ``weights`` is per layer, per neuron ``[w_1, ..., w_nin, b]`` (``benchmarks.data
    .mlp_weights``). Hidden layers are ReLU, the last one linear with one output.
    """

    def __init__(self, weights: list[list[list[float]]]) -> None:
        self.theta = np.array([w for layer in weights for neuron in layer for w in neuron])
        self.layers: list[np.ndarray] = []  # views into theta, one (nout, nin + 1) per layer
        start = 0
        for layer in weights:
            rows, columns = len(layer), len(layer[0])
            self.layers.append(self.theta[start:start + rows * columns].reshape(rows, columns))
            start += rows * columns
        self.grad = np.zeros_like(self.theta)
        self._grad_layers: list[np.ndarray] = []
        start = 0
        for layer in self.layers:
            self._grad_layers.append(self.grad[start:start + layer.size].reshape(layer.shape))
            start += layer.size
        self._saved: tuple = ()

    def loss(self, X: list[list[float]] | np.ndarray, y: list[float] | np.ndarray) -> float:
        """mean(relu(1 - y * score)) + ALPHA * Σ θ², keeping what ``backward`` needs."""
        X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=float)
        activations = [X]  # each layer's input
        pre = []  # each hidden layer's pre-activation
        h = X
        for layer in self.layers[:-1]:
            z = h @ layer[:, :-1].T + layer[:, -1]
            pre.append(z)
            h = np.maximum(z, 0.0)
            activations.append(h)
        last = self.layers[-1]
        scores = h @ last[0, :-1] + last[0, -1]
        margins = 1.0 - y * scores
        self._saved = (activations, pre, y, margins)
        data_loss = np.maximum(margins, 0.0).sum() * (1.0 / len(y))
        return float(data_loss + ALPHA * (self.theta @ self.theta))

    def backward(self) -> np.ndarray:
        """The gradient of the last ``loss`` with respect to θ (also kept in ``self.grad``)."""
        activations, pre, y, margins = self._saved
        n = len(y)
        dscores = np.where(margins > 0.0, -y * (1.0 / n), 0.0)
        np.multiply(self.theta, 2.0 * ALPHA, out=self.grad)  # the L2 term's gradient
        dz = dscores[:, None]  # (n, 1): the last layer's one output
        for i in range(len(self.layers) - 1, -1, -1):
            g = self._grad_layers[i]
            g[:, :-1] += dz.T @ activations[i]
            g[:, -1] += dz.sum(axis=0)
            if i:
                dz = (dz @ self.layers[i][:, :-1]) * (pre[i - 1] > 0.0)
        return self.grad

    def sgd(self, lr: float) -> None:
        """``θ -= lr * grad``: the demo's update, on every parameter at once."""
        self.theta -= lr * self.grad
