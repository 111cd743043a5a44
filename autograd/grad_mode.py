"""Grad mode: whether operations on Values record a graph, switched per thread.

``no_grad`` and ``enable_grad`` work as context managers and as decorators (of functions and of
generator functions, whose body then runs in the mode at every resumption, as in PyTorch).

Also the recording mode of ``autograd.compile`` (per thread too): while it records a function,
reading the number a Value holds raises ``DataDependentError``, built here for both engines.
"""

from __future__ import annotations

import functools
import inspect
import os
import sys
import threading
from typing import Any, Callable, TypeVar

from autograd import _compiled

F = TypeVar("F", bound=Callable[..., Any])


class _Mode(threading.local):
    enabled = True  # the class attribute is every thread's starting value

    def __init__(self) -> None:
        self.saved: list[bool] = []  # each thread's stack of settings to restore


state = _Mode()
"""This thread's setting (``state.enabled``), read by ``apply`` at every operation."""
if _compiled.core is not None:  # the compiled core keeps the flag in C, where each node reads it
    state = _compiled.CompiledGradMode()


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


# --- the recording mode of ``autograd.compile`` ------------------------------------------------
# While ``autograd.compile`` records a function (in this thread), the number a Value holds must
# not be read: a replay runs the recorded ops on new numbers, so a decision taken on the old ones
# (``if loss.data > 1``) would be replayed silently wrong. Both engines refuse such a read with
# the error this module builds, so they say the same thing.


class DataDependentError(RuntimeError):
    """A Value's number was read while ``autograd.compile`` recorded the function reading it.

    >>> issubclass(DataDependentError, RuntimeError)
    True
    """


class _Recording(threading.local):
    function = ""  # the name of the function this thread records ("" when it records none)

    def __init__(self) -> None:
        # constant leaves computed from recorded Values (softmax's shift), with how: {leaf: (op,
        # inputs)}; the recorder makes them instructions of the tape
        self.derived: dict[Any, tuple[Any, Any]] = {}


recording = _Recording()
"""This thread's recording: ``recording.function`` names the function being recorded."""

_PACKAGE = os.path.dirname(os.path.abspath(__file__))
_COPYING = ("copy", "copyreg", "pickle")  # the standard library's modules that copy a Value


def is_recording() -> bool:
    """Whether this thread is recording a function for ``autograd.compile``.

    >>> is_recording()
    False
    """
    return bool(recording.function)


def set_recording(function: str) -> None:
    """Start recording ``function`` (its name) in this thread, or stop with ``""``: what
    ``autograd.compile`` does around the call it records.

    >>> set_recording("f"); is_recording(), set_recording("")
    (True, None)
    >>> is_recording()
    False
    """
    recording.function = function
    if _compiled.core is not None and hasattr(_compiled.core, "set_recording"):
        _compiled.core.set_recording(bool(function))


def data_dependent_error(what: str) -> DataDependentError:
    """The error for reading a Value's number (``what``: how) while recording, naming the line.

    The line is the innermost one outside the autograd package (and outside the standard
    library's ``copy`` and ``pickle``, whose copy of a Value reads its number): the user's own
    code (or the library above autograd, such as ``nn``, that read the number).

    >>> print(data_dependent_error(".data"))  # doctest: +ELLIPSIS
    .data reads the number a Value holds, at ...
    """
    frame = sys._getframe(1)
    # a copy or a pickle of a Value reads its number: name the line that asked for it
    skipped = {getattr(sys.modules.get(name), "__file__", None) for name in _COPYING}
    while frame is not None and (frame.f_code.co_filename.startswith(_PACKAGE)
                                 or frame.f_code.co_filename in skipped):
        frame = frame.f_back
    where = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "an unknown line"
    function = recording.function or "a function"
    if what == "backward()":
        return DataDependentError(
            f"backward() runs at {where}, while autograd.compile records {function}: a recording "
            f"holds the forward computation only. Return the loss and call .backward() on what "
            f"the compiled function returns")
    return DataDependentError(
        f"{what} reads the number a Value holds, at {where}, while autograd.compile records "
        f"{function}: a replay computes new numbers, so a decision taken on this one would be "
        f"replayed wrong. Compute it with ops instead (relu, abs, autograd.take for an index), "
        f"pass the number as an argument of the compiled function, or leave {function} "
        f"un-compiled")
