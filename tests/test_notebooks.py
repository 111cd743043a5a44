"""Every notebook runs, shows what its saved outputs show, and draws at notebook width (the
exercises, recap and glossary are checked in ``tests/test_notebook_teaching.py``).

The notebooks are committed with their outputs (see ``tests/notebook_outputs.py``); after
editing one, ``./dev.sh notebooks`` saves its new outputs.
"""

from __future__ import annotations

import base64
import shutil

import nbformat
import pytest
from notebook_outputs import (
    MAX_WIDTH_PX,
    MIN_TEXT_PX,
    VARIES,
    drawing_pngs,
    drawings,
    execute,
    measure,
    notebook_paths,
    png_mismatch,
    summary,
)

pytestmark = pytest.mark.skipif(shutil.which("dot") is None,
                                reason="the notebooks' drawings need Graphviz's dot")


@pytest.fixture(scope="module", params=notebook_paths(), ids=lambda path: path.stem)
def run(request):
    """(saved notebook, freshly executed notebook)"""
    path = request.param
    return nbformat.read(path, as_version=4), execute(path)


def test_saved_outputs_match_a_fresh_run(run):
    saved, fresh = run
    saved_cells, fresh_cells = summary(saved), summary(fresh)
    assert len(saved_cells) == len(fresh_cells)
    for index, (was, now) in enumerate(zip(saved_cells, fresh_cells)):
        assert was == now, (f"code cell {index} shows something else than its saved output: "
                            "run ./dev.sh notebooks to save the new outputs")


def test_saved_outputs_are_complete(run):
    saved, _ = run
    code = [cell for cell in saved.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code), \
        "saved without running every cell: run ./dev.sh notebooks"


def test_every_drawing_fits_the_notebook_width(run):
    _, fresh = run
    for drawing in drawings(fresh):
        assert drawing.width_px <= MAX_WIDTH_PX, drawing
        assert drawing.smallest_text_px >= MIN_TEXT_PX, drawing


def test_every_drawing_carries_a_png_of_itself(run):
    """An untrusted notebook (the README's own-environment path) shows a drawing's PNG, not its
    SVG: both the saved and a fresh run's drawings carry one, the SVG's layout at PNG_DPI."""
    for notebook in run:
        for cell, mismatch in drawing_pngs(notebook):
            assert mismatch is None, f"cell {cell}: {mismatch} (run ./dev.sh notebooks)"


def test_a_png_of_another_size_or_none_is_caught():
    svg = '<svg width="300pt" height="60pt" viewBox="0.00 0.00 300.00 60.00"></svg>'

    def output(width: int, height: int, shown: int) -> dict:
        png = bytes(16) + width.to_bytes(4, "big") + height.to_bytes(4, "big")
        return {"data": {"image/svg+xml": svg, "image/png": base64.b64encode(png).decode()},
                "metadata": {"image/png": {"width": shown, "height": 80}}}

    assert png_mismatch(output(600, 120, 400)) is None  # 300 pt at 144 dpi, shown at 400 px
    assert "not 300 pt at 144 dpi" in png_mismatch(output(400, 80, 400))
    assert "shown at 300x80" in png_mismatch(output(600, 120, 300))
    assert "no PNG" in png_mismatch({"data": {"image/svg+xml": svg}})


def test_measure_scales_a_wide_drawing_down():
    svg = ('<svg width="1500pt" height="80pt" viewBox="0.00 0.00 1500.00 80.00">'
           '<g transform="scale(1 1) rotate(0)"><text font-size="11.00">x</text></g></svg>')
    drawing = measure(svg)
    assert drawing.width_px == 2000.0
    assert drawing.smallest_text_px == pytest.approx(11 * 4 / 3 / 2, abs=0.05)  # shown at half size
    assert not drawing.fits


def test_a_cell_tagged_output_varies_is_not_compared():
    def notebook(printed):
        cells = [nbformat.v4.new_code_cell("print(x)", outputs=[
                     nbformat.v4.new_output("stream", name="stdout", text=printed)])
                 for _ in range(2)]
        cells[1].metadata["tags"] = [VARIES]
        return nbformat.v4.new_notebook(cells=cells)

    assert summary(notebook("torch: skipped"))[1] == summary(notebook("torch agrees"))[1]
    assert summary(notebook("torch: skipped"))[0] != summary(notebook("torch agrees"))[0]
