"""Run the notebooks, compare their outputs with the saved ones, and measure their drawings.

The notebooks are committed with their outputs, so that anyone browsing the repository sees the
graphs and plots without running anything. ``tests/test_notebooks.py`` runs each one afresh and
checks that the saved outputs are still what the code prints and draws; after editing a
notebook, save its new outputs with ``./dev.sh notebooks`` (``python -m tests.notebook_outputs
--write [NOTEBOOK ...]``).

What is compared: the text a cell prints or returns (with times such as ``1.23 s`` and object
addresses masked), which kinds of output each cell shows (a PNG plot; a drawing as SVG, PNG and
text), and the text inside each SVG drawing; a drawing's PNG is checked to be its SVG's layout at
``autograd.viz.PNG_DPI`` (``png_mismatch``). A widget's output (``autograd.stepper``) is kept
without the widget, as its static fallback (a drawing and text): a saved widget has no kernel to
drive it, so wherever the notebook is opened before it is run (JupyterLab, GitHub, the docs site)
the fallback shows instead of "Error displaying widget: model not found", and no HTML export
loads the widgets' scripts from a CDN. Pixels are not compared: they change with matplotlib's,
Graphviz's and cairo's versions, not with the notebook. Output on stderr (warnings, "building
the font cache") is neither kept nor compared.
"""

from __future__ import annotations

import argparse
import base64
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
MAX_WIDTH_PX = 1000  # a notebook cell in a browser window: about this wide
MIN_TEXT_PX = 10.0  # the smallest text that still reads comfortably
PX_PER_PT = 96 / 72  # Graphviz sizes SVGs in points; browsers draw 96 px per 72 pt


SHORT_SCHEDULE = {"CHAINRULE_GPT_STEPS": "60"}
"""Environment variables set for every notebook run here (the test run and ``--write``), so that
the saved outputs come from the same schedule as the test run: notebook 07 trains its GPT for
60 steps instead of 3,000 (each notebook runs in 10 s or less); its held-out scores and samples
come from the full run's model, shipped as notebooks/tiny_gpt.json."""


def notebook_paths() -> list[Path]:
    return sorted(NOTEBOOKS.glob("*.ipynb"))


def execute(path: Path) -> Any:
    """The notebook at ``path`` run from top to bottom in a fresh kernel (an ``nbformat`` node)."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", record_timing=False,
                            store_widget_state=False,
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute(env={**os.environ, **SHORT_SCHEDULE})
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.outputs = _merge_streams([o for o in cell.outputs if o.get("name") != "stderr"])
            for output in cell.outputs:  # a widget (autograd.stepper): its static fallback
                output.get("data", {}).pop(WIDGET_VIEW, None)
    return notebook


def write(path: Path) -> None:
    """Run the notebook at ``path`` and save it with its outputs (atomically)."""
    import nbformat

    notebook = execute(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            nbformat.write(notebook, file)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(tmp, path.stat().st_mode & 0o777)  # mkstemp's file is private; keep the mode
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


def _merge_streams(outputs: list[Any]) -> list[Any]:
    """Consecutive prints to the same stream as one output, however the kernel split them."""
    merged: list[Any] = []
    for output in outputs:
        previous = merged[-1] if merged else None
        if (output.output_type == "stream" and previous is not None
                and previous.output_type == "stream" and previous.name == output.name):
            previous.text += output.text
        else:
            merged.append(output)
    return merged


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

VARIES = "output-varies"  # the tag of a cell whose outputs are not compared

_TIME = re.compile(r"\d+(\.\d+)?(e-?\d+)? ?(s|ms|µs|ns)\b")
_ADDRESS = re.compile(r" at 0x[0-9a-f]+")
_SVG_TEXT = re.compile(r"<text[^>]*>([^<]*)</text>")


def normalise(text: str) -> str:
    """``text`` with run times and object addresses masked.

    >>> normalise("100 steps in 1.25 s (12.5 ms per step) <Digraph at 0x7f3a9c>")
    '100 steps in <time> (<time> per step) <Digraph>'
    """
    return _ADDRESS.sub("", _TIME.sub("<time>", text))


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else value


def summary(notebook: Any) -> list[list[tuple[str, ...]]]:
    """What each code cell shows, in a form that a fresh run must reproduce exactly.

    A cell tagged ``output-varies`` shows only that tag, whatever it printed.
    """
    cells = []
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        shown = []
        if VARIES in cell.get("metadata", {}).get("tags", []):
            cells.append([(VARIES,)])
            continue
        for output in cell.outputs:
            if output.output_type == "stream":
                shown.append(("stream", output.name, normalise(_text(output.text))))
            elif output.output_type == "error":
                shown.append(("error", output.ename, output.evalue))
            else:
                data = output.get("data", {})
                shown.append(("data", *sorted(data)))
                if "text/plain" in data:
                    shown.append(("text/plain", normalise(_text(data["text/plain"]))))
                if "image/svg+xml" in data:
                    texts = _SVG_TEXT.findall(_text(data["image/svg+xml"]))
                    shown.append(("svg text", *texts))
        cells.append(shown)
    return cells


@dataclass(frozen=True)
class Drawing:
    """An SVG drawing's size as a notebook shows it: scaled down to fit the cell if too wide."""

    cell: int
    width_px: float  # its natural width
    smallest_text_px: float  # its smallest font once scaled to fit MAX_WIDTH_PX

    @property
    def fits(self) -> bool:
        return self.width_px <= MAX_WIDTH_PX and self.smallest_text_px >= MIN_TEXT_PX


def measure(svg: str, cell: int = 0) -> Drawing:
    """The width and smallest text of a Graphviz SVG, in browser pixels, as shown inline.

    >>> svg = ('<svg width="300pt" height="80pt" viewBox="0.00 0.00 300.00 80.00">'
    ...        '<g transform="scale(1 1) rotate(0)"><text font-size="9.00">x</text></g></svg>')
    >>> measure(svg)
    Drawing(cell=0, width_px=400.0, smallest_text_px=12.0)
    """
    width_pt = float(re.search(r'<svg[^>]*\swidth="([\d.]+)pt"', svg).group(1))
    viewbox_width = float(re.search(r'viewBox="[-\d.]+ [-\d.]+ ([\d.]+)', svg).group(1))
    scale = re.search(r'transform="scale\(([\d.]+)', svg)
    px_per_unit = (float(scale.group(1)) if scale else 1.0) * width_pt / viewbox_width * PX_PER_PT
    width_px = width_pt * PX_PER_PT
    shown = min(1.0, MAX_WIDTH_PX / width_px)  # a wider image is scaled down to the cell's width
    sizes = [float(size) for size in re.findall(r'font-size="([\d.]+)"', svg)]
    smallest = min(sizes, default=14.0) * px_per_unit * shown
    return Drawing(cell, round(width_px, 1), round(smallest, 1))


def drawings(notebook: Any) -> list[Drawing]:
    """Every SVG drawing the notebook shows, measured."""
    found = []
    for index, cell in enumerate(notebook.cells):
        for output in cell.get("outputs", []):
            svg = output.get("data", {}).get("image/svg+xml")
            if svg is not None:
                found.append(measure(_text(svg), index))
    return found


def png_mismatch(output: Any) -> str | None:
    """What is wrong with the PNG of a drawing's output, or None: it must be there (an untrusted
    notebook shows no SVG), drawn at ``autograd.viz.PNG_DPI`` from the SVG's layout, and shown
    (its ``width`` and ``height`` metadata) at the SVG's size. Its pixels are not compared: they
    change with Graphviz's and cairo's versions.

    >>> svg = '<svg width="300pt" height="60pt" viewBox="0.00 0.00 300.00 60.00"></svg>'
    >>> png = base64.b64encode(bytes(16) + (600).to_bytes(4, "big") + (120).to_bytes(4, "big"))
    >>> output = {"data": {"image/svg+xml": svg, "image/png": png.decode()},
    ...           "metadata": {"image/png": {"width": 400, "height": 80}}}
    >>> png_mismatch(output) is None  # 300 pt at 144 dpi is 600 px, shown at 400 (96 dpi)
    True
    >>> output["metadata"]["image/png"]["width"] = 600
    >>> png_mismatch(output)
    'the PNG is 600x120 px, not 300 pt at 144 dpi: 600x120; shown at 600x80, not 400x80 px'
    """
    from autograd.viz import PNG_DPI

    data = output.get("data", {})
    if "image/png" not in data:
        return "no PNG beside the SVG: an untrusted notebook shows the drawing as text"
    svg = _text(data["image/svg+xml"])
    width_pt, height_pt = (float(size) for size in re.search(
        r'<svg[^>]*\swidth="([\d.]+)pt"[^>]*\sheight="([\d.]+)pt"', svg).groups())
    png = base64.b64decode(_text(data["image/png"]))
    got = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    want = round(width_pt * PNG_DPI / 72), round(height_pt * PNG_DPI / 72)
    shown_meta = output.get("metadata", {}).get("image/png", {})
    shown = shown_meta.get("width"), shown_meta.get("height")
    svg_px = round(width_pt * PX_PER_PT), round(height_pt * PX_PER_PT)
    close = all(isinstance(a, (int, float)) and abs(a - b) <= 1
                for a, b in [*zip(got, want), *zip(shown, svg_px)])
    return None if close else (
        f"the PNG is {got[0]}x{got[1]} px, not {width_pt:g} pt at {PNG_DPI} dpi: "
        f"{want[0]}x{want[1]}; shown at {shown[0]}x{shown[1]}, not {svg_px[0]}x{svg_px[1]} px")


def drawing_pngs(notebook: Any) -> list[tuple[int, str | None]]:
    """(cell, ``png_mismatch``) for every SVG drawing the notebook shows."""
    return [(index, png_mismatch(output)) for index, cell in enumerate(notebook.cells)
            for output in cell.get("outputs", []) if "image/svg+xml" in output.get("data", {})]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.notebook_outputs",
        description="Run notebooks and save their outputs (--write), or check the saved ones.")
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: every notebook")
    parser.add_argument("--write", action="store_true", help="save the fresh outputs in place")
    args = parser.parse_args(argv)
    import nbformat

    status = 0
    for path in args.notebooks or notebook_paths():
        if args.write:
            write(path)
            print(f"wrote {path}")
        else:
            same = summary(execute(path)) == summary(nbformat.read(path, as_version=4))
            print(f"{path}: {'saved outputs match' if same else 'OUTPUTS DIFFER'}")
            status |= not same
        for drawing in drawings(nbformat.read(path, as_version=4)):
            if not drawing.fits:
                print(f"  cell {drawing.cell}: drawing {drawing.width_px:.0f} px wide, smallest "
                      f"text {drawing.smallest_text_px:.1f} px", file=sys.stderr)
        for cell, mismatch in drawing_pngs(nbformat.read(path, as_version=4)):
            if mismatch:
                print(f"  cell {cell}: {mismatch}", file=sys.stderr)
                status |= not args.write
    return status


if __name__ == "__main__":
    sys.exit(main())
