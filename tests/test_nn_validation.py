"""nn.validation's OverflowHint: one short line with the hint, and nothing of the engine's
message lost (what the line leaves out, the op's inputs, is in its note, which a traceback
shows). The engine's messages are the same on both engines, letter for letter."""

from __future__ import annotations

import traceback

import pytest

import nn
from autograd import Value
from nn.validation import OverflowHint, overflow_hint

HINT = "if this happens while training, the learning rate is probably too large"


class Squares(nn.Module):
    """A module whose forward pass squares its input with a weight of 1e200."""

    def __init__(self):
        self.weight = Value(1e200)

    def forward(self, x):
        return self.weight * x


def engine_error(call) -> OverflowError:
    with pytest.raises(OverflowError) as caught:
        call()
    assert not isinstance(caught.value, OverflowHint)
    return caught.value


def test_a_forward_overflow_keeps_the_engines_whole_message():
    engine = engine_error(lambda: Value(1e200) * Value(1e200))
    assert str(engine) == ("*: the result overflows a float (|x| > 1.8e308) at inputs "
                           "[1e+200, 1e+200]")
    with pytest.raises(OverflowHint) as caught:
        Squares()(Value(1e200))
    hint = caught.value
    assert str(hint) == ("Squares: *: the result overflows a float (|x| > 1.8e308), and its "
                         f"parameters reach 1e+200: {HINT}")
    assert hint.__notes__ == [f"the engine's message: {engine}"]
    # what the user sees: the short line, then the engine's message with the inputs
    shown = "".join(traceback.format_exception_only(hint))
    assert shown == f"nn.validation.OverflowHint: {hint}\nthe engine's message: {engine}\n"


def test_a_hundred_inputs_stay_off_the_first_line_and_are_all_in_the_note():
    """Issue 20's case, a loss over 100 outputs: the fused op's 200 inputs are not on the line
    that says what happened, and none of them is lost."""
    outputs = [Value(1e200) for _ in range(100)]
    with pytest.raises(OverflowHint) as caught:
        nn.mse_loss(outputs, [0.0] * 100)
    hint = caught.value
    assert str(hint).startswith("mse_loss: ") and str(hint).endswith(HINT)
    assert "at inputs" not in str(hint) and len(str(hint)) < 300
    (note,) = hint.__notes__
    assert note.startswith("the engine's message: ") and " at inputs [" in note
    inputs = note.split(" at inputs [")[1].rstrip("]").split(", ")
    assert len(inputs) == 200 and {float(x) for x in inputs} == {1e200}


def test_what_follows_the_inputs_stays_on_the_line():
    """A backward pass's message names the op, its inputs, and then the reason: the reason was
    cut off with the inputs; it stays."""
    def overflowing_backward():
        b, c = Value(1e200), Value(1e-200) * 1.0
        ((b * c) * 1e200).backward()

    engine = engine_error(overflowing_backward)
    assert str(engine) == ("backward through * at inputs [1e-200, 1.0]: the gradient overflows "
                           "a float (|x| > 1.8e308): got inf")
    hint = overflow_hint("Model", engine, [1e200], "its parameters")
    assert str(hint) == ("Model: backward through *: the gradient overflows a float "
                         f"(|x| > 1.8e308): got inf, and its parameters reach 1e+200: {HINT}")
    assert hint.__notes__ == [f"the engine's message: {engine}"]


def test_a_long_message_without_inputs_is_whole_on_the_line_and_has_no_note():
    """Nothing is cut: the engine's message (here 400 digits long) is all there, once."""
    class Huge(nn.Module):
        def forward(self, x):
            return Value(10**400) * x

    engine = engine_error(lambda: Value(10**400))
    with pytest.raises(OverflowHint) as caught:
        Huge()(1.0)
    assert str(caught.value) == f"Huge: {engine}, and its parameters reach 0: {HINT}"
    assert str(10**400) in str(caught.value)
    assert not hasattr(caught.value, "__notes__")


def test_the_innermost_module_says_it_once_with_one_note():
    class Stack(nn.Module):
        def __init__(self):
            self.inner = Squares()

        def forward(self, x):
            return self.inner(x)

    with pytest.raises(OverflowHint) as caught:
        Stack()(Value(1e200))
    assert str(caught.value).startswith("Squares: *: the result overflows")
    assert len(caught.value.__notes__) == 1
