"""``save`` and ``load``: state dicts in a plain JSON file, written atomically, never unpickled.

The file is one JSON object::

    {"format": "chainrule.state_dict", "version": 1, "state_dict": {"layers.0...": [...], ...}}

``save`` writes a temporary file next to the target, flushes it to disk and renames it over the
target (``os.replace``), so a crash leaves either the old file or the new one, never half of
one. ``load`` refuses anything else with a ``ValueError`` saying why: an empty or truncated file,
corrupt JSON, a pickle or a zip archive (a PyTorch checkpoint, say), a JSON file without the
format marker, or a version newer than this code reads.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import secrets
from collections.abc import Mapping
from typing import Any, Union

FORMAT = "chainrule.state_dict"
VERSION = 1

PathLike = Union[str, "os.PathLike[str]"]


def save(state_dict: Mapping[str, Any], path: PathLike) -> None:
    """Write ``state_dict`` (``model.state_dict()`` or an optimizer's) to ``path`` as JSON.

    The values may be numbers, strings, booleans, ``None`` and lists or dicts of them; numbers
    must be finite (JSON has no NaN or infinity).

    >>> import os, tempfile
    >>> from nn import MLP, load
    >>> model = MLP(2, [4, 1], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> save(model.state_dict(), path)
    >>> load(path) == model.state_dict()
    True
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"save: expected a state dict (a mapping), got {type(state_dict).__name__}")
    _check_json("state_dict", state_dict)
    text = json.dumps({"format": FORMAT, "version": VERSION, "state_dict": state_dict},
                      allow_nan=False, separators=(",", ":"))
    _write_atomically(os.fspath(path), (text + "\n").encode("utf-8"))


def load(path: PathLike) -> dict[str, Any]:
    """Read a state dict written by ``save``; a file that is not one raises ``ValueError``.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "torn.json")
    >>> with open(path, "w") as f:
    ...     _ = f.write('{"format": "chainrule.state_dict", "version": 1, "state_di')
    >>> load(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: ...torn.json is not a chainrule state dict: the JSON is truncated (it stops ...)
    """
    path = os.fspath(path)
    with open(path, "rb") as f:
        raw = f.read()

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{path} is not a chainrule state dict: {reason}")

    if not raw.strip():
        raise refuse("the file is empty")
    if raw[:1] == b"\x80":  # the opcode every pickle since protocol 2 starts with
        raise refuse("it looks like a Python pickle; chainrule files are JSON and chainrule "
                     "never unpickles anything")
    if raw[:4] == b"PK\x03\x04":
        raise refuse("it is a zip archive (a PyTorch checkpoint?); chainrule files are JSON")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"it is not UTF-8 text ({error.reason} at byte {error.start})") from None
    try:
        document = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            raise refuse(f"the JSON is truncated (it stops after {len(raw)} bytes, in the "
                         f"middle of the document)") from None
        raise refuse(f"corrupt JSON at line {error.lineno}, column {error.colno}: "
                     f"{error.msg}") from None
    except ValueError as error:
        raise refuse(str(error)) from None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise refuse(f"the JSON has no \"format\": \"{FORMAT}\" marker")
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise refuse(f"its version is {version!r}, not a positive integer")
    if version > VERSION:
        raise ValueError(f"{path} was written by a newer chainrule (format version {version}); "
                         f"this one reads version {VERSION}")
    state_dict = document.get("state_dict")
    if not isinstance(state_dict, dict):
        raise refuse("it has no \"state_dict\" object")
    return state_dict


def _no_constant(name: str) -> None:
    raise ValueError(f"it holds {name}, which is not a finite number")


def _check_json(where: str, x: Any) -> None:
    """Refuse what JSON cannot hold faithfully, naming where it is."""
    if x is None or isinstance(x, (str, bool, int)):
        return
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"save: {where} is {x}; only finite numbers can be saved")
        return
    if isinstance(x, Mapping):
        for key, value in x.items():
            if not isinstance(key, str):
                raise TypeError(f"save: {where} has the key {key!r}; keys must be strings")
            _check_json(f"{where}[{key!r}]", value)
        return
    if isinstance(x, (list, tuple)):
        for i, value in enumerate(x):
            _check_json(f"{where}[{i}]", value)
        return
    raise TypeError(f"save: {where} is a {type(x).__name__}; a state dict holds numbers, "
                    f"strings, booleans, None and lists or dicts of them")


def _write_atomically(path: str, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers only ever see the old or the new content."""
    directory = os.path.dirname(os.path.abspath(path))
    temporary = os.path.join(directory,
                             f".{os.path.basename(path)}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as open() gives
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    _fsync_directory(directory)


def _fsync_directory(directory: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
