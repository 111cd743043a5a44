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


# --- reading hostile files (issue 13, D8) -----------------------------------------------------

@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickles_of_every_protocol_are_named_as_pickles(tmp_path, protocol):
    for obj in (MLP(2, [4, 1], seed=0).state_dict(), [1.0, 2.0], 3.5, Boom()):
        path = write(tmp_path / "model.pkl", pickle.dumps(obj, protocol=protocol))
        with pytest.raises(ValueError, match=r"is a Python pickle.*never unpickles"):
            nn.load(path)


def test_a_large_pickle_is_recognised_from_its_start(tmp_path):
    state = {f"w{i}": [float(j) for j in range(100)] for i in range(200)}  # > 64 KiB
    for protocol in (0, 1, 5):
        data = pickle.dumps(state, protocol=protocol)
        assert len(data) > 1 << 16
        with pytest.raises(ValueError, match="pickle"):
            nn.load(write(tmp_path / "big.pkl", data))


def test_deep_nesting_is_a_value_error(tmp_path):
    for text in ("[" * 100_000, '{"a":' * 100_000 + "1" + "}" * 100_000):
        with pytest.raises(ValueError, match="nested too deeply"):
            nn.load(write(tmp_path / "deep.json", text.encode()))


@pytest.mark.parametrize("number", ["1e999", "-1e999", "1E400", "NaN", "Infinity", "-Infinity"])
def test_numbers_that_are_not_finite_are_refused(tmp_path, number):
    data = ('{"format": "chainrule.state_dict", "version": 1, "state_dict": {"w": [1.0, '
            + number + ']}}').encode()
    with pytest.raises(ValueError, match=f"holds {number.lstrip('-')}|holds {number}"):
        nn.load(write(tmp_path / "m.json", data))


def test_size_limit(tmp_path):
    path = tmp_path / "m.json"
    nn.save({"w": [0.5] * 1000}, path)
    assert nn.load(path, max_bytes=path.stat().st_size) == {"w": [0.5] * 1000}
    with pytest.raises(ValueError, match="larger than max_bytes=100 "):
        nn.load(path, max_bytes=100)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_an_endless_device_is_refused_without_reading_it_all():
    with pytest.raises(ValueError, match=r"it is not JSON \(it starts with b'\\x00"):
        nn.load("/dev/zero")


def test_an_endless_stream_of_json_stops_at_the_limit(tmp_path):
    path = write(tmp_path / "big.json", b"[" + b"0," * 5000)
    with pytest.raises(ValueError, match="larger than max_bytes"):
        nn.load(path, max_bytes=4096)


# --- writing: permissions, links, folders, leftovers (issue 13, D9 and D10) -------------------

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and links")


@posix_only
@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664])
def test_save_keeps_the_targets_permissions(tmp_path, mode):
    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)
    os.chmod(path, mode)
    nn.save({"b": 2.0}, path)
    assert os.stat(path).st_mode & 0o777 == mode and nn.load(path) == {"b": 2.0}


@posix_only
def test_save_refuses_a_read_only_target(tmp_path):
    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)
    os.chmod(path, 0o444)
    with pytest.raises(PermissionError, match=r"m.json: the file is read-only \(mode 0444\)"):
        nn.save({"b": 2.0}, path)
    os.chmod(path, 0o644)
    assert nn.load(path) == {"b": 1.0} and os.listdir(tmp_path) == ["m.json"]


@posix_only
def test_save_writes_through_a_symlink(tmp_path):
    (tmp_path / "runs").mkdir()
    target = tmp_path / "runs" / "run5.json"
    nn.save({"b": 1.0}, target)
    os.chmod(target, 0o600)
    link = tmp_path / "latest.json"
    link.symlink_to(target)
    nn.save({"b": 2.0}, link)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert nn.load(target) == {"b": 2.0} and os.stat(target).st_mode & 0o777 == 0o600
    assert sorted(os.listdir(tmp_path / "runs")) == ["run5.json"]
    dangling = tmp_path / "next.json"
    dangling.symlink_to(tmp_path / "runs" / "run6.json")
    nn.save({"b": 3.0}, dangling)  # creates the file the link points to
    assert dangling.is_symlink() and nn.load(tmp_path / "runs" / "run6.json") == {"b": 3.0}


def test_save_names_a_missing_folder_and_a_folder_target(tmp_path):
    missing = tmp_path / "no" / "such" / "m.json"
    with pytest.raises(FileNotFoundError, match=f"the folder {tmp_path / 'no' / 'such'} does "
                                                f"not exist") as error:
        nn.save({"b": 1.0}, missing)
    assert ".tmp" not in str(error.value)
    with pytest.raises(IsADirectoryError, match="it is a folder"):
        nn.save({"b": 1.0}, tmp_path)
    (tmp_path / "file").write_text("x")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        nn.save({"b": 1.0}, tmp_path / "file" / "m.json")


@posix_only
def test_stale_temporaries_of_dead_processes_are_cleaned_by_the_next_save(tmp_path):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    dead_pid = int(dead.stdout)
    stale = tmp_path / f".m.json.{dead_pid}.0badc0de.tmp"
    live = tmp_path / f".m.json.{os.getppid()}.0123abcd.tmp"  # a save under way elsewhere
    other = tmp_path / f".other.json.{dead_pid}.0badc0de.tmp"  # not ours to clean
    for leftover in (stale, live, other):
        leftover.write_bytes(b'{"format": "chainrule.state_dict", "ver')
    nn.save({"b": 1.0}, tmp_path / "m.json")
    assert sorted(os.listdir(tmp_path)) == sorted(["m.json", live.name, other.name])


@posix_only
def test_kill_during_a_save_leaves_a_temporary_that_the_next_save_removes(tmp_path):
    """A process killed (SIGKILL) while writing: the old file is intact, the next save cleans."""
    import signal
    import subprocess
    import sys

    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)
    code = ("import os, signal, nn.serialization as s\n"
            "real = os.fsync\n"
            "def die(fd):\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n"
            "os.fsync = die\n"
            f"s.save({{'b': 2.0}}, {str(path)!r})\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True)
    assert run.returncode == -signal.SIGKILL
    leftovers = [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]
    assert len(leftovers) == 1 and nn.load(path) == {"b": 1.0}
    nn.save({"b": 3.0}, path)
    assert os.listdir(tmp_path) == ["m.json"] and nn.load(path) == {"b": 3.0}


def test_numpy_numbers_are_saved_as_plain_numbers(tmp_path):
    import numpy as np

    path = tmp_path / "m.json"
    nn.save({"w": [np.float32(0.5), np.float64(1.5)], "n": np.int64(3), "b": np.float16(2)},
            path)
    loaded = nn.load(path)
    assert loaded == {"w": [0.5, 1.5], "n": 3, "b": 2.0} and type(loaded["n"]) is int
    with pytest.raises(ValueError, match=r"state_dict\['x'\] is nan"):
        nn.save({"x": np.float32("nan")}, path)


# --- memory, cycles, duplicate keys, full disks (issue 20) ------------------------------------

def json_shapes(n=20_000):
    """JSON documents built to cost the most memory per byte, each shape of CPython's objects."""
    return {
        "empty objects": "[" + ",".join(["{}"] * n) + "]",
        "empty lists": "[" + ",".join(["[]"] * n) + "]",
        "nested lists": "[" + ",".join(["[[]]"] * n) + "]",
        "objects of objects": "{" + ",".join(f'"{i}":{{}}' for i in range(n)) + "}",
        "one-key objects": "[" + ",".join(['{"a":0}'] * n) + "]",
        "many keys": "{" + ",".join(f'"{i}":1' for i in range(n)) + "}",
        "short floats": "[" + ",".join(["0.5"] * n) + "]",
        "ints": "[" + ",".join(["1000"] * n) + "]",
        "short strings": "[" + ",".join(['"ab"'] * n) + "]",
        "astral strings": "[" + ",".join(['"a\U0001F600"'] * n) + "]",
        "a state dict": json.dumps({"format": FORMAT, "version": VERSION,
                                    "state_dict": MLP(2, [64, 64, 1], seed=0).state_dict()},
                                   separators=(",", ":")),  # as save writes it
    }


@pytest.mark.parametrize("shape", sorted(json_shapes()))
def test_memory_needed_bounds_what_parsing_takes(shape):
    import tracemalloc

    from nn.serialization import _finite, _unique_keys, memory_needed

    raw = json_shapes()[shape].encode()
    tracemalloc.start()
    try:
        document = json.loads(raw.decode(), parse_float=_finite, object_pairs_hook=_unique_keys)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del document
    assert peak <= memory_needed(raw) - len(raw)  # the bytes are already held
    if shape == "a state dict":  # and it is not far above it for the files we write
        assert memory_needed(raw) < 6 * len(raw)


def test_a_file_is_refused_for_the_memory_it_needs_not_only_its_bytes(tmp_path):
    path = write(tmp_path / "objects.json", b"[" + b"{}," * 300_000 + b"{}]")  # 900 kB
    with pytest.raises(ValueError, match=r"objects.json is not a chainrule state dict: reading "
                                         r"it would take about 38\.\d MB of memory .*more "
                                         r"than max_memory=10,000,000 "):
        nn.load(path, max_memory=10_000_000)
    floats = tmp_path / "floats.json"  # the same size in floats fits the same limit
    nn.save({"w": [0.125] * 150_000}, floats)
    assert floats.stat().st_size > path.stat().st_size
    assert nn.load(floats, max_memory=10_000_000) == {"w": [0.125] * 150_000}


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux's /proc")
def test_a_large_file_under_an_address_space_limit_is_refused_at_once(tmp_path):
    """The issue's case: a 192 MiB file of empty objects under a 3 GB limit (ulimit -v) ended
    in a bare MemoryError after 16 s; now a ValueError before parsing."""
    import subprocess
    import sys

    path = tmp_path / "objects.json"
    with open(path, "wb") as f:
        f.write(b"[")
        f.write(b"{}," * (192 * 2**20 // 3 - 1))
        f.write(b"{}]")
    code = ("import resource, sys, time, nn.serialization as s\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 10**9, resource.RLIM_INFINITY))\n"
            "start = time.process_time()\n"
            "for limit in (s.MAX_MEMORY, 2**40):\n"
            "    try:\n"
            f"        s.load({str(path)!r}, max_memory=limit)\n"
            "    except ValueError as error:\n"
            "        print(error)\n"
            "print(round(time.process_time() - start, 1))\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    by_limit, by_process, seconds = run.stdout.splitlines()
    assert "more than max_memory=4,294,967,296" in by_limit
    assert "more than this process can get now" in by_process and "ulimit -v" in by_process
    assert float(seconds) < 10  # CPU seconds, not wall time: CI machines are loaded


def test_running_out_of_memory_while_parsing_is_a_value_error(tmp_path, monkeypatch):
    import nn.serialization

    def exhausted(*args, **kwargs):
        raise MemoryError

    path = tmp_path / "m.json"
    nn.save({"w": [1.0, 2.0]}, path)
    monkeypatch.setattr(nn.serialization.json, "loads", exhausted)
    with pytest.raises(ValueError, match=r"m.json is not a chainrule state dict: the process ran "
                                         "out of memory while parsing it"):
        nn.load(path)


@pytest.mark.parametrize("data", [
    b'{"format": "chainrule.state_dict", "version": 1, "state_dict": {"w": 1.0, "w": 2.0}}',
    b'{"format": "chainrule.state_dict", "format": "x", "version": 1, "state_dict": {}}',
    b'{"format": "chainrule.state_dict", "version": 1, "state_dict": {"o": [{"w": 1, "w": 2}]}}',
])
def test_load_refuses_a_key_given_twice(tmp_path, data):
    key = "w" if b'"w": 2' in data else "format"
    with pytest.raises(ValueError, match=f"dup.json is not a chainrule state dict: the key "
                                         f"'{key}' appears twice in one object"):
        nn.load(write(tmp_path / "dup.json", data))


def test_save_refuses_a_state_dict_that_holds_itself(tmp_path):
    looped: dict = {"w": [1.0]}
    looped["self"] = looped
    listed: list = [1.0]
    listed.append(listed)
    for state, place in ((looped, r"\['self'\]"), ({"w": listed}, r"\['w'\]\[1\]")):
        with pytest.raises(ValueError, match=f"save to .*m.json: state_dict{place} holds itself"):
            nn.save(state, tmp_path / "m.json")
    assert os.listdir(tmp_path) == []


def test_save_refuses_a_state_dict_nested_too_deeply(tmp_path):
    from nn.serialization import MAX_DEPTH

    def nested(depth):
        value: object = 1.0
        for _ in range(depth):
            value = [value]
        return value

    path = tmp_path / "m.json"
    nn.save({"w": nested(MAX_DEPTH - 1)}, path)  # the deepest allowed: loads back
    assert nn.load(path) == {"w": nested(MAX_DEPTH - 1)}
    for depth in (MAX_DEPTH, 100_000):  # used to be a bare RecursionError
        with pytest.raises(ValueError, match=f"save to .*m.json: the state dict is nested more "
                                             f"than {MAX_DEPTH} levels deep"):
            nn.save({"w": nested(depth)}, path)


def test_save_refuses_a_mapping_that_gives_a_key_twice(tmp_path):
    from collections.abc import Mapping

    class Pairs(Mapping):  # a mapping whose items() repeats a key (the last would win)
        def __init__(self, pairs):
            self.pairs = pairs

        def __getitem__(self, key):
            return dict(self.pairs)[key]

        def __iter__(self):
            return (key for key, _ in self.pairs)

        def __len__(self):
            return len(self.pairs)

    with pytest.raises(ValueError, match=r"save to .*m.json: state_dict gives the key 'w' twice"):
        nn.save(Pairs([("w", 1.0), ("w", 2.0)]), tmp_path / "m.json")


def test_save_of_a_model_suggests_its_state_dict(tmp_path):
    model = MLP(2, [4, 1], seed=0)
    for obj, kind in ((model, "MLP"), (nn.SGD(model.parameters(), lr=0.1), "SGD")):
        with pytest.raises(TypeError, match=rf"got the {kind} itself; save what its "
                                            rf"state_dict\(\) returns: nn.save\(model.state_"):
            nn.save(obj, tmp_path / "m.json")


def test_a_full_disk_names_the_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    import errno

    path = tmp_path / "m.json"
    nn.save({"b": 1.0}, path)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=rf"cannot save to {path}: No space left on device \(the "
                                      rf"disk is full: [\d,]+ bytes to write\); the old "
                                      rf"{path} is unchanged") as error:
        nn.save({"b": [2.0] * 1000}, path)
    assert error.value.errno == errno.ENOSPC
    monkeypatch.undo()
    assert nn.load(path) == {"b": 1.0} and os.listdir(tmp_path) == ["m.json"]


@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_FSIZE is POSIX")
def test_a_file_size_limit_names_the_file(tmp_path):
    """A real write error from the kernel: ulimit -f (RLIMIT_FSIZE) below the file's size."""
    import subprocess
    import sys

    path = tmp_path / "m.json"
    code = ("import resource, nn\n"
            "resource.setrlimit(resource.RLIMIT_FSIZE, (1000, resource.RLIM_INFINITY))\n"
            "try:\n"
            f"    nn.save({{'w': [0.5] * 1000}}, {str(path)!r})\n"
            "except OSError as error:\n"
            "    print(error.errno, error)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("27 [Errno 27] cannot save to ")  # EFBIG
    assert f"{path}: File too large (a file-size limit, ulimit -f" in run.stdout
    assert "nothing was written" in run.stdout and os.listdir(tmp_path) == []
