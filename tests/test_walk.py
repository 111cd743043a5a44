"""What others can see of a backward() walk: nothing until it has finished (issue 18).

The reference keeps its sums in a dict and writes ``.grad`` at the end; the C walk keeps them
in slots of its own and does the same. These tests run on both engines.
"""

from __future__ import annotations

import os
import random
import signal
import sys
import threading
import time

import pytest

import autograd
import nn
from autograd import Op, Value, apply, is_grad_enabled

COMPILED = autograd.implementation == "compiled"


def _op(name, rule, arity=1):
    return Op(name, lambda *xs: 2.0 * xs[0], rule, arity, [(-1.0, 1.0)] * arity)


def test_four_threads_training_one_model_never_get_an_error():
    """Four threads, one nn.MLP, nn.cross_entropy (its logsumexp rule runs in Python inside the
    C walk): the C walk once refused the others' walks ("busy") in 4 of 10 runs."""
    model = nn.MLP(3, [8, 3], seed=0)
    errors = []

    def train(seed):
        rng = random.Random(seed)
        try:
            for _ in range(30):
                x = [rng.uniform(-1, 1) for _ in range(3)]
                loss = nn.cross_entropy(model(x), rng.randrange(3))
                loss.backward()
        except Exception as error:  # any error fails the test
            errors.append(repr(error))

    threads = [threading.Thread(target=train, args=(seed,)) for seed in range(4)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often: inside the walks too
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not errors
    assert all(p.grad != 0.0 for p in model.parameters()[:3])


def test_a_rule_sees_every_grad_as_it_was_and_may_set_one():
    a, b = Value(2.0), Value(3.0)
    a.grad, b.grad = 0.5, 0.25
    seen = []

    def rule(out, x):
        seen.append((a.grad, b.grad))
        b.grad = 10.0  # as in the reference: kept, then the walk adds to it
        return (2.0,)

    y = apply(_op("peek", rule), a * b) * a
    y.backward()
    assert seen == [(0.5, 0.25)]
    # y = 2ab * a: dy/da = 2ab + a * 2b, dy/db = a * 2a
    assert (a.grad, b.grad) == (0.5 + 2.0 * 2.0 * 3.0 + 2.0 * 2.0 * 3.0, 10.0 + 2.0 * 2.0 * 2.0)


def test_a_rule_runs_once_per_walk_and_its_error_propagates():
    calls = []

    def flaky(out, x):
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return (2.0,)

    x = Value(0.5)
    x.grad = 1.0
    y = apply(_op("flaky", flaky), x * x) + x
    with pytest.raises(ValueError, match=r"backward through flaky at inputs \[0\.25\]: first "):
        y.backward()
    assert len(calls) == 1 and x.grad == 1.0
    y.backward()
    assert len(calls) == 2 and x.grad == 1.0 + 2.0 * 2 * 0.5 + 1.0


def test_an_always_defined_rule_is_left_out_where_nothing_passes():
    calls = []

    def rule(out, x):
        calls.append(x)
        return (2.0,)

    op = Op("counted", lambda x: 2.0 * x, rule, 1, [(-1.0, 1.0)], always_defined=True)
    x = Value(0.5)
    (apply(op, x) * 0.0).backward()
    assert calls == [] and x.grad == 0.0


def test_rules_run_without_recording_a_graph():
    modes = []

    def rule(out, x):
        modes.append(is_grad_enabled())
        return (2.0,)

    x = Value(0.5)
    apply(_op("mode", rule), x).backward()
    assert modes == [False] and is_grad_enabled()


def test_a_backward_inside_a_rule_sees_the_outer_walks_grads_untouched():
    a = Value(2.0)
    z = a * 5.0
    inner = []

    def nested(out, x):
        inner.append(a.grad)
        z.backward()
        inner.append(a.grad)
        return (2.0,)

    (apply(_op("nested", nested), a) * a).backward()
    assert inner == [0.0, 5.0]
    assert a.grad == 5.0 + 4.0 + 2.0 * 2.0  # z's 5, then y = 2a * a: 2a + a * 2


@pytest.mark.skipif(os.name != "posix", reason="SIGALRM")
def test_ctrl_c_interrupts_a_long_walk_at_once_and_changes_no_grad():
    steps = 2_000_000 if COMPILED else 200_000
    a, b = Value(0.999999), Value(1e-7)
    a.grad = 0.5
    x = Value(1.0)
    for _ in range(steps):
        x = x * a + b
    raised = []

    def interrupt(signum, frame):
        raised.append(time.process_time())
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.05)
        with pytest.raises(KeyboardInterrupt):
            x.backward()
        caught = time.process_time()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert raised and caught - raised[0] < 0.1  # CPU seconds: a loaded machine pauses us too
    assert (a.grad, b.grad, x.grad) == (0.5, 0.0, 0.0)
