"""Reverse-mode differentiation: walk the graph from an output back to its inputs.

Two walks share one topological order and one op table:

- ``backward(root)``, the fast path: local derivatives evaluated on floats, gradients
  accumulated straight into each node's ``.grad``. Its speed comes from three things, all here:
  the order lists only interior nodes (leaves never propagate), the rule is called with its
  inputs unpacked by the op's arity (no per-node list), and the garbage collector is paused
  while the walk runs — the graph is acyclic, so there is nothing for it to find, and the
  user's setting is restored afterwards.
- ``gradients(root, inputs, create_graph)``, the general path: gradients kept in a dict, so no
  ``.grad`` is touched; with ``create_graph=True`` the rules are evaluated on the Values
  themselves, which records the gradient computation as a graph of its own.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from typing import Iterable, Iterator, Sequence

from autograd.value import Value, enable_grad, no_grad


def topological_order(root: Value, stop_at: Iterable[Value] = ()) -> list[Value]:
    """The interior nodes ``root`` depends on, each after all of its parents (root last).

    Leaves and the nodes in ``stop_at`` are not listed and not looked behind. The walk is an
    iterative depth-first search, so a chain of millions of nodes needs no recursion.

    >>> a = Value(1.0); b = a + a; c = b * b
    >>> [node.op for node in topological_order(c)]
    ['+', '*']
    """
    order: list[Value] = []
    seen = set(stop_at)
    # A node on the stack is still to be expanded; a node below a None has been expanded and
    # is listed once everything above it (its parents' subgraphs) is done.
    stack: list[Value | None] = [root] if root._prev else []
    push, pop, mark = stack.append, stack.pop, seen.add
    while stack:
        node = pop()
        if node is None:
            order.append(pop())
        elif node not in seen:
            mark(node)
            push(node)
            push(None)
            for parent in node._prev:
                if parent._prev and parent not in seen:
                    push(parent)
    return order


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector inside the block, then restore its setting.

    chainrule graphs hold no reference cycles, so reference counting frees them the moment they
    are dropped; the cycle collector would only re-scan the live graph while it grows.

    >>> with gc_paused():
    ...     pass
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def backward(root: Value, create_graph: bool = False) -> None:
    """Fill ``.grad`` of every node ``root`` depends on (see ``Value.backward``)."""
    if create_graph:
        _write_back(root, gradients(root, create_graph=True))
        return
    order = topological_order(root)
    for node in order:
        node.grad = 0.0
    if order:
        root.grad = 1.0
    else:
        root.grad += 1.0  # backward from a leaf: d root / d root = 1, accumulated like any leaf
    with gc_paused():
        try:
            node = root
            for node in reversed(order):
                grad = node.grad
                if not grad:  # a zero gradient contributes nothing (dead relus, say)
                    continue
                prev = node._prev
                op = node._op
                rule = op.derivatives
                if op.arity == 2:
                    x, y = prev
                    dx, dy = rule(node.data, x.data, y.data)
                    x.grad += grad * dx
                    y.grad += grad * dy
                elif op.arity == 1:
                    (x,) = prev
                    (dx,) = rule(node.data, x.data)
                    x.grad += grad * dx
                else:
                    for parent, d in zip(prev, rule(node.data, [p.data for p in prev])):
                        parent.grad += grad * d
        except ArithmeticError as error:
            raise _backward_error(node, error) from error


def gradients(root: Value, inputs: Sequence[Value] | None = None,
              create_graph: bool = False) -> dict[Value, float | Value]:
    """d root / d node for every node ``root`` depends on, without touching any ``.grad``.

    With ``inputs``, the walk stops at those nodes (they act as the variables) and only their
    entries are wanted; with ``create_graph=True`` the gradients are Values that can be
    differentiated again.

    >>> x = Value(3.0); y = x * x
    >>> gradients(y, [x])[x]
    6.0
    """
    order = topological_order(root, stop_at=inputs or ())
    grads: dict[Value, float | Value] = {root: 1.0}
    node = root
    try:
        if create_graph:
            with enable_grad():  # record the gradients' graph even inside no_grad
                for node in reversed(order):
                    grad = grads[node]
                    for parent, d in zip(node._prev, node._op.partials(node, node._prev)):
                        _accumulate(grads, parent, grad * d)
        else:
            with no_grad():
                for node in reversed(order):
                    grad = grads[node]
                    datas = [p.data for p in node._prev]
                    for parent, d in zip(node._prev, node._op.partials(node.data, datas)):
                        _accumulate(grads, parent, grad * d)
    except ArithmeticError as error:
        raise _backward_error(node, error) from error
    return grads


def _accumulate(grads: dict, node: Value, grad: float | Value) -> None:
    previous = grads.get(node)
    grads[node] = grad if previous is None else previous + grad


def _write_back(root: Value, grads: dict[Value, float | Value]) -> None:
    """Store ``gradients``' result the way ``backward`` does: leaves add, interior nodes set."""
    for node, grad in grads.items():
        if node._prev or (type(node.grad) is float and node.grad == 0.0):
            node.grad = grad
        else:
            node.grad = node.grad + grad


def _backward_error(node: Value, error: ArithmeticError) -> ArithmeticError:
    inputs = [p.data for p in node._prev]
    return type(error)(
        f"backward through {node.op} at inputs {inputs}: its derivative is undefined there "
        f"({error})"
    )
