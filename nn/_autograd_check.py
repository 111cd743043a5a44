"""Make sure ``autograd`` is chainrule's engine, not HIPS autograd, which has the same name.

chainrule's engine is the package ``autograd``, and so is HIPS autograd (pip's ``autograd``), a
different library. Installed into one environment, the two share one folder, and whichever was
installed last owns ``autograd/__init__.py``: ``from autograd import Value`` then fails with a
bare ``ImportError`` (HIPS installed last), or HIPS's users silently get chainrule (chainrule
installed last). ``import nn`` — and so the training command and the notebooks — runs this check
first (importing this module runs it), and says which packages clash and how to fix it.
"""

from __future__ import annotations

import glob
import os
import warnings

FIX = ("Fix: keep HIPS autograd and chainrule in separate virtual environments. Here: "
       "`pip uninstall autograd`, then reinstall chainrule the way you installed it, with "
       "--force-reinstall (from a clone: `pip install --force-reinstall --no-deps .`).")


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
            f"HIPS's autograd/__init__.py, so chainrule works but HIPS autograd does not. {FIX}",
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
            f"that provide 'autograd': {installed or 'none'}. {FIX}")


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
