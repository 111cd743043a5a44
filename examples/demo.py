"""micrograd's demo written out with ``nn``: what ``python -m nn.train`` does, in one screen.

Run it with ``python examples/demo.py``; ``./dev.sh demo`` runs the full command, which also
draws the decision boundary and the loss curve into results/demo.
"""

import autograd
import nn

X, y = nn.make_moons(100, noise=0.1, seed=0)  # y is 0 or 1
inputs, labels = X.tolist(), (2 * y - 1).tolist()  # the hinge loss wants labels -1 and +1
model = nn.MLP(2, [16, 16, 1], seed=0)  # relu hidden layers, a linear output: a score
params = model.parameters()
optimizer = nn.SGD(params, lr=1.0)
steps = 100

for k in range(steps):
    with autograd.gc_paused():  # docs/gc.md: the collector policy
        scores = [model(x) for x in inputs]
        loss = nn.hinge_loss(scores, labels) + 1e-4 * autograd.dot(params, params)
        optimizer.zero_grad()
        loss.backward()
        optimizer.lr = 1.0 - 0.9 * k / steps  # micrograd's decaying learning rate
        optimizer.step()
        accuracy = sum((s.data > 0) == (t > 0) for s, t in zip(scores, labels)) / len(labels)
        loss_value = loss.data
        del scores, loss  # the step's graph is freed here, before the collector resumes
    if k % 10 == 0 or k == steps - 1:
        print(f"step {k:3d}  loss {loss_value:.4f}  accuracy {accuracy:.0%}")
