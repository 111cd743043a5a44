"""Every notebook teaches in the same shape: exercises whose solutions check themselves and sit
collapsed, then a closing "What you learned"; notebook 00 holds the glossary of the words and
symbols all the notebooks share, and every other notebook links to it.

These read the notebooks' cells only (nothing is executed), one test per notebook, so that a
notebook that misses a piece fails on its own.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_outputs import NOTEBOOKS, notebook_paths

SOLUTION = "solution"  # the tag of an exercise's solution cell
MIN_EXERCISES = 2
RECAP = "## What you learned"
GLOSSARY_NOTEBOOK = NOTEBOOKS / "00_build_it_yourself.ipynb"
GLOSSARY = "## Glossary"
GLOSSARY_LINK = f"{GLOSSARY_NOTEBOOK.name}#Glossary"  # Jupyter's anchor for the heading

SHARED_TERMS = {
    "loss": ("**loss**", "$L$"),
    "target": ("**target**", "$y$"),
    "output": ("**output**", r"$\hat y$", "y-hat"),
    "learning rate": ("**learning rate**", r"$\eta$", "`lr`"),
    "finite-difference step": ("**finite-difference step**", "$h$"),
    "parents": ("**parents**", "`.parents`", "children", "`_prev`"),
    "local derivative": ("**local derivative**", "op output", "op input"),
    "delta": ("**δ**", r"\partial L/\partial z", "pre-activation"),
    "backpropagation": ("**backpropagation**", "computes the gradients"),
    "optimizer": ("**optimizer**", "gradient descent", "updates the parameters"),
}
"""The shared notation: each term, and what its line of the glossary must hold (its symbol, the
name it replaces, what it is)."""

ALL = pytest.mark.parametrize("path", notebook_paths(), ids=lambda path: path.stem)
LINKING = pytest.mark.parametrize(
    "path", [path for path in notebook_paths() if path != GLOSSARY_NOTEBOOK],
    ids=lambda path: path.stem)


def cells(path: Path) -> list:
    return nbformat.read(path, as_version=4).cells


def is_solution(cell) -> bool:
    return SOLUTION in cell.metadata.get("tags", [])


def solutions(notebook_cells: list) -> list:
    return [cell for cell in notebook_cells if is_solution(cell)]


def lines(cell) -> list[str]:
    return [line.strip() for line in cell.source.splitlines()]


@ALL
def test_exercise_solutions_are_collapsed_and_check_themselves(path):
    for cell in solutions(cells(path)):
        assert cell.cell_type == "code", cell.source[:60]
        assert cell.metadata.get("jupyter", {}).get("source_hidden"), cell.source[:60]
        assert "assert " in cell.source, cell.source[:60]


@ALL
def test_has_at_least_two_exercises(path):
    found = len(solutions(cells(path)))
    assert found >= MIN_EXERCISES, (
        f"{path.name}: {found} exercise solution cells (code tagged {SOLUTION!r}); "
        f"at least {MIN_EXERCISES} wanted")


@ALL
def test_closes_with_what_you_learned(path):
    notebook_cells = cells(path)
    recaps = [index for index, cell in enumerate(notebook_cells)
              if cell.cell_type == "markdown" and RECAP in lines(cell)]
    assert len(recaps) == 1, f"{path.name}: {len(recaps)} markdown cells headed {RECAP!r}; 1 wanted"
    after_heading = "\n".join(lines(notebook_cells[recaps[0]])).split(RECAP, 1)[1]
    assert after_heading.strip(), f"{path.name}: {RECAP!r} says nothing"
    last_solution = max((index for index, cell in enumerate(notebook_cells) if is_solution(cell)),
                        default=-1)
    assert recaps[0] > last_solution, f"{path.name}: {RECAP!r} comes before an exercise"


@LINKING
def test_links_to_the_glossary(path):
    markdown = [cell.source for cell in cells(path) if cell.cell_type == "markdown"]
    assert any(GLOSSARY_LINK in text for text in markdown), \
        f"{path.name} has no link to the glossary ({GLOSSARY_LINK})"


def glossary() -> list[str]:
    found = [cell for cell in cells(GLOSSARY_NOTEBOOK)
             if cell.cell_type == "markdown" and lines(cell)[:1] == [GLOSSARY]]
    assert len(found) == 1, f"{GLOSSARY_NOTEBOOK.name}: {len(found)} cells headed {GLOSSARY!r}"
    return lines(found[0])


@pytest.mark.parametrize("term", SHARED_TERMS)
def test_the_glossary_defines_each_shared_term(term):
    wanted = SHARED_TERMS[term]
    assert any(all(piece in line for piece in wanted) for line in glossary()), \
        f"no line of the glossary holds all of {wanted}"
