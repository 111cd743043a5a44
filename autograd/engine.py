"""Reverse-mode differentiation: one walk from an output back to its inputs.

``walk(root)`` is the walk. It visits the interior nodes in reverse topological order (every
node after all the nodes that use it), so when a node is reached its gradient d root/d node is
complete; it then asks the node's op for the local derivatives and adds ``gradient * local`` to
each parent's sum. The sums are kept in a dict, so nothing is written until the walk has
finished: an error leaves every ``.grad`` as it was. Three policies hold on every path:

- every rule that can fail is evaluated, whatever the node's gradient: a local derivative that
  is undefined (``sqrt`` at 0, ``log`` at 0) raises, even where it would be multiplied by 0 (a
  rule that cannot fail, ``Op.always_defined``, is left out where the gradient is 0: it would
  pass nothing on, so the outcome is the same);
- a product with an exact 0 adds nothing: a local derivative of 0 (a relu that is off), or a
  gradient of 0 (a node below it); a node that nothing reached gets 0.0;
- a gradient that overflows raises ``OverflowError`` naming the op the walk was passing through
  (a NaN gradient can only come from infinities, so it is reported as the overflow it is).

Everything else is this walk, specialised: ``gradients`` returns its result as a dict and
``backward()`` writes it into ``.grad``; ``create_graph=True`` evaluates the rules on Values
instead of floats, which records the gradient computation as a graph of its own;
``autograd.grad``/``jacobian``/``hessian`` stop it at their variables;
``autograd.viz.trace_backward`` watches it step by step (``on_step``).
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from math import isfinite
from numbers import Real
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence, TypeVar

from autograd.grad_mode import data_dependent_error, enable_grad, no_grad, recording
from autograd.ops import UNTRACKED

if TYPE_CHECKING:
    from autograd.value import Value

Gradient = Any  # a float, or a Value with create_graph=True
Node = TypeVar("Node")
OnStep = Callable[["Value", Gradient, Sequence[Gradient], dict], None]
RULE_ERRORS = (ArithmeticError, ValueError, TypeError)
"""A rule's errors that the walk names after the op and its inputs (``_backward_error``)."""


def topological_order(root: Value, stop_at: Iterable[Value] = ()) -> list[Value]:
    """The interior nodes ``root`` depends on, each after all of its parents (root last).

    Leaves and the nodes in ``stop_at`` are not listed and not looked behind. The walk is an
    iterative depth-first search, so a chain of millions of nodes needs no recursion.

    >>> from autograd import Value
    >>> a = Value(1.0); b = a + a; c = b * b
    >>> [node.op for node in topological_order(c)]
    ['+', '*']
    """
    order: list[Value] = []
    seen = set(stop_at)
    # A node on the stack is still to be expanded; a node below a None has been expanded and
    # is listed once everything above it (its parents' subgraphs) is done.
    stack: list[Value | None] = [root] if root._prev else []
    while stack:
        node = stack.pop()
        if node is None:
            order.append(stack.pop())
        elif node not in seen:
            seen.add(node)
            stack.append(node)
            stack.append(None)
            for parent in node._prev:
                if parent._prev and parent not in seen:
                    stack.append(parent)
    return order


def depth_first(root: Node, inputs: Callable[[Node], Sequence[Node]], seen: set[Node]
                ) -> list[Node]:
    """``topological_order``'s walk over any graph: the nodes ``root`` reaches that have
    ``inputs``, each after its inputs, skipping (and adding to) ``seen``. (The walk on Values
    stays spelled out above: it is the one readers study, and the reference's hot path.)

    >>> depth_first(3, lambda n: [n - 1, n - 2] if n > 1 else [], set())
    [2, 3]
    """
    order: list[Node] = []
    # A node on the stack is still to be expanded; a node below a None has been expanded and
    # is listed once everything above it (its inputs' subgraphs) is done.
    stack: list[Node | None] = [root] if inputs(root) else []
    while stack:
        node = stack.pop()
        if node is None:
            order.append(stack.pop())  # type: ignore[arg-type]
        elif node not in seen:
            seen.add(node)
            stack.append(node)
            stack.append(None)
            for parent in inputs(node):
                if parent not in seen and inputs(parent):
                    stack.append(parent)
    return order


def ancestors(root: Value) -> list[Value]:
    """Every Value ``root`` depends on, leaves included, each after its parents (root last).

    >>> from autograd import Value
    >>> a = Value(1.0); [node.op for node in ancestors(a * 2)]
    ['', '', '*']
    """
    leaves: dict[Value, None] = {}
    order = topological_order(root)
    for node in order or [root]:
        leaves.update((parent, None) for parent in node._prev if not parent._prev)
    return [*leaves, *order] if order else [root]


def walk(root: Value, stop_at: Iterable[Value] = (), create_graph: bool = False,
         on_step: OnStep | None = None
         ) -> tuple[list[Value], list[Gradient], dict[Value, Gradient]]:
    """The walk: d root / d node for the interior nodes (root first) and for the ends.

    Interior nodes are visited in reverse topological order, so when a node is reached every
    node that uses it has been visited and its gradient is complete: it is final, and the node
    adds ``gradient * local derivative`` to each parent's sum. The walk keeps only the sums
    still open; what is open at the end belongs to the ends: the leaves and the nodes of
    ``stop_at``. ``create_graph`` and ``on_step`` are ``gradients``'.

    >>> from autograd import Value
    >>> x = Value(3.0); y = x * x + x
    >>> nodes, grads, ends = walk(y)
    >>> [node.op for node in nodes], grads, ends[x]
    (['+', '*'], [1.0, 1.0], 7.0)
    """
    if recording.function:  # a recording holds the forward only: see autograd.compile
        raise data_dependent_error("backward()")
    nodes = topological_order(root, stop_at)[::-1]  # root first
    finished: list[Gradient] = []  # the gradients of nodes[0], nodes[1], ... in turn
    sums: dict[Value, Gradient] = {root: 1.0}  # the gradients still being added up
    node = root
    try:
        with enable_grad() if create_graph else no_grad(), gc_paused():
            for node in nodes:
                grad = sums.pop(node, 0.0)  # complete; 0.0 if every contribution was 0
                if not isfinite(grad):  # a Value's data, with create_graph
                    raise _not_finite(grad)
                if grad == 0.0 and node._op.always_defined and on_step is None:
                    finished.append(grad)  # nothing to pass on, and its rule cannot fail
                    continue
                parents = node._prev
                partials = node._op.partials_at(node, create_graph)
                if len(partials) != len(parents):
                    raise _count_error(partials, parents)
                if not create_graph:
                    partials = as_numbers(partials)
                if grad != 0.0:  # else nothing arrived (below a relu that is off): pass nothing
                    pass_on(sums, grad, parents, partials)
                finished.append(grad)
                if on_step is not None:
                    on_step(node, grad, partials, sums)
    except RULE_ERRORS as error:
        raise _backward_error(node, error) from None
    for end, grad in sums.items():  # the leaves and variables were not checked on the way
        if not isfinite(grad):
            raise _end_error(end, grad)
    return nodes, finished, sums


def pass_on(sums: dict[Any, Gradient], grad: Gradient, parents: Sequence[Any],
            partials: Sequence[Gradient]) -> None:
    """Add ``grad * local`` to each parent's sum: the chain rule's step at one node.

    >>> sums = {}; pass_on(sums, 2.0, ["x", "y", "x"], [3.0, 0.0, 1.0]); sums
    {'x': 8.0}
    """
    for parent, local in zip(parents, partials):
        if local == 0.0:  # (a Value is never == 0.0: == is identity)
            continue  # adds nothing: a relu that is off, a constant input
        total = sums.get(parent)
        sums[parent] = grad * local if total is None else total + grad * local


def _count_error(partials: Sequence[Any], parents: Sequence[Any]) -> TypeError:
    return TypeError(f"its rule gave {len(partials)} derivatives for {len(parents)} inputs")


def gradients(root: Value, inputs: Sequence[Value] | None = None, create_graph: bool = False,
              on_step: OnStep | None = None) -> dict[Value, Gradient]:
    """d root / d node for every node ``root`` depends on, without touching any ``.grad``.

    With ``inputs``, the walk stops at those nodes (they act as the variables). With
    ``create_graph=True`` the rules are evaluated on the Values themselves, so the gradients
    are Values that can be differentiated again. ``on_step(node, gradient, partials, sums)``,
    if given, is called after each node has passed its gradient on (``sums``: the gradients
    still being added up).

    >>> from autograd import Value
    >>> x = Value(3.0); y = x * x
    >>> gradients(y, [x])[x]
    6.0
    """
    nodes, grads, ends = walk(root, inputs or (), create_graph, on_step)
    return {**dict(zip(nodes, grads)), **ends}


def backward(root: Value, create_graph: bool = False) -> None:
    """Fill ``.grad`` of every node ``root`` depends on (see ``Value.backward``).

    All or nothing: the gradients are computed first and written only when all succeeded.
    Interior nodes get their gradient; leaves add theirs to what they hold (root itself, if
    a leaf, adds 1).
    """
    if root._op is UNTRACKED:
        raise untracked_error()
    nodes, grads, leaves = walk(root, create_graph=create_graph)
    totals = []
    for leaf, grad in leaves.items():
        total = accumulated(leaf.grad, grad)
        if total is None:
            raise _accumulate_error(leaf, grad)
        totals.append(total)
    for node, grad in zip(nodes, grads):
        node.grad = grad
    for leaf, total in zip(leaves, totals):
        leaf.grad = total


def untracked_error() -> RuntimeError:
    """``backward()``'s error for a result computed inside ``no_grad()``.

    >>> untracked_error()  # doctest: +ELLIPSIS
    RuntimeError('backward: this Value was computed inside no_grad(), ...')
    """
    return RuntimeError("backward: this Value was computed inside no_grad(), so it has no "
                        "graph to backpropagate through; compute it outside no_grad() (or "
                        "inside enable_grad())")


def accumulated(old: Gradient, grad: Gradient) -> Gradient | None:
    """A leaf's ``.grad`` after adding ``grad`` to ``old`` (``grad`` itself onto ``0.0``), or
    None where the sum of finite numbers overflows.

    >>> accumulated(0.0, 2.0), accumulated(1.0, 2.0), accumulated(1e308, 1e308)
    (2.0, 3.0, None)
    """
    total = grad if type(old) is float and old == 0.0 else old + grad
    if not isfinite(total) and isfinite(old):
        return None
    return total


def as_numbers(partials: Sequence[Any]) -> Sequence[float]:
    """A first-order rule's derivatives as floats: real numbers (numpy's too) are converted,
    anything else (a ``Value``, a ``Decimal``, a complex) is refused with ``TypeError``.

    >>> as_numbers((1, 2.5))
    (1.0, 2.5)
    """
    for local in partials:
        if type(local) is not float:
            return tuple(map(_as_number, partials))
    return partials


def _as_number(local: Any) -> float:
    if type(local) is float:
        return local
    if isinstance(local, Real) and getattr(local, "shape", ()) == ():
        return float(local)
    raise TypeError(f"its rule gave a {type(local).__name__} ({local!r}) as a derivative; a "
                    f"first-order rule gives real numbers (floats), as the op table's helpers "
                    f"do on floats")


def _not_finite(grad: Gradient) -> OverflowError:
    # In float arithmetic a NaN gradient can only come from infinities (inf - inf, 0 * inf):
    # it is an overflow too, as create_graph's Value arithmetic reports it.
    return OverflowError(f"the gradient overflows a float (|x| > 1.8e308): got {float(grad)}")


def _rule_check(node: Value) -> Exception | None:
    """The error the first-order rule raises at ``node`` (named), or None if it raises none."""
    try:
        node._op.partials_at(node)
    except RULE_ERRORS as error:
        return _backward_error(node, error)
    return None


def _gradient_error(node: Value, grad: float) -> Exception:
    """The walk's error at a node whose gradient is not finite."""
    return _backward_error(node, _not_finite(grad))


def _end_error(end: Value, grad: float) -> OverflowError:
    return OverflowError(f"backward: at {end!r}, {_not_finite(grad)}")


def _accumulate_error(leaf: Value, grad: float) -> OverflowError:
    return OverflowError(f"backward: at {leaf!r}, adding the gradient {grad!r} to its .grad "
                         f"overflows a float (|x| > 1.8e308)")


def _backward_error(node: Value, error: Exception) -> Exception:
    """The error re-raised with the op and its inputs named, and without errno tuples."""
    return rule_error(node.op, [p.data for p in node._prev], error)


def rule_error(name: str, inputs: list[float], error: Exception) -> Exception:
    """``_backward_error`` for the op called ``name`` at ``inputs`` (a replay has no nodes).

    >>> print(rule_error("log", [0.0], ZeroDivisionError("1.0 / 0.0")))
    backward through log at inputs [0.0]: its derivative is undefined there (1.0 / 0.0)
    """
    if isinstance(error, OverflowError):
        reason = str(error) if "overflows" in str(error) else "a derivative overflows a float"
    elif isinstance(error, ZeroDivisionError):
        reason = f"its derivative is undefined there ({error})"
    else:
        reason = str(error)
    return type(error)(f"backward through {name} at inputs {inputs}: {reason}")


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause CPython's cyclic garbage collector inside the block, then restore its setting.

    chainrule graphs hold no reference cycles, so reference counting frees them the moment they
    are dropped; the cycle collector would only re-scan the live graph while it grows. Free the
    graph (drop the loss and the outputs) before the block ends, so the resuming collector has
    nothing to scan. See docs/gc.md.

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

