"""The one-line hint when a package of an extra is missing: ``[nn]`` (numpy, matplotlib, tqdm) or
``[gpt]`` (names, for ``nn.gpt``)."""

from __future__ import annotations

import importlib
import os
import sys
from types import ModuleType


def require(module: str, needed_by: str, extra: str = "nn") -> ModuleType:
    """Import ``module``; if it is not installed, say which extra (``nn`` or ``gpt``) provides it.

    From a command (``chainrule-train``, ``python -m nn.train``...) the hint is printed and the
    process exits with status 1, without a traceback; from library code it is the message of
    the ``ModuleNotFoundError``.

    >>> require("math", "nn").sqrt(4.0)
    2.0
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name != module.partition(".")[0]:
            raise  # the package is there but broken: its own error says more
        if _running_the_gpt_command():
            extra = "gpt"  # it includes [nn]: one install for everything the command needs
        from autograd._install import install_command

        message = (f"{needed_by} needs {error.name}, part of chainrule's [{extra}] extra: "
                   f"{install_command(extra)}")
        if _running_a_command():
            raise SystemExit(message) from None
        raise ModuleNotFoundError(message, name=error.name) from None


def _running_a_command() -> bool:
    """Whether this process is one of chainrule's commands (``chainrule-train``...) or
    ``python -m nn.<module>``."""
    program = sys.argv[0] if sys.argv else ""
    # while `python -m` imports the package of the module it is about to run, argv[0] is "-m"
    name = os.path.basename(program).lower()
    return program == "-m" or name.startswith("chainrule-") or (
        getattr(sys.modules.get("__main__"), "__spec__", None) is not None
        and sys.modules["__main__"].__spec__.name.startswith("nn."))


def _running_the_gpt_command() -> bool:
    """Whether this process is ``chainrule-gpt`` or ``python -m nn.gpt``."""
    program = os.path.basename(sys.argv[0] if sys.argv else "").lower()
    return program.startswith("chainrule-gpt") or "nn.gpt" in getattr(sys, "orig_argv", ())
