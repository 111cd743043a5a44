"""nn losses: values by hand, gradients by gradcheck, stability at extreme inputs, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from autograd import Value, gradcheck
from nn import binary_cross_entropy_with_logits, cross_entropy, hinge_loss, mse_loss

# --- gradcheck: every loss, first order (and second where the loss is smooth) -----------------


def test_mse_gradcheck():
    targets = [0.5, -1.0, 2.0]
    assert gradcheck(lambda *p: mse_loss(list(p), targets), [0.1, 0.7, -0.4])
    assert gradcheck(lambda *p: mse_loss(list(p), targets), [0.1, 0.7, -0.4], order=2)


def test_hinge_gradcheck_away_from_the_kink():
    labels = [1, -1, 1, -1]
    # margins 1 - y s: 1.5, 1.3, -0.2 (no loss), 0.6: none at the kink 0
    assert gradcheck(lambda *s: hinge_loss(list(s), labels), [-0.5, 0.3, 1.2, -0.4])


def test_bce_gradcheck():
    targets = [1, 0, 0.3, 1]
    assert gradcheck(lambda *z: binary_cross_entropy_with_logits(list(z), targets),
                     [0.4, -1.2, 2.0, -30.0])
    assert gradcheck(lambda *z: binary_cross_entropy_with_logits(list(z), targets),
                     [0.4, -1.2, 2.0, -3.0], order=2)


def test_cross_entropy_gradcheck_one_sample_and_batch():
    assert gradcheck(lambda *z: cross_entropy(list(z), 1), [0.2, -0.5, 1.3])
    assert gradcheck(lambda *z: cross_entropy(list(z), 1), [0.2, -0.5, 1.3], order=2)
    assert gradcheck(lambda a, b, c, d: cross_entropy([[a, b], [c, d]], [0, 1]),
                     [0.5, -0.5, 2.0, 1.0])


# --- values -----------------------------------------------------------------------------------

def test_mse_value():
    assert mse_loss([Value(1.0), Value(3.0)], [0.0, 1.0]).data == 2.5
    assert mse_loss(Value(2.0), 1.0).data == 1.0  # a single prediction


def test_hinge_value_matches_micrograd():
    scores, labels = [0.3, -2.0, 0.9, 1.5], [1, -1, -1, 1]
    expected = sum(max(0.0, 1 - y * s) for s, y in zip(scores, labels)) / 4
    assert hinge_loss([Value(s) for s in scores], labels).data == pytest.approx(expected)
    # numpy labels, as the datasets give them
    assert hinge_loss([Value(s) for s in scores], np.array(labels)).data == pytest.approx(expected)


def test_bce_value_and_stability():
    def reference(z, t):
        p = 1 / (1 + math.exp(-z))
        return -(t * math.log(p) + (1 - t) * math.log(1 - p))

    for z, t in [(0.3, 1), (-2.0, 0), (1.5, 0.25)]:
        assert binary_cross_entropy_with_logits(Value(z), t).data == pytest.approx(reference(z, t))
    # far beyond where sigmoid rounds to 0 or 1: no log(0), no overflow, the right values
    assert binary_cross_entropy_with_logits(Value(800.0), 1).data == 0.0
    assert binary_cross_entropy_with_logits(Value(-800.0), 1).data == pytest.approx(800.0)
    assert binary_cross_entropy_with_logits(Value(800.0), 0).data == pytest.approx(800.0)
    z = Value(-800.0)
    binary_cross_entropy_with_logits(z, 1).backward()
    assert z.grad == pytest.approx(-1.0)


def test_cross_entropy_value_and_stability():
    logits = [1.0, 2.0, 3.0]
    lse = math.log(sum(math.exp(v) for v in logits))
    assert cross_entropy([Value(v) for v in logits], 0).data == pytest.approx(lse - 1.0)
    big = [Value(1000.0), Value(0.0), Value(-1000.0)]
    assert cross_entropy(big, 0).data == pytest.approx(0.0, abs=1e-12)
    assert cross_entropy(big, 2).data == pytest.approx(2000.0)
    loss = cross_entropy(big, 1)
    loss.backward()
    assert [v.grad for v in big] == pytest.approx([1.0, -1.0, 0.0])
    assert cross_entropy([Value(0.0), Value(0.0)], np.int64(1)).data == pytest.approx(math.log(2))


def test_cross_entropy_batch_is_the_mean():
    rows = [[Value(0.5), Value(-0.5)], [Value(2.0), Value(1.0)]]
    one = [cross_entropy(row, t).data for row, t in zip(rows, [1, 0])]
    assert cross_entropy(rows, [1, 0]).data == pytest.approx(sum(one) / 2)
    assert cross_entropy(rows, np.array([1, 0])).data == pytest.approx(sum(one) / 2)


# --- input checks -----------------------------------------------------------------------------

@pytest.mark.parametrize("loss", [mse_loss, hinge_loss, binary_cross_entropy_with_logits])
def test_length_mismatch_and_empty(loss):
    with pytest.raises(ValueError, match="2 outputs but 3 targets"):
        loss([Value(0.0), Value(1.0)], [1, 1, 1])
    with pytest.raises(ValueError, match="at least one sample"):
        loss([], [])


@pytest.mark.parametrize("label", [0, 2, 0.5, True])
def test_hinge_labels_must_be_plus_or_minus_one(label):
    with pytest.raises(ValueError, match=r"\+1 or -1"):
        hinge_loss([Value(0.0), Value(0.0)], [1, label])


@pytest.mark.parametrize("target", [-0.1, 1.5, float("nan")])
def test_bce_targets_in_zero_one(target):
    with pytest.raises(ValueError, match="targets"):
        binary_cross_entropy_with_logits([Value(0.0)], [target])


def test_mse_targets_must_be_numbers():
    with pytest.raises(ValueError, match="finite numbers"):
        mse_loss([Value(0.0)], [float("inf")])
    with pytest.raises(ValueError, match="finite numbers"):
        mse_loss([Value(0.0)], ["1.0"])
    target = Value(1.0)  # a Value is used as it is (autograd.compile's arguments are Values)
    mse_loss([Value(0.0)], [target]).backward()
    assert target.grad == 2.0  # d (0 - t)² / dt at t = 1, as PyTorch gives a target needing grad


@pytest.mark.parametrize(("logits", "target", "message"), [
    ([Value(0.0), Value(1.0)], 2, "out of range for 2 classes"),
    ([Value(0.0), Value(1.0)], -1, "out of range"),
    ([Value(0.0), Value(1.0)], 1.0, "class index"),
    ([Value(0.0), Value(1.0)], True, "class index"),
    ([], 0, "empty"),
    (Value(1.0), 0, "one score per class"),
    ([[Value(0.0)], [Value(1.0)]], [0], "2 logit lists but 1 targets"),
    ([Value(0.0), Value(1.0)], [0, 1], "list of logit lists"),
    ([[Value(0.0), Value(1.0)]], [5], "target 5 for sample 0"),
])
def test_cross_entropy_checks(logits, target, message):
    with pytest.raises(ValueError, match=message):
        cross_entropy(logits, target)


def test_value_targets_and_labels_give_the_same_numbers():
    """Inside ``autograd.compile`` the arguments are Values: a Value target of cross_entropy
    picks its logit with ``autograd.take``, a Value label of hinge_loss multiplies as it is;
    the loss and the gradients are those of the plain numbers, bit for bit."""
    logits = [Value(0.5), Value(-1.25), Value(2.0)]
    results = []
    for target in (1, Value(1)):
        for z in logits:
            z.grad = 0.0
        loss = cross_entropy(logits, target)
        loss.backward()
        results.append((loss.data, [z.grad for z in logits]))
    assert results[0] == results[1]
    batch = cross_entropy([logits, logits[::-1]], [Value(0), Value(2)])
    assert batch.data == cross_entropy([logits, logits[::-1]], [0, 2]).data
    scores = [Value(0.3), Value(-2.0)]
    assert hinge_loss(scores, [Value(1.0), Value(-1.0)]).data == hinge_loss(scores, [1, -1]).data
    assert mse_loss(scores, [Value(0.5), Value(1.0)]).data == mse_loss(scores, [0.5, 1.0]).data
    assert (binary_cross_entropy_with_logits(scores, [Value(1.0), Value(0.0)]).data
            == binary_cross_entropy_with_logits(scores, [1, 0]).data)


def test_every_loss_compiles_with_its_targets_as_arguments():
    """Recorded with Value targets, replayed on new ones: the eager loss and gradients."""
    import autograd

    scores = [Value(0.3), Value(-2.0), Value(1.5)]
    cases = [(mse_loss, [[0.5, 1.0, -1.0], [2.0, 0.0, 0.5]]),
             (hinge_loss, [[1, -1, 1], [-1, -1, 1]]),
             (binary_cross_entropy_with_logits, [[1, 0, 1], [0.25, 1, 0]]),
             (cross_entropy, [2, 0])]
    for loss, targets in cases:
        compiled = autograd.compile(lambda t, loss=loss: loss(scores, t))
        for t in targets:  # the first call records, the second replays
            for s in scores:
                s.grad = 0.0
            got = compiled(t)
            got.backward()
            replayed = (got.data, [s.grad for s in scores])
            for s in scores:
                s.grad = 0.0
            eager = loss(scores, t)
            eager.backward()
            assert replayed == (eager.data, [s.grad for s in scores]), loss.__name__


# --- backward() through every loss, with one, two and three samples or classes ----------------

@pytest.mark.parametrize("n", [1, 2, 3])
def test_backward_with_few_samples_or_classes(n):
    """n-ary nodes (sum, dot, logsumexp) with one or two parents go through backward() too."""
    values = [Value(0.1 * (i + 1)) for i in range(n)]
    for loss in (mse_loss(values, [0.0] * n), hinge_loss(values, [1] * n),
                 binary_cross_entropy_with_logits(values, [1] * n), cross_entropy(values, 0),
                 cross_entropy([values], [n - 1])):
        for v in values:
            v.grad = 0.0
        loss.backward()
        assert all(math.isfinite(v.grad) for v in values)
    z = [Value(0.3), Value(-1.2)]
    loss = cross_entropy(z, 0)
    loss.backward()
    p0 = math.exp(0.3) / (math.exp(0.3) + math.exp(-1.2))
    assert loss.data == pytest.approx(-math.log(p0))
    assert [v.grad for v in z] == pytest.approx([p0 - 1, 1 - p0])


def test_engine_backward_through_two_input_logsumexp():
    import autograd

    a, b = Value(1.0), Value(2.0)
    autograd.logsumexp([a, b]).backward()
    assert a.grad + b.grad == pytest.approx(1.0)


def test_hinge_takes_plain_number_scores_like_the_other_losses():
    assert hinge_loss([2.0, 0.5], [1.0, -1.0]).data == 0.75
    assert hinge_loss(0.5, 1).data == 0.5 and hinge_loss(np.float64(-2.0), -1).data == 0.0


@pytest.mark.parametrize("loss", [mse_loss, hinge_loss, binary_cross_entropy_with_logits])
def test_numpy_arrays_as_outputs_and_targets(loss):
    scores = [Value(0.3), Value(-1.2)]
    targets = [1, -1] if loss is hinge_loss else [1, 0]
    expected = loss(scores, targets).data
    assert loss(scores, np.array(targets)).data == expected
    assert loss(np.array([0.3, -1.2]), np.array(targets)).data == expected
    assert loss(scores[0], np.array(targets[0])).data == loss(scores[0], targets[0]).data
    with pytest.raises(ValueError, match=r"one number per sample.*shape \(2, 1\)"):
        loss(scores, np.array(targets).reshape(2, 1))


def test_cross_entropy_with_numpy_arrays():
    logits = [[Value(0.5), Value(1.0)], [Value(0.0), Value(2.0)]]
    expected = cross_entropy(logits, [1, 0]).data
    assert cross_entropy(logits, np.array([1, 0])).data == expected
    assert cross_entropy(np.array([[0.5, 1.0], [0.0, 2.0]]), np.array([1, 0])).data == expected
    assert cross_entropy(np.array([0.5, 1.0]), np.int64(1)).data == \
        cross_entropy(logits[0], 1).data
    assert cross_entropy(logits[0], np.array(1)).data == cross_entropy(logits[0], 1).data


# --- an overflow in a hand-written loop hints at the learning rate (issue 20) -----------------

def test_an_overflow_in_a_hand_written_loop_hints_at_the_learning_rate():
    """The issue's case: plain SGD by hand with too large a step; it printed the 200 numbers of
    the overflowing node and no hint (the command gave one)."""
    import nn
    from nn.validation import OverflowHint

    X, y = nn.make_moons(100, noise=0.1, random_state=0)
    model = nn.MLP(2, [16, 16, 1], seed=0)
    with pytest.raises(OverflowHint) as error:
        for _ in range(100):
            loss = nn.mse_loss([model(x) for x in X.tolist()], y.tolist())
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 10.0 * p.grad
    text = str(error.value)
    assert text.endswith("if this happens while training, the learning rate is probably too "
                         "large")
    assert text.startswith(("mse_loss: ", "MLP: ")) and len(text) < 300
    assert isinstance(error.value, OverflowError)


def test_a_module_that_overflows_names_itself_and_its_largest_parameter():
    import nn
    from nn.validation import OverflowHint

    model = nn.MLP(2, [3, 1], seed=0)
    model.layers[0].neurons[0].weight[0].data = 1e300
    with pytest.raises(OverflowHint, match=r"^MLP: .*overflows.*, and its parameters reach "
                                           r"1e\+300: if this happens while training"):
        model([1e10, 0.0])
    head = nn.Linear(2, 2, seed=0)
    head.weight[1][1].data = -3e307
    layers = [nn.Linear(2, 2, seed=0), head]

    class Stack(nn.Module):
        def __init__(self):
            self.layers = layers

        def forward(self, x):
            for layer in self.layers:
                x = layer(x)
            return x

    with pytest.raises(OverflowHint, match=r"^Linear: .*parameters reach 3e\+307"):
        Stack()([1e10, 1e10])  # the innermost module that overflowed says it, once
