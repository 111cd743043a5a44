"""nn.Module, Neuron, Layer, MLP: parameters, initialisation, graphs, state dicts."""

from __future__ import annotations

import math
import random

import pytest

import nn
from autograd import Value, gradcheck, topological_order
from nn import MLP, Layer, Module, Neuron, StateDictError
from nn.activations import ACTIVATIONS, LEAKY_RELU_SLOPE

# each activation's formula, written out independently of the op table
REFERENCE = {
    "relu": lambda z: max(z, 0.0),
    "tanh": math.tanh,
    "sigmoid": lambda z: 1 / (1 + math.exp(-z)),
    "leaky_relu": lambda z: z if z > 0 else LEAKY_RELU_SLOPE * z,
    "gelu": lambda z: 0.5 * z * (1 + math.erf(z / math.sqrt(2))),
    "linear": lambda z: z,
}
ALL_ACTIVATIONS = sorted(ACTIVATIONS)


def snapshot(model: Module) -> list[float]:
    return [p.data for p in model.parameters()]


# --- shapes, parameters, names ----------------------------------------------------------------

def test_micrograd_mlp_shape_and_parameter_count():
    model = MLP(2, [16, 16, 1], seed=0)
    assert model.nouts == [16, 16, 1]
    assert len(model.parameters()) == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1 == 337
    assert [layer.activation for layer in model.layers] == ["relu", "relu", "linear"]
    out = model([0.3, -0.2])
    assert isinstance(out, Value)


def test_multi_output_mlp_returns_a_list():
    out = MLP(3, [4, 5], seed=0)([1.0, 2.0, 3.0])
    assert isinstance(out, list) and len(out) == 5 and all(isinstance(v, Value) for v in out)


def test_layer_returns_one_value_for_one_output():
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)
    assert len(Layer(2, 3, seed=0)([1.0, 2.0])) == 3


def test_named_parameters_follow_the_structure():
    model = MLP(2, [3, 1], seed=0)
    names = [name for name, _ in model.named_parameters()]
    assert names[:3] == ["layers.0.neurons.0.weight.0", "layers.0.neurons.0.weight.1",
                         "layers.0.neurons.0.bias"]
    assert names[-1] == "layers.1.neurons.0.bias"
    assert len(names) == len(set(names)) == len(model.parameters())
    assert [v for _, v in model.named_parameters()] == model.parameters()


def test_state_dict_shape():
    state = MLP(2, [3, 1], seed=0).state_dict()
    assert list(state) == [f"layers.{i}.neurons.{j}.{p}" for i, n in ((0, 3), (1, 1))
                           for j in range(n) for p in ("weight", "bias")]
    assert len(state["layers.0.neurons.0.weight"]) == 2
    assert isinstance(state["layers.1.neurons.0.bias"], float)


def test_custom_module_finds_nested_parameters():
    class Net(Module):
        def __init__(self):
            self.body = MLP(2, [3], seed=0)
            self.heads = [Neuron(3, "linear", seed=1), Neuron(3, "linear", seed=2)]
            self.scale = Value(1.0)
            self.note = "not a parameter"

        def forward(self, x):
            h = self.body(x)
            return [head(h) * self.scale for head in self.heads]

    net = Net()
    assert len(net.parameters()) == 9 + 2 * 4 + 1
    assert "heads.1.bias" in net.state_dict() and "scale" in net.state_dict()
    assert len(net([1.0, 2.0])) == 2


def test_zero_grad_resets_every_parameter():
    model = MLP(2, [4, 1], seed=0)
    model([1.0, -1.0]).backward()
    assert any(p.grad for p in model.parameters())
    model.zero_grad()
    assert all(p.grad == 0.0 for p in model.parameters())


def test_wrong_number_of_inputs():
    with pytest.raises(ValueError, match="takes 2 input"):
        MLP(2, [3, 1], seed=0)([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="Neuron takes 3"):
        Neuron(3, seed=0)([1.0])


def test_bad_sizes():
    with pytest.raises(ValueError):
        Neuron(0)
    with pytest.raises(ValueError):
        Layer(2, 0)
    with pytest.raises(ValueError):
        MLP(2, [])


# --- activations and graphs -------------------------------------------------------------------

def test_every_activation_in_the_table_has_a_reference_formula():
    assert sorted(REFERENCE) == ALL_ACTIVATIONS
    for name, entry in ACTIVATIONS.items():
        assert entry.name == name and entry.init in ("kaiming", "xavier") and entry.gain > 0


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_one_fused_node_per_neuron(activation):
    neuron = Neuron(4, activation=activation, seed=0)
    neuron.bias.data = 0.1
    x = [0.5, -1.0, 2.0, 0.25]
    out = neuron(x)
    assert topological_order(out) == [out]
    fused = ACTIVATIONS[activation].op
    assert out.op == ("affine" if fused is None else f"affine>{fused.name}")
    for z in (-1.3, 0.1, 2.0):  # both sides of the kinks
        neuron.bias.data = z - sum(w.data * xi for w, xi in zip(neuron.weight, x))
        assert neuron(x).data == pytest.approx(REFERENCE[activation](z), rel=1e-12, abs=1e-12)


def test_mlp_graph_has_one_node_per_neuron():
    model = MLP(2, [16, 16, 1], seed=0)
    order = topological_order(model([0.5, -0.5]))
    ops = [node.op for node in order]
    assert ops.count("affine>relu") == 32 and ops.count("affine") == 1
    assert len(ops) == 33


def test_unknown_activation_lists_the_allowed_names():
    with pytest.raises(ValueError) as error:
        MLP(2, [3, 1], activation="swish")
    for name in ALL_ACTIVATIONS:
        assert name in str(error.value)
    with pytest.raises(ValueError, match="relu"):
        Neuron(2, activation="ReLU")


@pytest.mark.parametrize("activation", ["tanh", "sigmoid", "gelu", "leaky_relu"])
def test_gradients_through_a_small_mlp(activation):
    """gradcheck over every parameter of a 2-3-1 network and its loss."""
    template = MLP(2, [3, 1], activation=activation, seed=1)
    start = [p.data + 0.05 for p in template.parameters()]  # biases off zero, away from kinks

    def loss(*params):
        model = MLP(2, [3, 1], activation=activation, seed=1)
        it = iter(params)
        for layer in model.layers:
            for neuron in layer.neurons:
                neuron.weight = [next(it) for _ in neuron.weight]
                neuron.bias = next(it)
        scores = [model(x) for x in ([0.5, -1.0], [1.5, 0.3], [-0.7, 0.8])]
        return nn.mse_loss(scores, [1.0, -1.0, 0.5])

    assert gradcheck(loss, start)


# --- initialisation ---------------------------------------------------------------------------

def test_seed_reproducibility_and_no_global_state():
    a = snapshot(MLP(2, [16, 16, 1], seed=42))
    random.seed(0)
    random.random()
    b = snapshot(MLP(2, [16, 16, 1], seed=42))
    assert a == b
    assert a != snapshot(MLP(2, [16, 16, 1], seed=43))
    state = random.getstate()
    MLP(2, [4, 1], seed=1)
    assert random.getstate() == state  # the global generator was not used


def test_seed_none_gives_different_networks():
    assert snapshot(MLP(2, [8, 1])) != snapshot(MLP(2, [8, 1]))


@pytest.mark.parametrize(("activation", "fan_in", "fan_out", "bound"), [
    ("relu", 2, 16, math.sqrt(6 / 2)),
    ("gelu", 16, 16, math.sqrt(6 / 16)),
    ("leaky_relu", 16, 1, math.sqrt(2 / (1 + 0.01**2)) * math.sqrt(3 / 16)),
    ("tanh", 16, 16, 5 / 3 * math.sqrt(6 / 32)),
    ("sigmoid", 4, 2, math.sqrt(1.0)),
    ("linear", 16, 1, math.sqrt(6 / 17)),
])
def test_init_bounds(activation, fan_in, fan_out, bound):
    assert nn.get_activation(activation).init_bound(fan_in, fan_out) == pytest.approx(bound)


def test_weights_fill_their_bound_and_biases_start_at_zero():
    model = MLP(2, [200, 1], seed=0)
    first = [w.data for n in model.layers[0].neurons for w in n.weight]
    bound = nn.get_activation("relu").init_bound(2, 200)
    assert all(abs(w) <= bound for w in first)
    assert max(map(abs, first)) > 0.95 * bound
    assert abs(sum(first) / len(first)) < 0.1 * bound
    assert all(n.bias.data == 0.0 for layer in model.layers for n in layer.neurons)
    last = model.layers[1].neurons[0].weight
    assert all(abs(w.data) <= nn.get_activation("linear").init_bound(200, 1) for w in last)


# --- load_state_dict --------------------------------------------------------------------------

def test_load_state_dict_round_trip():
    a, b = MLP(2, [4, 1], seed=0), MLP(2, [4, 1], seed=1)
    x = [0.3, -0.7]
    assert a(x).data != b(x).data
    b.load_state_dict(a.state_dict())
    assert b(x).data == a(x).data
    assert snapshot(a) == snapshot(b)


def test_load_state_dict_accepts_ints_and_tuples():
    n = Neuron(2, seed=0)
    n.load_state_dict({"weight": (1, 2), "bias": 3})
    assert snapshot(n) == [1.0, 2.0, 3.0]


@pytest.mark.parametrize(("change", "message"), [
    (lambda s: s.pop("layers.1.neurons.0.bias"), "missing 'layers.1.neurons.0.bias'"),
    (lambda s: s.update(extra=1.0), "unexpected 'extra'"),
    (lambda s: s["layers.0.neurons.0.weight"].append(1.0), "has 3 value"),
    (lambda s: s.update({"layers.0.neurons.1.bias": [0.0]}), "must be a finite number"),
    (lambda s: s.update({"layers.0.neurons.1.weight": 0.5}), "must be a list of 2"),
    (lambda s: s.update({"layers.0.neurons.1.bias": float("nan")}), "finite"),
    (lambda s: s.update({"layers.0.neurons.1.bias": "0.1"}), "str"),
    (lambda s: s["layers.0.neurons.2.weight"].__setitem__(1, True), "finite numbers"),
])
def test_load_state_dict_refuses_and_leaves_the_model_untouched(change, message):
    model = MLP(2, [4, 1], seed=0)
    before = snapshot(model)
    state = MLP(2, [4, 1], seed=5).state_dict()
    change(state)
    with pytest.raises(StateDictError, match=message.replace("(", r"\(")) as error:
        model.load_state_dict(state)
    assert isinstance(error.value, ValueError) and isinstance(error.value, KeyError)
    assert snapshot(model) == before


def test_load_state_dict_names_every_problem_at_once():
    model = MLP(2, [4, 1], seed=0)
    state = MLP(2, [3, 1], seed=0).state_dict()
    with pytest.raises(KeyError) as error:
        model.load_state_dict(state)
    text = str(error.value)
    assert "missing 'layers.0.neurons.3.weight', 'layers.0.neurons.3.bias'" in text
    assert "'layers.1.neurons.0.weight' has 3 value(s) but the parameter has 4" in text
    assert not text.startswith("'")  # not KeyError's quoting


def test_load_state_dict_non_strict_ignores_names_but_not_sizes():
    model = MLP(2, [4, 1], seed=0)
    state = {"layers.1.neurons.0.bias": 2.5, "something.else": 1.0}
    model.load_state_dict(state, strict=False)
    assert model.layers[1].neurons[0].bias.data == 2.5
    with pytest.raises(ValueError):
        model.load_state_dict({"layers.1.neurons.0.weight": [1.0]}, strict=False)


def test_load_state_dict_needs_a_mapping():
    with pytest.raises(TypeError):
        Neuron(2, seed=0).load_state_dict([1.0, 2.0, 3.0])


def test_micrograd_names_w_and_b():
    n = Neuron(2, seed=0)
    assert n.w is n.weight and n.b is n.bias
    assert repr(n) == "Neuron(2, activation='relu')"
    assert repr(Layer(2, 3, "tanh")) == "Layer(2, 3, activation='tanh')"


def test_shared_parameters_are_listed_once():
    class Tied(Module):
        def __init__(self):
            self.first = Neuron(2, "linear", seed=0)
            self.second = Neuron(2, "linear", seed=1)
            self.second.weight = self.first.weight  # tied weights
            self._cache = Value(5.0)  # private: not a parameter

        def forward(self, x):
            return self.first(x) + self.second(x)

    tied = Tied()
    assert [name for name, _ in tied.named_parameters()] == [
        "first.weight.0", "first.weight.1", "first.bias", "second.bias"]
    # once in the state dict too, under the first name
    assert list(tied.state_dict()) == ["first.weight", "first.bias", "second.bias"]
    assert "_cache" not in tied.state_dict()


# --- parameters in nested containers (issue 11) ----------------------------------------------

class Containers(Module):
    """Parameters as PyTorch's ModuleList / ModuleDict / ParameterList would hold them."""

    def __init__(self):
        self.W = [[Value(1.0), Value(2.0)], [Value(3.0), Value(4.0)]]  # a matrix
        self.mixed = [Value(5.0), Neuron(1, "linear", seed=0)]
        self.heads = {"left": Neuron(2, "linear", seed=1), "right": (Value(6.0), Value(7.0))}
        self.blocks = ({"scale": Value(8.0)},)
        self.data = [1.0, 2.0]  # numbers, not parameters
        self.table = {"note": "text"}

    def forward(self, x):
        return self.W[0][0] * x


def test_parameters_in_nested_lists_tuples_and_dicts():
    model = Containers()
    assert [name for name, _ in model.named_parameters()] == [
        "W.0.0", "W.0.1", "W.1.0", "W.1.1", "mixed.0", "mixed.1.weight.0", "mixed.1.bias",
        "heads.left.weight.0", "heads.left.weight.1", "heads.left.bias", "heads.right.0",
        "heads.right.1", "blocks.0.scale"]
    state = model.state_dict()
    assert state["W.0"] == [1.0, 2.0] and state["heads.right"] == [6.0, 7.0]
    assert state["blocks.0.scale"] == 8.0
    # every one is trained: the optimizer sees them all
    optimizer = nn.SGD(model.parameters(), lr=1.0)
    for p in model.parameters():
        p.grad = 1.0
    optimizer.step()
    assert model.W[1][1].data == 3.0 and model.blocks[0]["scale"].data == 7.0
    # and the state dict loads back into a fresh copy
    other = Containers()
    other.load_state_dict(model.state_dict())
    assert other.state_dict() == model.state_dict()


@pytest.mark.parametrize(("holder", "message"), [
    (lambda: {Value(1.0)}, "Bad.x is a set holding Values"),
    (lambda: frozenset({Neuron(1)}), "frozenset holding"),
    (lambda: [[{Value(1.0)}]], r"Bad.x.0.0 is a set"),
    (lambda: {1: Value(1.0)}, "the key 1 holding parameters"),
    (lambda: {"a.b": Value(1.0)}, "without '.'"),
])
def test_unsupported_containers_are_refused_not_skipped(holder, message):
    class Bad(Module):
        def __init__(self):
            self.x = holder()

    with pytest.raises(TypeError, match=message):
        Bad().parameters()


def test_harmless_attributes_and_self_reference():
    import numpy as np

    class Odd(Module):
        def __init__(self):
            self.w = Value(1.0)
            self.grid = np.zeros((3, 3))  # a numpy array of numbers: not searched
            self.names = {"a", "b"}  # a set without parameters is fine
            self.loop = [self.w]
            self.loop.append(self.loop)  # a list that holds itself ends the walk

    assert [name for name, _ in Odd().named_parameters()] == ["w"]


def test_tied_weights_once_in_the_state_dict_and_stepped_once():
    class Tied(Module):
        def __init__(self):
            self.encoder = Neuron(2, "linear", seed=0)
            self.decoder = Neuron(2, "linear", seed=1)
            self.decoder.weight = self.encoder.weight
            self.alias = self.encoder  # the same module twice

    model = Tied()
    assert list(model.state_dict()) == ["encoder.weight", "encoder.bias", "decoder.bias"]
    assert len(model.parameters()) == 4
    w = model.encoder.weight[0]
    start = w.data
    w.grad = 1.0
    nn.SGD(model.parameters(), lr=0.5).step()
    assert w.data == start - 0.5  # once, not twice
    model.load_state_dict(model.state_dict())


# --- helpful errors (issue 11, issue 13 D14) --------------------------------------------------

@pytest.mark.parametrize(("make", "error", "message"), [
    (lambda: MLP(2, 16), TypeError, r"nouts is the list of layer sizes.*\[16\]"),
    (lambda: MLP(2, "16"), TypeError, "nouts is the list"),
    (lambda: MLP(2, [16, 1.5]), TypeError, r"nouts\[1\] must be an int"),
    (lambda: MLP(2, []), ValueError, "at least one layer"),
    (lambda: Neuron("3"), TypeError, "nin must be an int >= 1, got str '3'"),
    (lambda: Neuron(True), TypeError, "nin must be an int >= 1, got bool"),
    (lambda: Neuron(3, fan_out=-3), ValueError, "fan_out must be an int >= 1, got -3"),
    (lambda: Neuron(0), ValueError, "nin must be an int >= 1"),
    (lambda: Layer(2, 0), ValueError, "nout must be an int >= 1"),
    (lambda: Neuron(2, activation=None), ValueError, "unknown activation None"),
    (lambda: MLP(10**9, [1]), ValueError, "1,000,000,001 parameters"),
    (lambda: Layer(10**5, 10**3), ValueError, "MAX_PARAMETERS"),
])
def test_bad_construction_is_refused_up_front(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_leaky_relu_slope_must_be_finite():
    with pytest.raises(ValueError, match="slope must be a finite number"):
        Value(1.0).leaky_relu(float("nan"))
    assert ACTIVATIONS["leaky_relu"].op.parameter == LEAKY_RELU_SLOPE


def test_numpy_sizes_are_accepted():
    import numpy as np

    model = MLP(np.int64(2), np.array([3, 1]), seed=0)
    assert model.nouts == [3, 1] and type(model.nouts[0]) is int
    assert Neuron(np.int32(3), fan_out=np.int64(2)).nin == 3


@pytest.mark.parametrize(("x", "error", "message"), [
    (1.0, TypeError, "MLP takes one sample: a list of 2 number"),
    (Value(1.0), TypeError, "got Value"),
    ({0: 1.0, 1: 2.0}, TypeError, "got dict"),
    ("ab", TypeError, "got str"),
    ([[1.0, 2.0], [3.0, 4.0]], TypeError, "input 0 is a list.*one sample at a time"),
    ([1.0, 2.0, 3.0], ValueError, "MLP takes 2 input"),
])
def test_bad_inputs_say_what_a_model_takes(x, error, message):
    with pytest.raises(error, match=message):
        MLP(2, [3, 1], seed=0)(x)


def test_numpy_inputs():
    import numpy as np

    model = MLP(2, [3, 1], seed=0)
    assert model(np.array([0.5, -1.0])).data == model([0.5, -1.0]).data
    with pytest.raises(ValueError, match=r"shape \(5, 2\).*\[model\(x\) for x in X.tolist\(\)\]"):
        model(np.zeros((5, 2)))
    with pytest.raises(TypeError, match=r"wrap it in a list: model\(\[x\]\)"):
        Neuron(1, seed=0)(2.0)


def test_load_state_dict_numbers_of_every_kind():
    import numpy as np

    n = Neuron(2, seed=0)
    n.load_state_dict({"weight": np.array([1.5, 2.5], dtype=np.float32).tolist(),
                       "bias": np.int64(3)})
    assert snapshot(n) == [1.5, 2.5, 3.0]
    n.load_state_dict({"weight": [np.float32(0.5), np.float64(1.0)], "bias": np.float16(2)})
    assert snapshot(n) == [0.5, 1.0, 2.0] and all(type(v) is float for v in snapshot(n))
    before = snapshot(n)
    with pytest.raises(StateDictError, match=r"'weight' must hold finite numbers, got int 1000"):
        n.load_state_dict({"weight": [1.0, 10**400], "bias": 0.0})
    with pytest.raises(StateDictError, match="'bias' must be a finite number"):
        n.load_state_dict({"weight": [1.0, 2.0], "bias": np.float32("nan")})
    assert snapshot(n) == before  # all or nothing
