"""The argument checks of ``nn``: one module, one wording for every rule.

The modules, losses, optimizers, datasets and both commands check their arguments here, so a
rule reads the same wherever it is broken: ``an int >= 1``, ``a finite number >= 0``,
``a finite number > 0``. A wrong type raises ``TypeError``, a wrong value ``ValueError``, each
naming the function and the argument::

    Linear: in_features must be an int >= 1, got 0
    sample_from_logits: temperature must be a finite number > 0, got 0

``int_argument`` and ``number_argument`` are the same rules for ``argparse`` (``--steps``,
``--lr``), and ``check_save_argument`` refuses a ``--save PATH`` that could not be written.
"""

from __future__ import annotations

import argparse
import math
import numbers
import os
import random
import re
from collections.abc import Callable, Iterable, Sequence

from autograd import Value
from nn.serialization import check_target


def int_rule(minimum: int) -> str:
    """The words for "an int of at least ``minimum``".

    >>> int_rule(1)
    'an int >= 1'
    """
    return f"an int >= {minimum}"


def number_rule(positive: bool) -> str:
    """The words for "a finite number, above 0 if ``positive``, else at least 0".

    >>> number_rule(True), number_rule(False)
    ('a finite number > 0', 'a finite number >= 0')
    """
    return f"a finite number {'> 0' if positive else '>= 0'}"


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


def describe(x: object) -> str:
    """``x`` as an error message shows it: its type and a short repr (a list by its length).

    >>> describe("3"), describe([1, 2]), describe(0.5)
    ("str '3'", 'a list of 2', 'float 0.5')
    """
    if isinstance(x, (list, tuple)):
        return f"a {type(x).__name__} of {len(x)}"
    text = repr(x)
    return f"{type(x).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def check_int(owner: str, what: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int (numpy's ints too, not bools), if it is at least ``minimum``.

    >>> check_int("Linear", "in_features", 3)
    3
    >>> check_int("Linear", "in_features", 0)
    Traceback (most recent call last):
    ...
    ValueError: Linear: in_features must be an int >= 1, got 0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: {what} must be {int_rule(minimum)}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{owner}: {what} must be {int_rule(minimum)}, got {value}")
    return int(value)


def check_number(owner: str, what: str, value: object, *, positive: bool = False,
                 hint: str = "") -> float:
    """``value`` as a float, if it is a finite real number >= 0 (> 0 when ``positive``).

    ``hint`` is added to the message (say, what the number is for).

    >>> check_number("RMSNorm", "eps", 1e-5)
    1e-05
    >>> check_number("RMSNorm", "eps", 0, positive=True)
    Traceback (most recent call last):
    ...
    ValueError: RMSNorm: eps must be a finite number > 0, got 0
    """
    number = finite_float(value)
    if number is None or number < 0 or (positive and number == 0):
        raise ValueError(f"{owner}: {what} must be {number_rule(positive)}, got {value!r}{hint}")
    return number


def make_rng(seed: int | random.Random | None) -> random.Random:
    """A ``random.Random`` from a seed (an int or ``None``), or ``seed`` itself if it is one.

    Modules draw their initial weights from it, never from the global generator.

    >>> make_rng(0).random() == make_rng(0).random()
    True
    """
    return seed if isinstance(seed, random.Random) else random.Random(seed)


class OverflowHint(OverflowError):
    """An overflow in an ``nn`` module or loss, said shortly and with its likely cause; the
    engine's whole message is its note (``__notes__``), shown under it in a traceback.

    >>> raise OverflowHint("MLP: affine: the result overflows a float")
    Traceback (most recent call last):
    ...
    nn.validation.OverflowHint: MLP: affine: the result overflows a float
    """


_INPUTS = re.compile(r" at inputs \[[^\]]*\]")  # the engine's list of an op's inputs


def without_inputs(message: str) -> str:
    """The engine's error ``message`` without the list of an op's inputs (a fused op may have
    hundreds); what follows the list, such as a backward pass's reason, stays.

    >>> without_inputs("backward through * at inputs [1e+200, 3e+200]: the gradient overflows")
    'backward through *: the gradient overflows'
    """
    return _INPUTS.sub("", message)


def overflow_hint(owner: str, error: OverflowError, numbers_: Iterable[float],
                  what: str) -> OverflowError:
    """``error`` (an overflow inside ``owner``) as an ``OverflowHint``: one line with the
    engine's reason, the size ``what`` (``numbers_``) reached and a hint at the learning rate;
    where that line leaves out the op's inputs (a fused op may have hundreds), the engine's
    whole message follows as the exception's note, so a traceback shows all of it.

    An ``OverflowHint`` from a module inside ``owner`` is returned as it is.

    >>> hint = overflow_hint("MLP", OverflowError("affine: the result overflows a float "
    ...                      "(|x| > 1.8e308) at inputs [1e+200, 3e+200]"), [2.5e180, -1.0],
    ...                      "its parameters")
    >>> print(hint)
    MLP: affine: the result overflows a float (|x| > 1.8e308), and its parameters reach 2.5e+180: \
if this happens while training, the learning rate is probably too large
    >>> hint.__notes__
    ["the engine's message: affine: the result overflows a float (|x| > 1.8e308) at inputs \
[1e+200, 3e+200]"]
    """
    if isinstance(error, OverflowHint):
        return error
    message = str(error)
    reason = without_inputs(message)
    largest = max((abs(x) for x in numbers_ if math.isfinite(x)), default=0.0)
    hint = OverflowHint(f"{owner}: {reason}, and {what} reach {largest:.3g}: if this happens "
                        f"while training, the learning rate is probably too large")
    if reason != message:
        hint.add_note(f"the engine's message: {message}")
    return hint


_SCALARS = frozenset((float, int, Value))


def check_sample(owner: str, x: object, nin: int) -> Sequence:
    """``x`` as one sample of ``nin`` inputs (a list, a tuple or a 1-D array), or an error.

    >>> check_sample("MLP", [1.0, 2.0], 2)
    [1.0, 2.0]
    >>> check_sample("MLP", [[1.0, 2.0]], 2)
    Traceback (most recent call last):
    ...
    ValueError: MLP takes 2 input(s), got 1
    """
    expected = f"{owner} takes one sample: a list of {nin} number(s) or Value(s)"
    if isinstance(x, (list, tuple)):
        pass
    elif hasattr(x, "ndim") and hasattr(x, "tolist"):  # a numpy array
        if x.ndim != 1:
            raise ValueError(f"{expected}; got an array of shape {tuple(x.shape)}. For a "
                             f"batch, call it on each row: [model(x) for x in X.tolist()]")
        x = x.tolist()
    elif isinstance(x, (Value, numbers.Number)):
        raise TypeError(f"{expected}, got {describe(x)}" +
                        (" (wrap it in a list: model([x]))" if nin == 1 else ""))
    elif isinstance(x, Sequence) and not isinstance(x, (str, bytes)):
        pass
    else:
        raise TypeError(f"{expected}, got {describe(x)}")
    if len(x) != nin:
        raise ValueError(f"{owner} takes {nin} input(s), got {len(x)}")
    for i, xi in enumerate(x):
        if type(xi) not in _SCALARS and not isinstance(xi, (Value, numbers.Real)):
            raise TypeError(f"{expected}; input {i} is {describe(xi)}" +
                            (" (a batch? call the model on one sample at a time)"
                             if isinstance(xi, (list, tuple)) else ""))
    return x


def int_argument(minimum: int) -> Callable[[str], int]:
    """An ``argparse`` type: the text of an int of at least ``minimum`` (``--steps``).

    >>> int_argument(1)("5")
    5
    >>> int_argument(1)("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an int >= 1, got 0
    """
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {int_rule(minimum)}, got {text!r}") \
                from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {int_rule(minimum)}, got {value}")
        return value
    parse.__name__ = int_rule(minimum)
    return parse


def number_argument(positive: bool) -> Callable[[str], float]:
    """An ``argparse`` type: the text of a finite number > 0, or >= 0 (``--lr``, ``--l2``).

    >>> number_argument(positive=True)("0.5")
    0.5
    >>> number_argument(positive=True)("nan")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be a finite number > 0, got nan
    """
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"must be {number_rule(positive)}, got "
                                             f"{text!r}") from None
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            raise argparse.ArgumentTypeError(f"must be {number_rule(positive)}, got {text}")
        return value
    parse.__name__ = number_rule(positive)
    return parse


def check_save_argument(parser: argparse.ArgumentParser, path: str) -> None:
    """Refuse (``parser.error``: exit status 2) a ``--save PATH`` that could not be written;
    a missing folder is made. Commands call it before training.

    >>> check_save_argument(argparse.ArgumentParser(), "model.json")  # a new file: fine
    """
    directory = os.path.dirname(path)
    if directory and not os.path.exists(directory) and not os.path.islink(path):
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as error:
            parser.error(f"--save {path}: cannot create the folder {directory} "
                         f"({error.strerror})")
    try:
        check_target(path)
    except OSError as error:
        parser.error(f"--save: {error}")
