"""Build chainrule's reference site (``./dev.sh docs``): ``python docs/build_site.py [--out DIR]``.

MkDocs with the Material theme, in a staging folder made fresh each time:

- the API: every public name of ``autograd`` and ``nn`` and of nn's modules, from the docstrings
  (mkdocstrings);
- the guides: ``docs/*.md``, their links to one another kept, links to source files turned
  into plain text (the site has no source files);
- the notebooks with their saved outputs (mkdocs-jupyter; nothing is run);
- math rendered by MathJax from the ``jupyter-server-mathjax`` package, copied into the site:
  no page loads anything from another host, so the site works offline.

The site goes to ``results/site`` (``--out`` to change it); open ``index.html`` through a web
server (``python -m http.server -d results/site``) for the search to work.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

API = {
    "autograd": "The engine: `Value`, the functions on Values, `grad`, `gradcheck`, drawing.",
    "autograd.stepper": "`step_through`: the backward pass one step at a time, a widget in "
                        "Jupyter.",
    "autograd.recording": "`compile`: record a function once, replay it on new numbers; "
                          "`read_floats`, `write_floats`.",
    "nn": "Modules, losses, optimizers, datasets and checkpoints.",
    "nn.gpt": "A tiny GPT and its training loop.",
    "nn.corpus": "The census names, the vocabulary and the bigram baseline.",
    "nn.train": "The full-batch training loop.",
    "nn.serialization": "Checkpoints: `save`, `load` and what they refuse.",
    "nn.pytorch": "The bridge to PyTorch: `to_torch`, `from_torch`.",
    "nn.validation": "The argument checks, in one wording.",
    "nn.plots": "Decision boundaries and loss curves.",
    "nn.cli": "The `chainrule-train` command.",
    "nn.gpt_cli": "The `chainrule-gpt` command.",
}
"""The modules with an API page, and what each holds."""

MATHJAX_CONFIG = """window.MathJax = {
  config: ["TeX-AMS-MML_HTMLorMML-full.js"],
  tex2jax: {inlineMath: [["$", "$"], ["\\\\(", "\\\\)"]],
            displayMath: [["$$", "$$"], ["\\\\[", "\\\\]"]], processEscapes: true},
  "HTML-CSS": {availableFonts: ["TeX"], imageFont: null},
  showMathMenu: false, messageStyle: "none"
};
"""


def stage(folder: Path) -> list:
    """Write the site's sources into ``folder``; returns the navigation."""
    import jupyter_server_mathjax

    docs = folder / "docs"
    (docs / "guide").mkdir(parents=True)
    (docs / "api").mkdir()
    (docs / "notebooks").mkdir()
    guides = sorted(path for path in (ROOT / "docs").glob("*.md"))
    names = {path.name for path in guides}
    for path in guides:
        (docs / "guide" / path.name).write_text(_plain_links(path.read_text(), names))
    for module, summary in API.items():
        (docs / "api" / f"{module}.md").write_text(
            f"# `{module}`\n\n{summary}\n\n::: {module}\n" + "".join(
                f"\n::: {module}.{name}.{name}\n" for name in _shadowed(module)))
    notebooks = sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in notebooks:  # a link to another notebook goes to that notebook's page
        (docs / "notebooks" / path.name).write_text(
            re.sub(r"\]\((\w+)\.ipynb", r"](\1.html", path.read_text(encoding="utf-8")),
            encoding="utf-8")
    shutil.copytree(Path(jupyter_server_mathjax.__file__).parent / "static",
                    docs / "assets" / "mathjax")
    (docs / "assets" / "mathjax-config.js").write_text(MATHJAX_CONFIG)
    (docs / "index.md").write_text(
        "# chainrule\n\nA scalar reverse-mode autograd engine in Python, and a small neural-"
        "network library on top of it.\n\n"
        "- **API**: " + ", ".join(f"[`{m}`](api/{m}.md)" for m in API) + "\n"
        "- **Guides**: " + ", ".join(f"[{p.stem}](guide/{p.name})" for p in guides) + "\n"
        "- **Notebooks**: " + ", ".join(f"[{p.stem}](notebooks/{p.name})" for p in notebooks)
        + "\n\nMath renders offline, e.g. $\\frac{\\partial L}{\\partial w}$.\n")
    return [{"Home": "index.md"},
            {"API": [{m: f"api/{m}.md"} for m in API]},
            {"Guides": [{p.stem: f"guide/{p.name}"} for p in guides]},
            {"Notebooks": [{p.stem: f"notebooks/{p.name}"} for p in notebooks]}]


def _shadowed(module: str) -> list[str]:
    """The public names of ``module`` that are also the names of its submodules (the function
    ``autograd.gradcheck`` of ``autograd/gradcheck.py``): mkdocstrings would document the
    submodule under that name, so they get an entry of their own."""
    import importlib
    import pkgutil

    package = importlib.import_module(module)
    if not hasattr(package, "__path__"):
        return []
    submodules = {info.name for info in pkgutil.iter_modules(package.__path__)}
    return [name for name in getattr(package, "__all__", []) if name in submodules]


def _plain_links(text: str, pages: set[str]) -> str:
    """Links to other guides kept; links to files the site does not have become their text."""
    def link(match: re.Match) -> str:
        label, target = match.group(1), match.group(2)
        if target.startswith(("http://", "https://", "#")) or target.split("#")[0] in pages:
            return match.group(0)
        return label
    return re.sub(r"(?<!!)\[([^\]]+)\]\(([^)\s]+)\)", link, text)


def config(folder: Path, out: Path, nav: list) -> Path:
    """The ``mkdocs.yml`` for the staged sources."""
    import json

    settings = {
        "site_name": "chainrule", "docs_dir": str(folder / "docs"), "site_dir": str(out),
        "use_directory_urls": False, "strict": True, "nav": nav,
        "theme": {"name": "material", "font": False, "features": ["search.highlight"]},
        "plugins": [
            "search",
            {"mkdocstrings": {"handlers": {"python": {
                "paths": [str(ROOT)],
                "options": {"show_submodules": False, "members_order": "source",
                            "docstring_style": None, "show_source": False,
                            "show_root_heading": False, "heading_level": 2,
                            "filters": ["!^_"]}}}}},
            {"mkdocs-jupyter": {"execute": False, "include_source": False,
                                "include_requirejs": False, "ignore_h1_titles": False}},
        ],
        "markdown_extensions": ["admonition", "tables", "toc",
                                {"pymdownx.arithmatex": {"generic": True}},
                                "pymdownx.superfences"],
        "extra_javascript": ["assets/mathjax-config.js", "assets/mathjax/MathJax.js"],
        "exclude_docs": "assets/mathjax/**/*.md\n",
    }
    path = folder / "mkdocs.yml"
    path.write_text(json.dumps(settings, indent=1))  # YAML reads JSON
    return path


def build(out: Path) -> float:
    """Build the site into ``out``; returns the seconds MkDocs took."""
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        nav = stage(folder)
        settings = config(folder, out.resolve(), nav)
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--quiet", "--clean",
                        "--config-file", str(settings)], check=True, cwd=folder,
                       env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
        return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "site",
                        help="the folder to write the site to (default: results/site)")
    args = parser.parse_args()
    seconds = build(args.out)
    pages = sum(1 for _ in args.out.rglob("*.html"))
    print(f"built {pages} pages into {args.out} in {seconds:.1f} s (mkdocs build)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
