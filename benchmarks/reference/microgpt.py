"""microgpt's autograd engine: the ``Value`` of Karpathy's microgpt (2026), written out again.

Each op returns its result with the *local* gradients of its inputs (``d out / d input``, as
plain numbers); ``backward()`` sorts the graph with a recursive depth-first search and pushes
``local_grad * v.grad`` to every child. No closures, no graph cycles, ``__slots__``: the smallest
honest scalar engine, and B5's yardstick. It is kept in microgpt's own terse style on purpose.

    >>> a, b = Value(2.0), Value(-3.0)
    >>> c = (a * b + a.exp()).relu()
    >>> c.backward()
    >>> round(a.grad, 4), b.grad
    (4.3891, 2.0)
"""

import math


class Value:
    __slots__ = ('data', 'grad', '_children', '_local_grads')

    def __init__(self, data, children=(), local_grads=()):
        self.data = data                # scalar value of this node, computed in the forward pass
        self.grad = 0                   # derivative of the loss with respect to this node
        self._children = children       # the nodes this one was computed from
        self._local_grads = local_grads # d(this node) / d(each child)

    def __add__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data + other.data, (self, other), (1, 1))

    def __mul__(self, other):
        other = other if isinstance(other, Value) else Value(other)
        return Value(self.data * other.data, (self, other), (other.data, self.data))

    def __pow__(self, other): return Value(self.data**other, (self,), (other * self.data**(other - 1),))
    def log(self): return Value(math.log(self.data), (self,), (1 / self.data,))
    def exp(self): return Value(math.exp(self.data), (self,), (math.exp(self.data),))
    def relu(self): return Value(max(0, self.data), (self,), (float(self.data > 0),))
    def __neg__(self): return self * -1
    def __radd__(self, other): return self + other
    def __sub__(self, other): return self + (-other)
    def __rsub__(self, other): return other + (-self)
    def __rmul__(self, other): return self * other
    def __truediv__(self, other): return self * other**-1
    def __rtruediv__(self, other): return other * self**-1

    def backward(self):
        topo = []
        visited = set()
        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)
        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad
