"""How this chainrule was built and installed: why the compiled core runs or not, and the pip
command that installs (or reinstalls) it the same way.

Two records, both written when chainrule was installed, never guessed afterwards:
``autograd/_build.json``, which ``setup.py`` writes on every build (built or not, and why not),
and pip's ``direct_url.json`` in the distribution's metadata (PEP 610), which says where it
came from: a folder (editable or not), a git repository, an archive — or, when absent, a
package index.

>>> install_command("nn").startswith("pip install ")
True
"""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType
from typing import Any

# what every `import autograd` pays is only this module's top; the rest imports when asked
PACKAGE = os.path.dirname(os.path.realpath(__file__))
RECORD = os.path.join(PACKAGE, "_build.json")
FORCE = "CHAINRULE_PURE_PYTHON"


def load_core() -> tuple[ModuleType | None, str]:
    """``(autograd._core, "")`` when the compiled core runs, else ``(None, why not)``.

    >>> core, reason = load_core()
    >>> (core is None) == bool(reason)
    True
    """
    if os.environ.get(FORCE, "") not in ("", "0"):
        return None, core_reason(forced=True)
    try:
        return importlib.import_module("autograd._core"), ""
    except ImportError as error:
        if isinstance(error, ModuleNotFoundError) and error.name != "autograd._core":
            raise  # something _core itself imports is missing: not a build question
        return None, core_reason(error)


def build_record() -> dict[str, Any] | None:
    """What ``setup.py`` recorded when it built this copy: ``{"built": bool, "why": ...,
    "detail": ..., "python": ...}``; None for a source folder nobody built.

    >>> record = build_record()
    >>> record is None or isinstance(record["built"], bool)
    True
    """
    import json

    try:
        with open(RECORD, encoding="utf-8") as file:
            record: dict[str, Any] = json.load(file)
            return record
    except (OSError, ValueError):
        return None


def core_reason(error: ImportError | None = None, forced: bool = False) -> str:
    """Why the compiled core does not run, and what to do, from the build record.

    >>> core_reason(forced=True).startswith("forced by CHAINRULE_PURE_PYTHON")
    True
    """
    if forced:
        return (f"forced by {FORCE} (={os.environ.get(FORCE, '1')} in the environment): the "
                f"pure-Python reference runs; unset {FORCE} for the compiled core")
    record = build_record()
    if record is None:
        return (f"not built: this autograd ({PACKAGE}) runs from a source folder that no build "
                f"went through (no _build.json); build it: {install_command(editable=True)}")
    why, detail = record.get("why", ""), record.get("detail", "")
    if record.get("built"):
        return (f"cannot be loaded: the compiled core was built (Python {record.get('python')}) "
                f"but does not load here: {error}; reinstall: {install_command(reinstall=True)}")
    if why == "not CPython":
        return (f"not CPython ({detail}): the compiled core is a CPython extension, so the "
                f"pure-Python reference runs here, with the same results; nothing to do")
    if why == "free-threaded CPython":
        return (f"free-threaded CPython ({detail}): the compiled core is not built for running "
                f"without the GIL, so the pure-Python reference runs; for the compiled core, "
                f"install chainrule into a standard (GIL) build of CPython")
    if origin().get("url", "").endswith(".whl"):  # reinstalling the same wheel builds nothing
        return (f"{why}: {detail} (when this wheel was built); the pure-Python reference runs. "
                f"For the compiled core, install chainrule from its source (a clone or the "
                f"sdist) where a C compiler is present")
    if why == "no compiler":
        return (f"no compiler: no working C compiler when chainrule was built ({detail}); "
                f"install one (Debian/Ubuntu: apt-get install gcc python3-dev; macOS: "
                f"xcode-select --install; Windows: Microsoft C++ Build Tools), then reinstall: "
                f"{install_command(reinstall=True)}")
    if why == "no Python headers":
        return (f"no Python headers: the C compiler found no Python.h when chainrule was built "
                f"({detail}); install them (Debian/Ubuntu: apt-get install python3-dev; Fedora: "
                f"dnf install python3-devel), then reinstall: {install_command(reinstall=True)}")
    return (f"the build failed: {detail}; the pure-Python reference runs. The whole compiler "
            f"output: {install_command(reinstall=True, verbose=True)}; please report it")


def origin() -> dict[str, str]:
    """Where this chainrule was installed from: ``{"kind": ..., "url" or "path": ...}``, the
    kind one of ``index``, ``folder``, ``editable``, ``vcs``, ``archive``, ``source`` (not
    installed: a folder on ``sys.path``).

    >>> origin()["kind"] in ("index", "folder", "editable", "vcs", "archive", "source")
    True
    """
    import json
    from importlib import metadata

    root = os.path.dirname(PACKAGE)
    for distribution in metadata.distributions(name="chainrule"):
        text = distribution.read_text("direct_url.json")
        direct = json.loads(text) if text else {}
        # an installer (pip, uv...) signs what it installed; a source tree's chainrule.egg-info,
        # left by a build and found on sys.path, says nothing about how this copy got here
        if (direct or distribution.read_text("INSTALLER")) and _is_this_copy(distribution,
                                                                            direct):
            break
    else:
        return {"kind": "source", "path": root}
    if not direct:
        return {"kind": "index", "version": distribution.version}
    url = direct.get("url", "")
    if "dir_info" in direct:
        kind = "editable" if direct["dir_info"].get("editable") else "folder"
        return {"kind": kind, "path": _path_of(url)}
    if "vcs_info" in direct:
        vcs = direct["vcs_info"]
        revision = vcs.get("requested_revision") or vcs.get("commit_id", "")
        return {"kind": "vcs", "url": f"{vcs.get('vcs', 'git')}+{url}"
                                      + (f"@{revision}" if revision else "")}
    return {"kind": "archive", "url": url}


def install_command(extras: str = "", reinstall: bool = False, editable: bool = False,
                    verbose: bool = False) -> str:
    """The pip command that installs chainrule (with ``extras``, e.g. ``"nn"``) the way this
    copy was installed: from the index, from the same folder (``-e`` when editable), from the
    same git repository or the same archive.

    ``reinstall`` rebuilds it in place (``--force-reinstall --no-deps``, and ``--no-cache-dir``
    where pip would otherwise reuse the wheel it built before).

    >>> install_command("nn", reinstall=True).startswith("pip install ")
    True
    """
    where = origin()
    kind = where["kind"]
    extra = f"[{extras}]" if extras else ""
    options = ["-v"] if verbose else []
    if editable or kind in ("editable", "source"):
        return " ".join(["pip install", *options, "-e", _quoted(where.get("path", "."), extra)])
    if reinstall:
        options += ["--force-reinstall", "--no-deps"]
        if kind != "folder":  # pip caches a wheel built from an index, a git commit, an archive
            options.append("--no-cache-dir")
    if kind == "index":
        version = f"=={where['version']}" if reinstall else ""
        target = _quoted(f"chainrule{extra}{version}")
    elif kind == "folder":
        target = _quoted(where["path"], extra)
    else:
        target = _quoted(f"chainrule{extra} @ {where['url']}")
    return " ".join(["pip install", *options, target])


def _is_this_copy(distribution: Any, direct: dict[str, Any]) -> bool:
    """Whether the installed distribution is the one this ``autograd`` belongs to."""
    if direct.get("dir_info", {}).get("editable"):
        return _path_of(direct["url"]) == os.path.dirname(PACKAGE)
    located = os.path.realpath(str(distribution.locate_file("autograd/__init__.py")))
    return located == os.path.join(PACKAGE, "__init__.py")


def _path_of(url: str) -> str:
    """The folder of a ``file://`` URL."""
    from urllib.parse import unquote, urlparse

    path = unquote(urlparse(url).path)
    if sys.platform == "win32" and path[:1] == "/" and path[2:3] == ":":
        path = path[1:]
    return os.path.realpath(path)


def _quoted(path: str, suffix: str = "") -> str:
    """A shell word: ``"..."`` where that is safe, else ``shlex.quote``."""
    import shlex

    word = path + suffix
    if not any(character in word for character in '"$`\\!'):
        return f'"{word}"' if (suffix or " " in word or "[" in word or "@" in word) else word
    return shlex.quote(word)
