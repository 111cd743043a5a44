"""Freeing a graph of any depth on CPython for WebAssembly (Pyodide), without deep recursion.

Dropping the last reference to a chain's head frees its parents, whose deallocation frees theirs,
and so on: one nested C call per node. Native CPython bounds that nesting with its "trashcan",
which defers the deallocations past a fixed depth and runs them in a loop. From 3.13 the trashcan
acts only when the C recursion budget (or, from 3.14, the C stack) is nearly used; under Pyodide
the compiled CPython runs on the JavaScript engine's stack, which overflows first, after a few
thousand nodes ("RangeError: Maximum call stack size exceeded" ends the runtime).

There, and only there, the reference ``Value`` gets a ``__del__`` (``install``) that unlinks the
parents of a dying node with an explicit stack: a parent that nothing but the stack holds gives
its own parents to the stack before it is dropped, so each one is freed with no parents left and
the nesting stays one level deep. A parent that is still referenced elsewhere is left untouched.
Native CPython does not get it: its trashcan already frees any depth, and a ``__del__`` would
slow every node's deallocation.

>>> import autograd, sys
>>> ("__del__" in vars(autograd._compiled.PythonValue)) == (sys.platform == "emscripten")
True
"""

from __future__ import annotations

import sys
from typing import Any

_getrefcount = sys.getrefcount


def _unlink(stack: list[Any], alone: int) -> int:
    """Drop the nodes on ``stack``, first moving the parents of each that only ``stack`` held
    onto it. With ``alone == 0`` returns the reference count of the first node instead: the
    count, as this very code sees it, of a node held by nothing else (``install`` measures it)."""
    while stack:
        node = stack.pop()
        refs = _getrefcount(node)
        if not alone:
            return refs
        if refs == alone and node._prev:
            stack.extend(node._prev)
            node._prev = ()
    return 0


def install(value_class: type) -> None:
    """Give ``value_class`` (the reference ``Value``) the ``__del__`` that frees its parents
    with an explicit stack; see the module's docstring for when this is needed."""
    alone = _unlink([value_class(0.0)], 0)

    def __del__(self: Any) -> None:
        try:
            prev = self._prev
        except AttributeError:  # __init__ raised before it set the parents
            return
        if prev:
            self._prev = ()
            stack = list(prev)
            del prev  # the tuple would hold the parents: none would be alone
            _unlink(stack, alone)

    value_class.__del__ = __del__  # type: ignore[attr-defined]
