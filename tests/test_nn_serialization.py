"""nn.save / nn.load: round trips, atomic writes, and refusing files that are not ours."""

from __future__ import annotations

import json
import os
import pickle
import zipfile

import pytest

import nn
from nn import MLP
from nn.serialization import FORMAT, VERSION

POINTS = [[0.1, 0.2], [-1.0, 0.5], [1.5, -0.3], [0.0, 0.0]]


def predictions(model):
    return [model(x).data for x in POINTS]


def snapshot(model):
    return [p.data for p in model.parameters()]


def test_save_then_load_gives_identical_predictions(tmp_path):
    model = MLP(2, [16, 16, 1], seed=0)
    path = tmp_path / "model.json"
    nn.save(model.state_dict(), path)
    other = MLP(2, [16, 16, 1], seed=1)
    assert predictions(other) != predictions(model)
    other.load_state_dict(nn.load(path))
    assert predictions(other) == predictions(model)  # exactly: JSON keeps every float's bits
    assert snapshot(other) == snapshot(model)


def test_file_format(tmp_path):
    path = tmp_path / "m.json"
    nn.save({"w": [1.0, 2.5], "b": -0.5}, str(path))
    document = json.loads(path.read_text())
    assert document == {"format": FORMAT, "version": VERSION,
                        "state_dict": {"w": [1.0, 2.5], "b": -0.5}}


def test_overwrite_is_atomic_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)
    nn.save({"b": 2.0}, path)
    assert nn.load(path) == {"b": 2.0}
    assert os.listdir(tmp_path) == ["m.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)

    def crash(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        nn.save({"b": 2.0}, path)
    monkeypatch.undo()
    assert nn.load(path) == {"b": 1.0}
    assert os.listdir(tmp_path) == ["m.json"]


@pytest.mark.parametrize(("state", "error", "message"), [
    ({"b": float("nan")}, ValueError, "only finite numbers"),
    ({"w": [1.0, float("inf")]}, ValueError, r"state_dict\['w'\]\[1\]"),
    ({1: 2.0}, TypeError, "keys must be strings"),
    ({"w": object()}, TypeError, "object"),
])
def test_save_refuses_what_json_cannot_hold(tmp_path, state, error, message):
    with pytest.raises(error, match=message):
        nn.save(state, tmp_path / "m.json")
    assert os.listdir(tmp_path) == []


def test_save_needs_a_mapping(tmp_path):
    with pytest.raises(TypeError):
        nn.save([1.0], tmp_path / "m.json")


# --- refusing files ---------------------------------------------------------------------------

def write(path, data: bytes):
    path.write_bytes(data)
    return path


def good_bytes():
    model = MLP(2, [4, 1], seed=0)
    return json.dumps({"format": FORMAT, "version": VERSION,
                       "state_dict": model.state_dict()}).encode()


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > /dev/null",))


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "empty"),
    (good_bytes()[: len(good_bytes()) // 2], "truncated"),
    (good_bytes()[:-1], "truncated"),
    (pickle.dumps(MLP(2, [4, 1], seed=0).state_dict()), "pickle"),
    (pickle.dumps(Boom()), "pickle"),
    (b"\xff\xfe\x00garbage", "not UTF-8"),
    (b'{"format": "chainrule.state_dict", "version": 1, "state_dict": {"a": 1.0,, }}', "corrupt"),
    (b'{"format": "chainrule.state_dict", "version": 1, "state_dict": {"a": NaN}}', "NaN"),
    (b'{"weights": [1, 2, 3]}', "format"),
    (b"[1, 2, 3]", "format"),
    (b'{"format": "chainrule.state_dict", "version": "1", "state_dict": {}}', "version"),
    (b'{"format": "chainrule.state_dict", "version": 1, "state_dict": [1.0]}', "state_dict"),
])
def test_load_refuses_with_a_reason(tmp_path, data, reason):
    path = write(tmp_path / "bad.json", data)
    with pytest.raises(ValueError, match=reason) as error:
        nn.load(path)
    assert "bad.json" in str(error.value)


def test_load_refuses_a_newer_version(tmp_path):
    path = write(tmp_path / "new.json",
                 b'{"format": "chainrule.state_dict", "version": 99, "state_dict": {}}')
    with pytest.raises(ValueError, match="newer chainrule"):
        nn.load(path)


def test_load_refuses_a_torch_style_zip(tmp_path):
    path = tmp_path / "model.pt"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"w": 1.0}))
    with pytest.raises(ValueError, match="zip archive"):
        nn.load(path)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load(tmp_path / "nope.json")


@pytest.mark.parametrize("corrupt", [
    lambda path: write(path, path.read_bytes()[:100]),
    lambda path: write(path, pickle.dumps(MLP(2, [16, 16, 1], seed=3).state_dict())),
    lambda path: nn.save(MLP(2, [8, 1], seed=3).state_dict(), path),  # another architecture
    lambda path: nn.save({**MLP(2, [16, 16, 1], seed=3).state_dict(),
                          "layers.0.neurons.0.bias": [0.0]}, path),
])
def test_a_bad_file_leaves_the_model_unchanged(tmp_path, corrupt):
    model = MLP(2, [16, 16, 1], seed=0)
    path = tmp_path / "model.json"
    nn.save(MLP(2, [16, 16, 1], seed=3).state_dict(), path)
    corrupt(path)
    before = predictions(model), snapshot(model)
    with pytest.raises(ValueError):
        model.load_state_dict(nn.load(path))
    assert (predictions(model), snapshot(model)) == before
