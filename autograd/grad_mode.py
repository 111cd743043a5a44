"""Grad mode: whether operations on Values record a graph, switched per thread.

``no_grad`` and ``enable_grad`` work as context managers and as decorators (of functions and of
generator functions, whose body then runs in the mode at every resumption, as in PyTorch).
"""

from __future__ import annotations

import functools
import inspect
import threading
from typing import Any, Callable, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


class _Mode(threading.local):
    enabled = True  # the class attribute is every thread's starting value

    def __init__(self) -> None:
        self.saved: list[bool] = []  # each thread's stack of settings to restore


state = _Mode()
"""This thread's setting (``state.enabled``), read by ``apply`` at every operation."""


def is_grad_enabled() -> bool:
    """Whether operations on Values record a graph in this thread (see ``no_grad``).

    >>> is_grad_enabled()
    True
    """
    return state.enabled


def set_grad_enabled(enabled: bool) -> None:
    """Turn graph recording on or off for this thread (``no_grad`` is the usual way).

    >>> set_grad_enabled(False); is_grad_enabled()
    False
    >>> set_grad_enabled(True)
    """
    state.enabled = bool(enabled)


class _GradModeSwitch:
    """Set graph recording for a block or a decorated function, then restore it (per thread).

    The setting to restore is kept on a per-thread stack, so one instance can be nested, used
    recursively as a decorator, and shared by threads.
    """

    record: bool

    def __enter__(self) -> None:
        state.saved.append(is_grad_enabled())
        set_grad_enabled(self.record)

    def __exit__(self, *exc_info: object) -> None:
        set_grad_enabled(state.saved.pop())

    def __call__(self, function: F) -> F:
        if inspect.isgeneratorfunction(function):
            return self._wrap_generator(function)

        @functools.wraps(function)
        def in_mode(*args: Any, **kwargs: Any) -> Any:
            with self:
                return function(*args, **kwargs)

        return in_mode  # type: ignore[return-value]

    def _wrap_generator(self, function: F) -> F:
        """Run each step of the generator in the mode, and the caller's code between steps not."""

        @functools.wraps(function)
        def in_mode(*args: Any, **kwargs: Any) -> Any:
            generator = function(*args, **kwargs)
            try:
                with self:
                    request = next(generator)
                while True:
                    try:
                        response = yield request
                    except GeneratorExit:
                        with self:
                            generator.close()
                        raise
                    except BaseException as error:
                        with self:
                            request = generator.throw(error)
                    else:
                        with self:
                            request = generator.send(response)
            except StopIteration as stop:
                return stop.value

        return in_mode  # type: ignore[return-value]


class no_grad(_GradModeSwitch):
    """Record no graph inside this block (or decorated function); the switch is per thread.

    Values computed inside have ``.data`` but no history, and ``backward()`` from them is refused.

    >>> from autograd import Value, no_grad
    >>> with no_grad():
    ...     y = Value(2.0) * 3
    >>> y.parents
    ()
    """

    record = False


class enable_grad(_GradModeSwitch):
    """Record the graph inside this block even within ``no_grad`` (as PyTorch's).

    ``grad``, ``jacobian``, ``hessian``, ``gradcheck`` and ``backward(create_graph=True)`` use
    it, so they work the same wherever they are called.

    >>> from autograd import Value, no_grad, enable_grad
    >>> with no_grad(), enable_grad():
    ...     y = Value(2.0) * 3
    >>> y.op
    '*'
    """

    record = True
