"""``save`` and ``load``: state dicts in a plain JSON file, written atomically, never unpickled.

The file is one JSON object::

    {"format": "chainrule.state_dict", "version": 1, "state_dict": {"layers.0...": [...], ...}}

``save`` writes a temporary file next to the target, flushes it to disk and renames it over the
target (``os.replace``), so a crash leaves either the old file or the new one, never half of one.
It keeps what the user set on the target:

- an existing file keeps its permission bits (a ``0600`` checkpoint stays ``0600``), and its
  owner where the process may set it; a new file gets the mode ``open()`` would give it;
- a read-only file (no write permission) is refused with ``PermissionError``, not replaced;
- a symbolic link is written through: the file it points to gets the new content and the link
  stays a link (the temporary file is made next to that file, so the rename stays atomic);
- a folder, a missing folder and anything that is not a regular file are refused, naming the
  path, before anything is written.

A crash (kill -9, power loss) can leave a temporary file ``.<name>.<pid>.<hex>.tmp`` behind; the
next ``save`` to the same path deletes those whose process is gone.

A write that fails part way (a full disk, a quota, a file-size limit) raises the ``OSError``
of its kind (its ``errno`` kept) naming the file, and the old file is left as it was.

``load`` refuses anything else with a ``ValueError`` saying why: an empty or truncated file,
corrupt JSON, a pickle of any protocol or a zip archive (a PyTorch checkpoint, say), a number
that is not finite (``NaN``, ``Infinity``, ``1e999``), JSON nested deeper than a state dict
ever is, a key that appears twice in one object, a file larger than ``max_bytes``, a file whose
objects would take more than ``max_memory`` (or more memory than the process can get), a JSON
file without the format marker, or a version newer than this code reads.

Memory is bounded before parsing: ``memory_needed`` estimates from the file's bytes and
punctuation what its Python objects will take (an empty ``{}`` takes 3 bytes in the file and
about 72 in memory), an upper bound for any JSON.
"""

from __future__ import annotations

import contextlib
import errno
import json
import math
import numbers
import os
import pickletools
import re
import secrets
import stat
import time
from collections.abc import Mapping
from typing import Any, Union

FORMAT = "chainrule.state_dict"
VERSION = 1

MAX_BYTES = 2**30
"""``load``'s default size limit (1 GiB): an Adam state for ten million parameters fits."""

MAX_MEMORY = 4 * 2**30
"""``load``'s default memory limit (4 GiB): enough for a file of about 800 MB of floats.

Refused files need more by ``memory_needed``'s estimate, which bounds what parsing takes."""

MAX_DEPTH = 100
"""How deeply ``save`` lets lists and dicts nest (a state dict nests two or three levels)."""

PathLike = Union[str, "os.PathLike[str]"]

_HEAD = 1 << 16  # bytes read to recognise a file before reading all of it
_JSON_STARTS = b'{["-0123456789tfn'
_STALE_SECONDS = 24 * 3600  # a temporary file this old is left over whatever its process


def save(state_dict: Mapping[str, Any], path: PathLike) -> None:
    """Write ``state_dict`` (``model.state_dict()`` or an optimizer's) to ``path`` as JSON.

    The values may be numbers (any real number: ``int``, ``float``, numpy's scalars), strings,
    booleans, ``None`` and lists or dicts of them; numbers must be finite (JSON has no NaN or
    infinity). The folder must exist. See the module doc for permissions and symbolic links.

    >>> import os, tempfile
    >>> from nn import MLP, load
    >>> model = MLP(2, [4, 1], seed=0)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.json")
    >>> save(model.state_dict(), path)
    >>> load(path) == model.state_dict()
    True
    >>> save(model, path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    TypeError: save: expected a state dict (a mapping), got the MLP itself; save what its ...
    """
    where = f"save to {os.fspath(path)}"
    if not isinstance(state_dict, Mapping):
        kind = type(state_dict).__name__
        if callable(getattr(state_dict, "state_dict", None)):  # a model or an optimizer
            raise TypeError(f"save: expected a state dict (a mapping), got the {kind} itself; "
                            f"save what its state_dict() returns: "
                            f"nn.save(model.state_dict(), path)")
        raise TypeError(f"save: expected a state dict (a mapping), got {kind}")
    document = {"format": FORMAT, "version": VERSION,
                "state_dict": _plain(where, "state_dict", state_dict, ())}
    text = json.dumps(document, allow_nan=False, separators=(",", ":"))
    write_atomically(path, (text + "\n").encode("utf-8"))


def check_target(path: PathLike) -> str:
    """The file ``save(..., path)`` writes (``path``, or the file its symlink points to).

    Raises an ``OSError`` naming the problem if it could not be written: ``path`` is a folder or
    not a regular file (``IsADirectoryError``, ``OSError``), its folder does not exist
    (``FileNotFoundError``), or the file or its folder is read-only (``PermissionError``).

    >>> import os, tempfile
    >>> check_target(os.path.join(tempfile.mkdtemp(), "missing", "m.json"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    FileNotFoundError: cannot save to .../missing/m.json: the folder .../missing does not exist
    """
    path = os.fspath(path)
    target = os.path.realpath(path) if os.path.islink(path) else path
    where = f"cannot save to {path}" + (f" (a link to {target})" if target != path else "")
    if os.path.isdir(target):
        raise IsADirectoryError(f"{where}: it is a folder, not a file name")
    directory = os.path.dirname(os.path.abspath(target))
    if not os.path.isdir(directory):
        if os.path.exists(directory):
            raise NotADirectoryError(f"{where}: {directory} is a file, not a folder")
        raise FileNotFoundError(f"{where}: the folder {directory} does not exist")
    if os.path.exists(target):
        mode = os.stat(target).st_mode
        if not stat.S_ISREG(mode):
            raise OSError(f"{where}: it is not a regular file")
        if not mode & 0o222 or not os.access(target, os.W_OK):
            raise PermissionError(f"{where}: the file is read-only (mode "
                                  f"{stat.S_IMODE(mode):04o}); chainrule does not replace a "
                                  f"read-only file: make it writable or save elsewhere")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(f"{where}: no permission to create files in {directory}")
    return target


def load(path: PathLike, *, max_bytes: int = MAX_BYTES,
         max_memory: int = MAX_MEMORY) -> dict[str, Any]:
    """Read a state dict written by ``save``; a file that is not one raises ``ValueError``.

    Files larger than ``max_bytes`` are refused before being read; files whose objects would
    take more than ``max_memory`` bytes (``memory_needed``), or more than the process can still
    get (the address-space limit, ``ulimit -v``, or the machine's free memory), before parsing.

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

    def refuse(reason: str) -> ValueError:
        return ValueError(f"{path} is not a chainrule state dict: {reason}")

    too_big = f"it is larger than max_bytes={max_bytes:,} (pass a larger max_bytes to read it)"
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size > max_bytes:
            raise refuse(too_big)
        raw = f.read(min(_HEAD, max_bytes + 1))
        start = raw.lstrip()[:1]
        if not start and len(raw) < min(_HEAD, max_bytes + 1):
            raise refuse("the file is empty")
        if start and start not in _JSON_STARTS:  # not JSON: say what it is, read no further
            raise refuse(_what_it_is(raw))
        raw += f.read(max_bytes + 1 - len(raw))
    if len(raw) > max_bytes:
        raise refuse(too_big)
    if not raw.strip():
        raise refuse("the file is empty")
    needed = memory_needed(raw)
    if needed > max_memory:
        raise refuse(f"reading it would take about {_size(needed)} of memory (an upper "
                     f"estimate from its size and structure), more than max_memory="
                     f"{max_memory:,} (pass a larger max_memory to read it)")
    available = _available_memory()
    if available is not None and needed > available:
        raise refuse(f"reading it would take about {_size(needed)} of memory (an upper "
                     f"estimate from its size and structure), more than this process can get "
                     f"now (about {_size(available)}: the free memory, or the address-space "
                     f"limit of ulimit -v)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise refuse(f"it is not UTF-8 text ({error.reason} at byte {error.start})") from None
    size = len(raw)
    del raw  # parsing holds the text and the objects, not the bytes too
    try:
        document = json.loads(text, parse_constant=_no_constant, parse_float=_finite,
                              object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            raise refuse(f"the JSON is truncated (it stops after {size} bytes, in the "
                         f"middle of the document)") from None
        raise refuse(f"corrupt JSON at line {error.lineno}, column {error.colno}: "
                     f"{error.msg}") from None
    except RecursionError:
        raise refuse("the JSON is nested too deeply (a state dict is a few levels deep)") \
            from None
    except MemoryError:
        raise refuse(f"the process ran out of memory while parsing it (it needs about "
                     f"{_size(needed)} by the estimate)") from None
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


def memory_needed(raw: bytes) -> int:
    """An upper estimate, in bytes, of the memory ``load`` needs to parse the JSON ``raw``.

    Counted from the bytes and the punctuation, before parsing: the text (up to four bytes a
    character for text that is not ASCII), and per ``{``, ``[``, ``,``, ``:`` and ``"`` the
    most that CPython's objects for it take (a dict, a list, a list slot and a number, a dict
    entry, a string). A file of floats is estimated at about five times its size; an empty
    ``{}`` in a list, 3 bytes of file, needs 72 (estimated 120).

    >>> memory_needed(b"[0.5, 0.25]") < 200 < memory_needed(b"[{}, {}, {}]")
    True
    """
    text = len(raw) if raw.isascii() else 4 * len(raw)
    return (len(raw) + 2 * text + _DICT * raw.count(b"{") + _LIST * raw.count(b"[")
            + _ITEM * raw.count(b",") + _ENTRY * raw.count(b":") + _QUOTE * raw.count(b'"'))


# The most memory one occurrence of each character can cost once parsed, in bytes (64-bit
# CPython, measured with tracemalloc; see tests/test_nn_serialization.py)
_DICT = 80  # an empty dict and the slot holding it
_LIST = 72  # an empty list and its slot
_ITEM = 40  # one more item: its slot (lists grow by an eighth) and a float or an int
_ENTRY = 120  # one more dict entry, and its (key, value) pair while the object is built
_QUOTE = 40  # half a string's object header (its characters are counted with the text)


def _size(n: int) -> str:
    """``n`` bytes for people: ``'1.5 GB'``."""
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _available_memory() -> int | None:
    """Bytes this process can still allocate, where the system says (Linux), else ``None``.

    The smaller of the free memory (``MemAvailable`` and free swap in ``/proc/meminfo``) and,
    under an address-space limit (``ulimit -v``), what is left below it.
    """
    limits = []
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as f:
            info = {line.split(":")[0]: int(line.split()[1]) * 1024 for line in f}
        limits.append(info["MemAvailable"] + info.get("SwapFree", 0))
    with contextlib.suppress(ImportError, OSError, ValueError, KeyError):
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/statm") as f:
                used = int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
            limits.append(max(soft - used, 0))
    return min(limits) if limits else None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object as a dict, refusing a key it holds twice (``json`` would keep the last)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"the key {twice!r} appears twice in one object (JSON would keep "
                         f"only the last; a chainrule file never repeats a key)")
    return obj


def _what_it_is(head: bytes) -> str:
    """Why bytes that cannot start a JSON document are refused: a pickle, a zip, or else."""
    if head[:4] == b"PK\x03\x04":
        return "it is a zip archive (a PyTorch checkpoint?); chainrule files are JSON"
    if _looks_like_a_pickle(head):
        return ("it is a Python pickle; chainrule files are JSON and chainrule never unpickles "
                "anything")
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as error:
        if error.end < len(head):  # not merely a character cut in two by the head's end
            return f"it is not UTF-8 text ({error.reason} at byte {error.start})"
    return f"it is not JSON (it starts with {head[:8]!r})"


def _looks_like_a_pickle(head: bytes) -> bool:
    """Whether ``head`` reads as pickle opcodes (any protocol) up to STOP or to its end.

    ``pickletools.genops`` only decodes the opcodes; nothing is executed or imported.
    """
    count = 0
    try:
        for opcode, _, _ in pickletools.genops(head):
            count += 1
            if opcode.name == "STOP":
                return True
    except ValueError as error:  # an unknown opcode, or a stream cut short by the head's size
        return count >= 2 and "unknown" not in str(error)
    return False


def _no_constant(name: str) -> None:
    raise ValueError(f"it holds {name}, which is not a finite number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"it holds {text}, which is not a finite number (too large for a "
                         f"float)")
    return number


def _plain(where: str, name: str, x: Any, path: tuple[int, ...]) -> Any:
    """``x`` as plain JSON data (numpy's scalars become int or float), or an error saying where
    it holds what JSON cannot hold faithfully. ``where`` is ``save to PATH``, ``name`` the
    place in the state dict (``state_dict['w'][1]``), ``path`` the ids of the containers
    around it (to refuse a container that holds itself)."""
    if x is None or isinstance(x, (str, bool, int)):
        return x
    if isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"{where}: {name} is {x}; only finite numbers can be saved")
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if isinstance(x, numbers.Real):
        return _plain(where, name, float(x), path)
    if not isinstance(x, (Mapping, list, tuple)):
        raise TypeError(f"{where}: {name} is a {type(x).__name__}; a state dict holds numbers, "
                        f"strings, booleans, None and lists or dicts of them")
    if id(x) in path:
        raise ValueError(f"{where}: {name} holds itself (a {type(x).__name__} that contains "
                         f"itself cannot be written as JSON)")
    if len(path) >= MAX_DEPTH:
        raise ValueError(f"{where}: the state dict is nested more than {MAX_DEPTH} levels deep "
                         f"(at {name[:60]}...); a state dict is a few levels deep")
    inner = (*path, id(x))
    if isinstance(x, Mapping):
        plain = {}
        for key, value in x.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: {name} has the key {key!r}; keys must be strings")
            if key in plain:
                raise ValueError(f"{where}: {name} gives the key {key!r} twice; a JSON object "
                                 f"holds each key once")
            plain[key] = _plain(where, f"{name}[{key!r}]", value, inner)
        return plain
    return [_plain(where, f"{name}[{i}]", value, inner) for i, value in enumerate(x)]


def write_atomically(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers only ever see the old or the new content.

    ``save`` writes through it, and so do the plots; ``check_target`` runs first, and the
    module doc says what happens to permissions, symbolic links and temporary files.

    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "note.txt")
    >>> write_atomically(path, b"hello"); open(path, "rb").read()
    b'hello'
    """
    path = check_target(path)
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        old = os.stat(path)
    except FileNotFoundError:
        old = None
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # mode as open() gives
    try:
        with os.fdopen(fd, "wb") as f:
            if old is not None:  # the replacement keeps the target's permissions and owner
                os.chmod(temporary, stat.S_IMODE(old.st_mode))
                if hasattr(os, "chown"):
                    with contextlib.suppress(OSError):
                        os.chown(temporary, old.st_uid, old.st_gid)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        if isinstance(error, OSError):
            raise _naming(error, path, len(data), old is not None) from error
        raise
    _fsync_directory(directory)
    _remove_stale_temporaries(directory, name)


def _naming(error: OSError, path: str, size: int, existed: bool) -> OSError:
    """``error`` again (its class and ``errno``), its message naming ``path`` and what is left.

    >>> str(_naming(OSError(28, "No space left on device"), "m.json", 2000, True))
    '[Errno 28] cannot save to m.json: No space left on device (the disk is full: 2,000 bytes \
to write); the old m.json is unchanged'
    """
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += f" (the disk is full: {size:,} bytes to write)"
    elif error.errno == errno.EFBIG:
        reason += f" (a file-size limit, ulimit -f, is below the {size:,} bytes to write)"
    left = f"the old {path} is unchanged" if existed else "nothing was written"
    message = f"cannot save to {path}: {reason}; {left}"
    return type(error)(error.errno, message) if error.errno else type(error)(message)


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Delete the temporary files earlier saves to ``name`` left when their process died."""
    pattern = re.compile(rf"\.{re.escape(name)}\.(\d+)\.[0-9a-f]{{8}}\.tmp")
    with contextlib.suppress(OSError):
        for entry in os.scandir(directory):
            match = pattern.fullmatch(entry.name)
            if match and _is_stale(int(match.group(1)), entry):
                with contextlib.suppress(OSError):
                    os.unlink(entry.path)


def _is_stale(pid: int, entry: os.DirEntry) -> bool:
    with contextlib.suppress(OSError):
        if time.time() - entry.stat(follow_symlinks=False).st_mtime > _STALE_SECONDS:
            return True
    if os.name != "posix" or pid == os.getpid():  # another thread's save may be under way
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # it exists, under another user
        return False
    return False


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
