"""chainrule and HIPS autograd both install a package named ``autograd``, and chainrule and
PyPI's ``nn`` (a Keras wrapper) both install ``nn``: the clashes are loud.

Each test builds throwaway virtual environments and installs, in both orders, wheels made here:
chainrule's real ``autograd`` and ``nn`` sources, and stand-ins for HIPS autograd (an
``autograd`` package with its own ``__init__.py``) and for PyPI's nn (an ``nn`` package whose
``__init__.py`` imports tensorflow, as that one does). Nothing is downloaded.
"""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from types import ModuleType

import numpy
import pytest

import autograd

pytestmark = pytest.mark.slow  # a few seconds: two venvs and several pip installs

ROOT = Path(autograd.__file__).resolve().parent.parent
HIPS_INIT = '"""A stand-in for HIPS autograd."""\n\n\ndef grad(fun):\n    return fun\n'
PYPI_NN_INIT = '"""A stand-in for PyPI\'s nn."""\n\nfrom tensorflow.keras import *  # noqa\n'


def wheel(folder: Path, name: str, files: dict[str, str]) -> Path:
    """A wheel of ``files`` (path -> text) for distribution ``name`` 1.0, built by hand."""
    info = f"{name}-1.0.dist-info"
    files = {**files,
             f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
             f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                              "Tag: py3-none-any\n"}
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    path = folder / f"{name}-1.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wheels")
    ours = {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
            for package in ("autograd", "nn") for p in sorted((ROOT / package).glob("*.py"))}
    hips = {"autograd/__init__.py": HIPS_INIT, "autograd/core.py": "VSPACES = {}\n"}
    pypi_nn = {"nn/__init__.py": PYPI_NN_INIT, "nn/core.py": "import tensorflow as tf\n"}
    return {"chainrule": wheel(folder, "chainrule", ours),
            "autograd": wheel(folder, "autograd", hips), "nn": wheel(folder, "nn", pypi_nn)}


def only(folder: Path, *modules: ModuleType) -> Path:
    """A folder holding links to ``modules`` (and their ``.libs``) and nothing else: a path
    entry that lends another Python these packages, never this one's chainrule."""
    folder.mkdir()
    for module in modules:
        package = Path(module.__file__).resolve().parent
        for name in (package.name, f"{package.name}.libs"):
            if (package.parent / name).exists():
                (folder / name).symlink_to(package.parent / name, target_is_directory=True)
    return folder


class Env:
    """A throwaway venv; its Python also sees this one's numpy (a .pth line), nothing else."""

    def __init__(self, folder: Path) -> None:
        venv.create(folder, with_pip=False)
        self.python = str(folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python"))
        purelib = self.run("import sysconfig; print(sysconfig.get_paths()['purelib'])").stdout
        lent = only(folder / "lent", numpy)
        Path(purelib.strip(), "outer.pth").write_text(f"{lent}\n")

    def pip(self, *args: str) -> None:
        subprocess.run([sys.executable, "-m", "pip", "--python", self.python, "--quiet",
                        "--disable-pip-version-check", *args], check=True, capture_output=True)

    def install(self, wheel: Path) -> None:
        self.pip("install", "--no-index", "--no-deps", "--force-reinstall", "--no-compile",
                 str(wheel))

    def run(self, code: str) -> subprocess.CompletedProcess:
        return subprocess.run([self.python, "-c", code], capture_output=True, text=True,
                              cwd=os.path.dirname(self.python), env={"PATH": os.environ["PATH"]})


def test_hips_installed_after_chainrule_stops_nn_with_the_fix(tmp_path, wheels):
    env = Env(tmp_path / "env")
    env.install(wheels["chainrule"])
    assert env.run("import nn; from autograd import Value").returncode == 0
    env.install(wheels["autograd"])  # overwrites chainrule's autograd/__init__.py
    for code in ("import nn", "import nn.train"):
        result = env.run(code)
        assert result.returncode == 1
        message = result.stderr.strip().splitlines()[-1]
        assert message.startswith("ImportError: `import autograd` found")
        assert "HIPS autograd (pip's 'autograd' 1.0)" in message
        assert "autograd 1.0, chainrule 1.0" in message  # both distributions, named
        assert "pip uninstall autograd" in message and "--force-reinstall" in message

    env.pip("uninstall", "--yes", "autograd")  # takes chainrule's __init__.py along
    message = env.run("import nn").stderr.strip().splitlines()[-1]
    assert "chainrule's autograd/__init__.py is missing or replaced" in message
    assert "'autograd': chainrule 1.0" in message
    env.install(wheels["chainrule"])  # the fix the message gives
    result = env.run("import nn; from autograd import Value; print(Value(2.0) * 3)")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


def test_chainrule_installed_after_hips_works_and_warns(tmp_path, wheels):
    env = Env(tmp_path / "env")
    env.install(wheels["autograd"])
    env.install(wheels["chainrule"])  # replaces HIPS's autograd/__init__.py
    result = env.run("import nn; from autograd import Value; print(nn.MLP(2, [1])([1.0, 2.0]))")
    assert result.returncode == 0, result.stderr
    assert "Value(" in result.stdout
    assert "HIPS autograd (autograd-1.0.dist-info) is installed" in result.stderr
    assert "chainrule works but HIPS autograd does not" in result.stderr
    assert "pip uninstall autograd" in result.stderr


def test_the_check_is_silent_here():
    result = subprocess.run([sys.executable, "-W", "error", "-c", "import nn"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == "", result.stderr


def test_chainrule_installed_after_pypi_nn_works_and_warns(tmp_path, wheels):
    env = Env(tmp_path / "env")
    env.install(wheels["nn"])
    env.install(wheels["chainrule"])  # replaces PyPI nn's nn/__init__.py
    result = env.run("import nn; print(nn.MLP(2, [1])([1.0, 2.0]))")
    assert result.returncode == 0, result.stderr
    assert "Value(" in result.stdout
    assert "PyPI's nn (nn-1.0.dist-info) is installed" in result.stderr
    assert "chainrule's nn works but that nn does not" in result.stderr
    # the fix names chainrule's own install: here a wheel file, reinstalled as it was
    assert "`pip uninstall nn`, then reinstall chainrule the way you installed it: `pip " \
           "install --force-reinstall --no-deps --no-cache-dir \"chainrule @ file://" \
           in result.stderr


def test_pypi_nn_installed_after_chainrule_runs_its_own_code_and_the_fix_works(tmp_path, wheels):
    """Its nn/__init__.py is then the one that runs: nothing of chainrule's can speak (the
    README says what to do); the fix it gives restores chainrule's nn."""
    env = Env(tmp_path / "env")
    env.install(wheels["chainrule"])
    env.install(wheels["nn"])
    result = env.run("import nn")
    assert result.returncode == 1 and "No module named 'tensorflow'" in result.stderr
    assert env.run("import autograd; print(autograd.Value(2.0) * 3)").returncode == 0
    env.pip("uninstall", "--yes", "nn")  # takes chainrule's nn/__init__.py along
    env.install(wheels["chainrule"])
    result = env.run("import nn; print(nn.MLP(2, [1])([1.0, 2.0]))")
    assert result.returncode == 0 and result.stderr == "", result.stderr
