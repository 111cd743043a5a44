"""Builds the compiled core (autograd/_core.c) where it can, and records what happened.

The extension is optional: where it is not built, installation still succeeds, the wheel is a
pure ``py3-none-any`` one, and chainrule runs on its pure-Python reference engine
(``autograd.implementation`` then says ``"python"``). Every build writes
``autograd/_build.json``: whether the core was built and, if not, why (not CPython,
free-threaded CPython, no C compiler, no Python headers, or the compiler's first error line).
``autograd._compiled.reason`` reads it; ``autograd/_install.py`` explains it.

pip hides a build backend's output unless run with ``-v``; when the core is not built, the
message is also written to the terminal (``/dev/tty``) where there is one, so that it shows.
"""

from __future__ import annotations

import json
import os
import re
import sys
import sysconfig
import tempfile
from contextlib import contextmanager
from typing import Iterator

from setuptools import Extension, setup
from setuptools.command.bdist_wheel import bdist_wheel
from setuptools.command.build_ext import build_ext
from setuptools.errors import PlatformError

# -ffp-contract=off: no fused multiply-add, so every result rounds exactly as Python's floats do
FLAGS = [] if sys.platform == "win32" else ["-O2", "-ffp-contract=off", "-std=c11"]
CORE = Extension("autograd._core", ["autograd/_core.c"], extra_compile_args=FLAGS)
RECORD = "_build.json"  # in the package autograd, beside the extension


def unsupported() -> tuple[str, str] | None:
    """``(why, detail)`` when this interpreter gets no compiled core, whatever the compiler."""
    if sys.implementation.name != "cpython":
        return "not CPython", f"{sys.implementation.name} {sys.version.split()[0]}"
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return "free-threaded CPython", f"{sys.version.split()[0]} built with --disable-gil"
    return None


@contextmanager
def captured(lines: list[str]) -> Iterator[None]:
    """Collect everything the compiler prints (file descriptors 1 and 2) into ``lines``, and
    pass it on to stderr as well, where ``pip -v`` shows it."""
    sys.stdout.flush()
    sys.stderr.flush()
    with tempfile.TemporaryFile() as log:
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            log.seek(0)
            text = log.read().decode(errors="replace")
            sys.stderr.write(text)
            lines.extend(text.splitlines())


def first_error(lines: list[str], error: Exception, commands: list[str]) -> str:
    """The compiler's first line that says ``error`` (``fatal error: Python.h: No such file``,
    ``_core.c:9:2: error: ...``), else its first line, else the exception's message. The lines
    that echo a command (``commands``: the compiler, the linker) and the build's own ``creating``
    lines are not the compiler's words."""
    said = [line.strip() for line in lines if line.strip()
            and line.split()[0] not in commands and not line.startswith("creating ")]
    for line in said:
        if re.search(r"\berror\b", line, re.IGNORECASE):
            return line
    return said[0] if said else str(error)


class BuildCore(build_ext):
    """build_ext that tries the compiled core, never fails the install, and records why not."""

    def run(self) -> None:
        inplace = self.inplace or self.editable_mode  # build_ext.run resets it when it fails
        record = self.try_core()
        if not record["built"]:  # the rest of the build (and the wheel's tag) sees no extension
            self.extensions = []
            self.distribution.ext_modules = []
        self.write_record(record, inplace)
        if not record["built"]:
            tell_the_user(record)

    def try_core(self) -> dict:
        facts = {"built": False, "python": sys.version.split()[0],
                 "implementation": sys.implementation.name}
        reason = unsupported()
        if reason:
            return {**facts, "why": reason[0], "detail": reason[1]}
        try:
            super().run()
            return {**facts, "built": True}
        except Exception as error:  # every failure is recorded, none is fatal
            if hasattr(self, "failure"):  # told apart by build_extension
                return {**facts, **self.failure}
            # before any compiling: setuptools found no compiler (no Visual C++ on Windows)
            why = "no compiler" if isinstance(error, PlatformError) else "the build failed"
            return {**facts, "why": why, "detail": str(error)}

    def build_extension(self, ext: Extension) -> None:
        """Compile a probe first, so that a missing compiler or missing headers are told apart
        from an error in _core.c."""
        lines: list[str] = []
        for why, code in (("no compiler", "int chainrule_probe(void) { return 0; }\n"),
                          ("no Python headers", "#include <Python.h>\n")):
            with tempfile.TemporaryDirectory() as folder:
                source = os.path.join(folder, "probe.c")
                with open(source, "w") as file:
                    file.write(code)
                try:
                    with captured(lines):
                        self.compiler.compile([source], output_dir=folder,
                                              include_dirs=self.include_dirs)
                except Exception as error:
                    self.failure = {"why": why, "detail": self.first_error(lines, error),
                                    "compiler": " ".join(self.compiler_command())}
                    raise
            lines.clear()
        try:
            with captured(lines):
                super().build_extension(ext)
        except Exception as error:
            self.failure = {"why": "the build failed", "detail": self.first_error(lines, error),
                            "compiler": " ".join(self.compiler_command())}
            raise

    def first_error(self, lines: list[str], error: Exception) -> str:
        commands = [getattr(self.compiler, name, None) or [""]
                    for name in ("compiler_so", "linker_so")]
        return first_error(lines, error, [command[0] for command in commands])

    def compiler_command(self) -> list[str]:
        return list(getattr(self.compiler, "compiler_so", None) or [type(self.compiler).__name__])

    def write_record(self, record: dict, inplace: bool) -> None:
        """``autograd/_build.json`` in the build folder (what the wheel ships) and, for an
        editable or in-place build, in the source folder too."""
        text = json.dumps(record, indent=1, sort_keys=True) + "\n"
        folders = [os.path.join(self.build_lib, "autograd")]
        if inplace:
            build_py = self.get_finalized_command("build_py")
            folders.append(os.path.abspath(build_py.get_package_dir("autograd")))
        for folder in folders:
            os.makedirs(folder, exist_ok=True)
            with open(os.path.join(folder, RECORD), "w") as file:
                file.write(text)

    def get_outputs(self) -> list[str]:
        return [*super().get_outputs(), os.path.join(self.build_lib, "autograd", RECORD)]


def tell_the_user(record: dict) -> None:
    """Say that the compiled core is not built: on stderr (``pip -v``, ``python -m build``)
    and on the terminal, the one place pip does not hide while it builds."""
    message = (f"\nchainrule: the compiled core is NOT built ({record['why']}: "
               f"{record['detail']}).\nchainrule: it installs and runs on its pure-Python "
               f"engine, several times slower; `python -c \"import autograd._compiled as c; "
               f"print(c.reason)\"` says what to do.\n")
    sys.stderr.write(message)
    try:
        with open("/dev/tty", "w") as terminal:
            terminal.write(message)
    except OSError:  # no terminal: pip -v, the log or the reason tell it
        pass


class Wheel(bdist_wheel):
    """A wheel is pure (``py3-none-any``) exactly when no extension was built."""

    @property
    def root_is_pure(self) -> bool:
        return not self.distribution.has_ext_modules()

    @root_is_pure.setter
    def root_is_pure(self, value: bool) -> None:
        pass  # decided by what build_ext built, after the build


if __name__ == "__main__":  # as setuptools runs it; tests/test_packaging.py imports it
    setup(ext_modules=[CORE], cmdclass={"build_ext": BuildCore, "bdist_wheel": Wheel})
