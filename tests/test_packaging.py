"""Packages that install anywhere: what the sdist carries, what the wheel is, and what a build
without the compiled core says — in pip's output and in ``autograd._compiled.reason``.

The builds run in throwaway folders and virtual environments with this environment's
setuptools (the ``test`` extra brings it: venvs have none since Python 3.12), offline:
``--no-build-isolation --no-index``, nothing downloaded.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import venv
import zipfile
from pathlib import Path

import pytest

import autograd
from autograd import _install

ROOT = Path(autograd.__file__).resolve().parent.parent
SOURCE = ["setup.py", "pyproject.toml", "LICENSE", "docs/pypi.md", "MANIFEST.in"]
NEEDED_BY_THE_TESTS = ["tests/conftest.py", "tests/twin_cases.py", "tests/notebook_outputs.py",
                       "benchmarks/run.py", "benchmarks/reference/microgpt.py",
                       "notebooks/tiny_gpt.json", "examples/demo.py", "README.md"]

needs_setuptools = pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import setuptools, sys; "
                    "sys.exit(int(setuptools.__version__.split('.')[0]) < 77)"]).returncode != 0,
    reason="building needs setuptools>=77 here (the test extra installs it)")
posix_only = pytest.mark.skipif(os.name != "posix", reason="CC=/bin/false and a pty are POSIX's")
CORE_IS_WANTED = (sys.implementation.name == "cpython"
                  and not sysconfig.get_config_var("Py_GIL_DISABLED"))
HAS_A_COMPILER = shutil.which((sysconfig.get_config_var("CC") or "cc").split()[0]) is not None
compiles = pytest.mark.skipif(not (CORE_IS_WANTED and HAS_A_COMPILER), reason=(
    "no compiled core on this interpreter (not CPython, or free-threaded) or no C compiler"))


def copy_source(folder: Path) -> Path:
    """The packages and the files a build reads, as in a clone (no build outputs)."""
    for name in SOURCE:
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(ROOT / name, folder / name)
    for package in ("autograd", "nn"):
        (folder / package).mkdir()
        for path in (ROOT / package).iterdir():
            if path.suffix in (".py", ".c", ".typed"):
                shutil.copyfile(path, folder / package / path.name)
    return folder


class Env:
    """A throwaway venv without pip; its Python also sees this one's setuptools (a .pth line),
    to build with, and nothing else."""

    def __init__(self, folder: Path) -> None:
        import setuptools

        venv.create(folder, with_pip=False)
        self.python = str(folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        purelib = self.run("import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout
        lent = folder / "lent"
        lent.mkdir()
        folder = Path(setuptools.__file__).resolve().parent.parent
        for path in folder.iterdir():  # its dist-info too: setuptools' commands are entry points
            if path.name.startswith(("setuptools", "_distutils_hack", "pkg_resources")):
                (lent / path.name).symlink_to(path, target_is_directory=path.is_dir())
        Path(purelib.strip(), "outer.pth").write_text(f"{lent}\n")

    def pip(self, *args: str, **environment: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "pip", "--python", self.python, "--disable-pip-version-check",
             *args], capture_output=True, text=True, env={**clean_environment(), **environment},
            timeout=600)

    def install(self, source: Path, **environment: str) -> subprocess.CompletedProcess:
        result = self.pip("install", "--no-deps", "--no-build-isolation", "--no-index",
                          str(source), **environment)
        assert result.returncode == 0, result.stdout + result.stderr
        return result

    def run(self, code: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "-c", code], capture_output=True, text=True,
                              cwd=os.path.dirname(self.python), env=clean_environment())


def clean_environment() -> dict[str, str]:
    """This environment without what would change a build or the engine's choice."""
    return {name: value for name, value in os.environ.items() if name not in (
        "CHAINRULE_PURE_PYTHON", "PYTHONPATH", "CC", "CFLAGS", "PIP_REQUIRE_VIRTUALENV")}


REASON = ("import autograd, autograd._compiled as c, json; "
          "print(json.dumps([autograd.implementation, c.reason]))")


def reason_in(env: Env) -> tuple[str, str]:
    ran = env.run(REASON)
    assert ran.returncode == 0, ran.stderr
    implementation, reason = json.loads(ran.stdout)
    return implementation, reason


def pip_on_a_terminal(env: Env, *args: str, **environment: str) -> str:
    """What a person sees running pip in a terminal: pip with a pty as its terminal."""
    import pty

    command = [sys.executable, "-m", "pip", "--python", env.python,
               "--disable-pip-version-check", *args]
    pid, terminal = pty.fork()
    if pid == 0:  # the child: pip, with the pty as its controlling terminal
        os.execve(sys.executable, command, {**clean_environment(), **environment})
    seen = b""
    while True:
        try:
            chunk = os.read(terminal, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, seen.decode(errors="replace")
    return seen.decode(errors="replace").replace("\r", "")


@pytest.mark.slow
@posix_only
@needs_setuptools
@compiles
def test_without_a_compiler_a_pure_wheel_a_visible_warning_and_an_honest_reason(tmp_path):
    source = copy_source(tmp_path / "chainrule")
    env = Env(tmp_path / "env")
    shown = pip_on_a_terminal(env, "install", "--no-deps", "--no-build-isolation", "--no-index",
                              str(source), CC="/bin/false")
    assert ("chainrule: the compiled core is NOT built (no compiler: command '/bin/false' "
            "failed with exit code 1)") in shown
    assert "Created wheel for chainrule: filename=chainrule-0.1.0-py3-none-any.whl" in shown
    implementation, reason = reason_in(env)
    assert implementation == "python"
    assert reason.startswith("no compiler: no working C compiler when chainrule was built "
                             "(command '/bin/false' failed with exit code 1); install one")
    # installed from a folder, not editable: the advice reinstalls from that folder
    assert reason.endswith(f'then reinstall: pip install --force-reinstall --no-deps {source}')
    assert "-e" not in reason.split()

    # without a terminal (a CI log) pip still names the pure wheel; the message needs -v
    quiet = env.pip("install", "--force-reinstall", "--no-deps", "--no-build-isolation",
                    "--no-index", str(source), CC="/bin/false")
    assert "chainrule-0.1.0-py3-none-any.whl" in quiet.stdout
    loud = env.pip("install", "-v", "--force-reinstall", "--no-deps", "--no-build-isolation",
                   "--no-index", str(source), CC="/bin/false")
    assert "the compiled core is NOT built (no compiler" in loud.stdout + loud.stderr

    # a compiler again: the same command gives the compiled core
    again = env.pip("install", "--force-reinstall", "--no-deps", "--no-build-isolation",
                    "--no-index", str(source))
    assert again.returncode == 0, again.stdout + again.stderr
    assert reason_in(env) == ("compiled", "")


@pytest.mark.slow
@posix_only
@needs_setuptools
@compiles
def test_an_error_in_the_c_source_gives_the_build_failed_and_its_first_line(tmp_path):
    source = copy_source(tmp_path / "chainrule")
    core = source / "autograd" / "_core.c"
    core.write_text("#error chainrule: a deliberate error\n" + core.read_text())
    env = Env(tmp_path / "env")
    installed = env.install(source)
    assert "py3-none-any.whl" in installed.stdout
    implementation, reason = reason_in(env)
    assert implementation == "python"
    first_line, _, advice = reason.partition("; ")
    assert first_line.startswith("the build failed: autograd/_core.c:1:2: error: #error")
    assert first_line.endswith("chainrule: a deliberate error")
    assert advice == ("the pure-Python reference runs. The whole compiler output: "
                      f"pip install -v --force-reinstall --no-deps {source}; please report it")


@pytest.mark.slow
@needs_setuptools
def test_the_sdist_carries_the_tests_and_builds_a_wheel_without_the_c_source(tmp_path):
    build = ("import sys; from setuptools import build_meta as b; "
             "print(getattr(b, 'build_' + sys.argv[1])(sys.argv[2]))")
    copy = tmp_path / "clone"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(
        ".venv*", ".git", "build", "dist", "*.egg-info", "__pycache__", "*.so", "_build.json",
        ".pytest_cache", ".ruff_cache", ".hypothesis", "results"))
    made = subprocess.run([sys.executable, "-c", build, "sdist", str(tmp_path)], cwd=copy,
                          capture_output=True, text=True, env=clean_environment(), timeout=600)
    assert made.returncode == 0, made.stderr
    sdist = tmp_path / made.stdout.strip().splitlines()[-1]
    with tarfile.open(sdist) as archive:
        names = {name.partition("/")[2] for name in archive.getnames()}
        safe = {"filter": "data"} if hasattr(tarfile, "data_filter") else {}
        archive.extractall(tmp_path / "unpacked", **safe)
    tracked = [path.relative_to(ROOT).as_posix() for folder in (
        "tests", "notebooks", "docs", "benchmarks", "autograd", "nn")
        for path in (ROOT / folder).rglob("*") if path.is_file()
        and "__pycache__" not in path.parts and path.suffix not in (".so", ".pyc")
        and path.name not in ("_build.json", ".gitkeep")]
    assert set(NEEDED_BY_THE_TESTS) <= names
    assert set(tracked) - names == set()
    assert not [name for name in names if name.endswith((".so", ".pyc", "_build.json"))]

    unpacked = tmp_path / "unpacked" / sdist.name.removesuffix(".tar.gz")
    made = subprocess.run([sys.executable, "-c", build, "wheel", str(tmp_path)], cwd=unpacked,
                          capture_output=True, text=True, env=clean_environment(), timeout=600)
    assert made.returncode == 0, made.stderr
    wheel = tmp_path / made.stdout.strip().splitlines()[-1]
    with zipfile.ZipFile(wheel) as archive:
        members = archive.namelist()
        record = json.loads(archive.read("autograd/_build.json"))
    if CORE_IS_WANTED:
        assert record["built"] and "-none-any" not in wheel.name
        assert [name for name in members if name.startswith("autograd/_core.")
                and not name.endswith(".c")]
    else:  # no compiled core on this interpreter: a pure wheel that says why
        assert not record["built"] and wheel.name.endswith("-py3-none-any.whl")
    assert not [name for name in members if name.endswith(".c")]


@pytest.mark.parametrize(("implementation", "gil_disabled", "expected"), [
    ("cpython", None, None), ("cpython", 0, None),
    ("cpython", 1, "free-threaded CPython"), ("pypy", None, "not CPython"),
    ("graalpy", None, "not CPython")])
def test_setup_builds_the_core_only_on_cpython_with_the_gil(monkeypatch, implementation,
                                                            gil_disabled, expected):
    import runpy
    import types

    setup = runpy.run_path(str(ROOT / "setup.py"), run_name="setup_under_test")
    monkeypatch.setattr(sys, "implementation", types.SimpleNamespace(name=implementation))
    monkeypatch.setattr(sysconfig, "get_config_var",
                        lambda name: gil_disabled if name == "Py_GIL_DISABLED" else None)
    found = setup["unsupported"]()
    assert (found and found[0]) == expected
    if found:
        assert found[1].startswith(implementation if expected == "not CPython" else "3.")


# --- the reason and the hints, from records and origins made here ------------------------


@pytest.fixture
def installed_from(monkeypatch):
    """Make autograd._install see a given origin (what pip's direct_url.json would say)."""
    def set_origin(**where: str) -> None:
        monkeypatch.setattr(_install, "origin", lambda: dict(where))
    return set_origin


@pytest.mark.parametrize(("where", "extras", "reinstall"), [
    ({"kind": "index", "version": "0.1.0"}, 'pip install "chainrule[nn]"',
     "pip install --force-reinstall --no-deps --no-cache-dir chainrule==0.1.0"),
    ({"kind": "folder", "path": "/src/chainrule"}, 'pip install "/src/chainrule[nn]"',
     "pip install --force-reinstall --no-deps /src/chainrule"),
    ({"kind": "editable", "path": "/src/chainrule"}, 'pip install -e "/src/chainrule[nn]"',
     "pip install -e /src/chainrule"),
    ({"kind": "vcs", "url": "git+https://example.org/chainrule.git@v1"},
     'pip install "chainrule[nn] @ git+https://example.org/chainrule.git@v1"',
     'pip install --force-reinstall --no-deps --no-cache-dir '
     '"chainrule @ git+https://example.org/chainrule.git@v1"'),
    ({"kind": "archive", "url": "file:///tmp/chainrule-0.1.0.tar.gz"},
     'pip install "chainrule[nn] @ file:///tmp/chainrule-0.1.0.tar.gz"',
     'pip install --force-reinstall --no-deps --no-cache-dir '
     '"chainrule @ file:///tmp/chainrule-0.1.0.tar.gz"'),
    ({"kind": "source", "path": "/src/my chainrule"}, 'pip install -e "/src/my chainrule[nn]"',
     'pip install -e "/src/my chainrule"'),
])
def test_the_install_command_follows_the_way_chainrule_was_installed(
        installed_from, where, extras, reinstall):
    installed_from(**where)
    assert _install.install_command("nn") == extras
    assert _install.install_command(reinstall=True) == reinstall


@pytest.mark.parametrize(("record", "start", "advice"), [
    ({"built": False, "why": "not CPython", "detail": "pypy 3.11.13"},
     "not CPython (pypy 3.11.13): the compiled core is a CPython extension", "nothing to do"),
    ({"built": False, "why": "free-threaded CPython", "detail": "3.14.0 built with --disable-gil"},
     "free-threaded CPython (3.14.0 built with --disable-gil): the compiled core is not built "
     "for running without the GIL", "a standard (GIL) build of CPython"),
    ({"built": False, "why": "no compiler", "detail": "command 'cc' failed: No such file"},
     "no compiler: no working C compiler when chainrule was built (command 'cc' failed",
     "then reinstall: pip install --force-reinstall --no-deps /src/chainrule"),
    ({"built": False, "why": "no Python headers", "detail": "fatal error: Python.h: No such file"},
     "no Python headers: the C compiler found no Python.h", "apt-get install python3-dev"),
    ({"built": False, "why": "the build failed", "detail": "_core.c:9:1: error: oops"},
     "the build failed: _core.c:9:1: error: oops;",
     "pip install -v --force-reinstall --no-deps /src/chainrule; please report it"),
    ({"built": True, "python": "3.11.7"}, "cannot be loaded: the compiled core was built "
     "(Python 3.11.7) but does not load here: boom", "--force-reinstall"),
    (None, "not built: this autograd", "pip install -e"),
])
def test_the_reason_names_the_cause_and_advice_that_fits(installed_from, monkeypatch, record,
                                                         start, advice):
    installed_from(kind="folder", path="/src/chainrule")
    monkeypatch.setattr(_install, "build_record", lambda: record)
    reason = _install.core_reason(ImportError("boom"))
    assert reason.startswith(start) and advice in reason, reason


def test_forced_by_the_environment(monkeypatch):
    monkeypatch.setenv("CHAINRULE_PURE_PYTHON", "1")
    core, reason = _install.load_core()
    assert core is None
    assert reason == ("forced by CHAINRULE_PURE_PYTHON (=1 in the environment): the pure-Python "
                      "reference runs; unset CHAINRULE_PURE_PYTHON for the compiled core")


def test_a_wheel_without_the_core_is_not_reinstalled_as_the_fix(installed_from, monkeypatch):
    installed_from(kind="archive", url="file:///w/chainrule-0.1.0-py3-none-any.whl")
    monkeypatch.setattr(_install, "build_record", lambda: {
        "built": False, "why": "no compiler", "detail": "command 'cc' failed"})
    assert _install.core_reason() == (
        "no compiler: command 'cc' failed (when this wheel was built); the pure-Python "
        "reference runs. For the compiled core, install chainrule from its source (a clone or "
        "the sdist) where a C compiler is present")


def test_this_install_is_recognised():
    """The suite's own chainrule: its origin matches where autograd is imported from."""
    where = _install.origin()
    if where["kind"] in ("editable", "source"):
        assert where["path"] == str(ROOT)
    record = _install.build_record()
    if autograd.implementation == "compiled":
        assert record is not None and record["built"]
