"""Record once, replay many: ``autograd.compile`` turns a function's graph into a program.

The first call of a compiled function runs it eagerly while recording; its graph becomes a
**tape**: the leaves (the arguments, the Values the function read that exist outside it, the
constants) and one instruction per node, in the engine's own topological order. A later call
with arguments of the same shape replays the tape on the new numbers: no Value is made per op,
and ``backward()`` on the result fills ``.grad`` exactly as the eager walk would.

Also here: ``read_floats`` and ``write_floats``, the bulk transfer of many Values' numbers that
optimizers of a compiled step use instead of a Python loop per parameter.
"""

from __future__ import annotations

from array import array
from typing import Any, Iterable, Sequence

from autograd import _compiled
from autograd.grad_mode import DataDependentError
from autograd.value import Value, _as_float

__all__ = ["DataDependentError", "read_floats", "write_floats"]

_ATTRIBUTES = ("data", "grad")


def _check_attribute(function: str, attribute: object) -> None:
    if attribute not in _ATTRIBUTES:
        raise ValueError(f"{function}: attribute must be 'data' or 'grad', got {attribute!r}")


def _not_a_value(function: str, position: int, value: object) -> TypeError:
    return TypeError(f"{function}: values[{position}] is a {type(value).__name__}, not a Value")


def py_read_floats(values: Sequence[Value], attribute: str) -> array:
    """The ``.data`` or ``.grad`` of every Value of ``values``, as an ``array('d')``.

    >>> read_floats([Value(1.0), Value(2.5)], "data")
    array('d', [1.0, 2.5])
    """
    _check_attribute("read_floats", attribute)
    numbers = array("d")
    for position, value in enumerate(values):
        if not isinstance(value, Value):
            raise _not_a_value("read_floats", position, value)
        number = getattr(value, attribute)
        if type(number) is not float:  # a Value, after backward(create_graph=True)
            raise TypeError(f"read_floats: values[{position}].grad is a Value (from "
                            f"backward(create_graph=True)), not a number")
        numbers.append(number)
    return numbers


def py_write_floats(values: Sequence[Value], attribute: str, numbers: Iterable[float]) -> None:
    """Set the ``.data`` or ``.grad`` of every Value of ``values`` from ``numbers``.

    ``numbers``: an ``array('d')``, a float64 numpy array, anything with the buffer protocol or
    a sequence of real numbers, one per Value. Each is checked as setting the attribute would
    check it (``.data`` refuses NaN and what is not a real number), all before any is written.

    >>> xs = [Value(0.0), Value(0.0)]
    >>> write_floats(xs, "data", [1.0, 2.5]); [x.data for x in xs]
    [1.0, 2.5]
    """
    _check_attribute("write_floats", attribute)
    try:
        numbers = memoryview(numbers).tolist() if _is_double_buffer(numbers) else list(numbers)
    except TypeError:
        raise TypeError(f"write_floats: numbers must be a sequence or a buffer of floats, got "
                        f"{type(numbers).__name__}") from None
    if len(numbers) != len(values):
        raise ValueError(f"write_floats: {len(values)} values but {len(numbers)} numbers")
    checked = []
    for position, (value, number) in enumerate(zip(values, numbers)):
        if not isinstance(value, Value):
            raise _not_a_value("write_floats", position, value)
        try:
            if attribute == "data" or type(number) is not float:
                number = _as_float(number) if attribute == "data" else _as_grad(number)
        except (TypeError, ValueError, OverflowError) as error:
            raise type(error)(f"write_floats: numbers[{position}]: {error}") from None
        checked.append(number)
    for value, number in zip(values, checked):
        setattr(value, attribute, number)


def _as_grad(number: Any) -> float:
    """A gradient as setting ``.grad`` takes it: a float as it is (even inf or NaN)."""
    if isinstance(number, float):
        return float(number)
    return _as_float(number)


def _is_double_buffer(numbers: object) -> bool:
    try:
        view = memoryview(numbers)  # type: ignore[arg-type]
    except TypeError:
        return False
    return view.format == "d" and view.ndim == 1 and view.c_contiguous


read_floats = getattr(_compiled.core, "read_floats", None) or py_read_floats
"""``py_read_floats``, by the compiled core when it runs (no Python loop per Value)."""
write_floats = getattr(_compiled.core, "write_floats", None) or py_write_floats
"""``py_write_floats``, by the compiled core when it runs (no Python loop per Value)."""
