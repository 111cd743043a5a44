"""A check shared by the modules, the optimizers and the datasets."""

from __future__ import annotations

import math
import numbers


def finite_float(x: object) -> float | None:
    """``float(x)`` for a real number (not a bool) that is finite as a float, else ``None``.

    Any real number counts (``int``, ``float``, numpy's scalars); ``10**400`` does not (it
    overflows a float).

    >>> finite_float(3), finite_float(True), finite_float(10**400), finite_float(float("nan"))
    (3.0, None, None, None)
    """
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        return None
    try:
        number = float(x)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None
