"""Make sure ``autograd`` and ``nn`` are chainrule's, not HIPS autograd or PyPI's ``nn``, which
have the same names.

chainrule's engine is the package ``autograd``, and so is HIPS autograd (pip's ``autograd``), a
different library. Installed into one environment, the two share one folder, and whichever was
installed last owns ``autograd/__init__.py``: ``from autograd import Value`` then fails with a
bare ``ImportError`` (HIPS installed last), or HIPS's users silently get chainrule (chainrule
installed last). ``import nn`` — and so the training command and the notebooks — runs this check
first (importing this module runs it), and says which packages clash and how to fix it.

PyPI's ``nn`` (a Keras wrapper) is also a top-level package ``nn``. Installed after chainrule,
it owns ``nn/__init__.py``: ``import nn`` then runs its code, not chainrule's (it fails on
tensorflow), so nothing of chainrule's can speak — the README says what to do. Installed
before chainrule, chainrule's files replace its ``__init__.py``: chainrule works, it does not,
and ``import nn`` warns, naming it and the fix.
"""

from __future__ import annotations

import glob
import os
import warnings

PYPI_NN = "PyPI's nn"


def fix(other: str, package: str) -> str:
    """How to undo the clash with the distribution ``other`` over ``package``."""
    return (f"Fix: keep {other} and chainrule in separate virtual environments. Here: "
            f"`pip uninstall {package}`, then reinstall chainrule the way you installed it: "
            f"`{_reinstall_command()}`.")


def _reinstall_command() -> str:
    """autograd._install's command, loaded from its file: ``autograd`` itself may be another
    package here."""
    import importlib.util

    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "autograd", "_install.py")
    spec = importlib.util.spec_from_file_location("_chainrule_install", path)
    if spec is None or spec.loader is None or not os.path.exists(path):
        return "pip install --force-reinstall --no-deps <how you installed chainrule>"
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.install_command(reinstall=True)


def check_autograd() -> None:
    """Raise ``ImportError`` naming both packages if ``import autograd`` is not chainrule's.

    Also warns when HIPS autograd is installed in the same folder as chainrule's ``autograd``
    (chainrule installed last): chainrule works, HIPS autograd is broken.

    >>> check_autograd()  # chainrule's engine: nothing to say
    """
    try:
        import autograd
    except ImportError as error:  # HIPS autograd's __init__ failing, say on a missing numpy
        raise ImportError(_clash_message(None)) from error
    if not (hasattr(autograd, "Value") and hasattr(autograd, "apply")):
        raise ImportError(_clash_message(autograd))
    folder = os.path.dirname(os.path.dirname(os.path.abspath(autograd.__file__)))
    hips = glob.glob(os.path.join(glob.escape(folder), "autograd-*.dist-info"))
    if hips:
        warnings.warn(
            f"HIPS autograd ({os.path.basename(hips[0])}) is installed in {folder} next to "
            f"chainrule, and both use the package name 'autograd': chainrule's files replaced "
            f"HIPS's autograd/__init__.py, so chainrule works but HIPS autograd does not. "
            f"{fix('HIPS autograd', 'autograd')}",
            stacklevel=2)


def check_nn() -> None:
    """Warn when PyPI's ``nn`` is installed in the folder of chainrule's ``nn``: chainrule's
    files replaced its ``nn/__init__.py`` (chainrule installed last), so it is broken.

    >>> check_nn()  # chainrule's nn alone: nothing to say
    """
    folder = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    other = glob.glob(os.path.join(glob.escape(folder), "nn-*.dist-info")) + glob.glob(
        os.path.join(glob.escape(folder), "nn-*.egg-info"))
    if other:
        warnings.warn(
            f"PyPI's nn ({os.path.basename(other[0])}) is installed in {folder} next to "
            f"chainrule, and both use the package name 'nn': chainrule's files replaced its "
            f"nn/__init__.py, so chainrule's nn works but that nn does not. "
            f"{fix(PYPI_NN, 'nn')}",
            stacklevel=2)


def _clash_message(found: object) -> str:
    where = getattr(found, "__file__", None) or getattr(found, "__path__", None)
    owners = _distributions_of("autograd")
    if "autograd" in owners:
        what = (f"it is HIPS autograd (pip's 'autograd' {owners['autograd']}), a different "
                f"library that uses the same package name")
    else:
        what = ("chainrule's autograd/__init__.py is missing or replaced (another package "
                "named 'autograd' was installed over it, or uninstalled with it)")
    installed = ", ".join(f"{name} {version}" for name, version in sorted(owners.items()))
    return (f"`import autograd` found {where or 'a package'}, which is not chainrule's engine: "
            f"{what}. chainrule's nn needs chainrule's autograd. Distributions installed here "
            f"that provide 'autograd': {installed or 'none'}. {fix('HIPS autograd', 'autograd')}")


def _distributions_of(package: str) -> dict[str, str]:
    """``{distribution name: version}`` of every installed distribution providing ``package``."""
    from importlib import metadata

    names = metadata.packages_distributions().get(package, [])
    found = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:  # pragma: no cover - a half-removed install
            found[name] = "?"
    return found


check_autograd()  # on import: ``import nn`` imports this module before anything that needs autograd
check_nn()
