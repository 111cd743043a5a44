"""``python -m nn train|gpt [ARGS]``: chainrule's two commands under one name.

``python -m nn train`` is ``chainrule-train`` (``nn/cli.py``) and ``python -m nn gpt`` is
``chainrule-gpt`` (``nn/gpt_cli.py``); ``python -m nn train --help`` shows each one's options.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = {"train": ("nn.cli", "an MLP on a toy 2-D dataset (chainrule-train)"),
            "gpt": ("nn.gpt_cli", "a tiny GPT on census first names (chainrule-gpt)")}
"""Each command's module (it has ``main(argv, prog)``) and what it does."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by ``argv[0]`` with the rest; returns the exit status.

    >>> main(["--help"])  # doctest: +ELLIPSIS
    usage: python -m nn {train,gpt} [ARGS]
    ...
    0
    """
    import importlib

    argv = list(sys.argv[1:] if argv is None else argv)
    usage = "usage: python -m nn {train,gpt} [ARGS]\n" + "".join(
        f"  {name:6s} {what}\n" for name, (_, what) in COMMANDS.items())
    if not argv or argv[0] in ("-h", "--help"):
        print(usage + "ARGS: see python -m nn train --help, python -m nn gpt --help",
              file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] not in COMMANDS:
        print(f"{usage}python -m nn: unknown command {argv[0]!r}; choose train or gpt",
              file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[argv[0]][0])
    return module.main(argv[1:], prog=f"python -m nn {argv[0]}")


if __name__ == "__main__":
    sys.exit(main())
