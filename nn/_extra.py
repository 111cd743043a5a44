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


GPT_COMMAND = ("chainrule-gpt", {"nn.gpt", "nn.gpt_cli"}, "gpt")
"""The GPT's command by each of its names: the script, the modules ``python -m`` runs it as, and
its name under ``python -m nn`` (``nn/__main__.py``)."""


def _running_the_gpt_command() -> bool:
    """Whether this process is ``chainrule-gpt``, ``python -m nn gpt``, ``python -m nn.gpt``
    or ``python -m nn.gpt_cli``."""
    script, modules, name = GPT_COMMAND
    program = os.path.basename(sys.argv[0] if sys.argv else "").lower()
    if program.startswith(script):  # chainrule-gpt, chainrule-gpt.exe, chainrule-gpt-script.py
        return True
    run = module_run(getattr(sys, "orig_argv", []))
    if run is None:
        return False
    module, args = run
    return module in modules or (module in ("nn", "nn.__main__") and args[:1] == [name])


_TAKES_A_VALUE = "cmWX"  # the interpreter's one-letter options followed by a value


def module_run(argv: list[str]) -> tuple[str, list[str]] | None:
    """The module that the interpreter's command line ``argv`` (``sys.orig_argv``) runs with
    ``-m``, and the arguments after it; None for a script, ``-c`` or the prompt.

    Known while ``python -m`` imports the module's package, when ``sys.argv`` does not name it
    yet. Options may come first, and ``-m`` may be joined to other letters or to its value.

    >>> module_run(["python3", "-X", "dev", "-m", "nn", "gpt", "--steps", "5"])
    ('nn', ['gpt', '--steps', '5'])
    >>> module_run(["python3", "-Im", "nn.gpt"]), module_run(["python3", "-mnn.train"])
    (('nn.gpt', []), ('nn.train', []))
    >>> module_run(["python3", "train.py", "-m", "nn"]) is None  # a script's own -m
    True
    """
    k = 1
    while k < len(argv):
        arg = argv[k]
        if arg == "--check-hash-based-pycs":  # the one long option with a value
            k += 2
            continue
        if arg.startswith("--") and arg != "--":
            k += 1
            continue
        if not arg.startswith("-") or arg in ("-", "--"):
            return None  # a script, or the program from stdin
        for at, letter in enumerate(arg[1:], start=2):
            if letter in _TAKES_A_VALUE:
                joined = arg[at:]
                value = joined or (argv[k + 1] if k + 1 < len(argv) else "")
                rest = argv[k + 1:] if joined else argv[k + 2:]
                if letter == "m":
                    return value, rest
                if letter == "c":
                    return None
                k += 0 if joined else 1  # -W and -X: skip their value
                break
        k += 1
    return None
