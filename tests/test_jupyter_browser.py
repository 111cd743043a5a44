"""The README's own-environment path in a real browser: JupyterLab on a copy of the notebooks,
untrusted (no ``jupyter trust``, a fresh Jupyter data folder), opened in headless Chromium; every
saved drawing must be visible.

JupyterLab shows no SVG from an untrusted notebook (SVG can carry scripts); it shows PNG. So
each drawing's output carries both (``autograd.viz``), and this test looks at what the browser
shows: for each saved drawing, a loaded ``<img>`` of the saved PNG's pixel size, shown at its
``width``, and a screenshot of it that holds the drawing's colours. A control: a trusted copy
of one notebook shows the SVG instead. The screenshots are kept in
pytest's temporary folder (the path is printed; ``-s`` shows it), or in
``$CHAINRULE_SCREENSHOTS`` when set.

Needs Debian's ``chromium`` and ``chromium-driver`` (``./dev.sh test`` installs them when run as
root), ``selenium`` and ``jupyterlab`` (the ``test`` extra); skipped, with the reason, without
them. Nothing is downloaded: the driver and the browser are the installed ones.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jupyter_browser
import nbformat
import pytest
from jupyter_browser import wait_for
from notebook_outputs import notebook_paths


def _why_not() -> str | None:
    """Why this machine cannot run the test, or None (checked before any heavy import)."""
    if os.environ.get("CHAINRULE_PURE_PYTHON"):
        return ("the browser shows saved outputs, whichever engine runs: tested once, on the "
                "run without CHAINRULE_PURE_PYTHON")
    return jupyter_browser.why_not("PIL")


if _why_not():
    pytest.skip(_why_not(), allow_module_level=True)
pytestmark = pytest.mark.slow

from PIL import Image  # noqa: E402  (matplotlib's dependency, in the test extra)
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

LEAF_FILL = (0xDB, 0xE8, 0xFB)  # viz's colour for a leaf
OP_FILL = (0xEE, 0xEE, 0xEE)  # and for an op


def saved_drawings(path: Path) -> list[dict[str, Any]]:
    """Each image a notebook's saved outputs show, in order: its PNG's pixel size, the size
    it is to be shown at, and whether it is a drawing (an output that also carries SVG)."""
    images = []
    for cell in nbformat.read(path, as_version=4).cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "image/png" not in data and "image/svg+xml" in data:
                raise AssertionError(f"{path.name}: a drawing saved without a PNG: an untrusted "
                                     "notebook shows it as text; run ./dev.sh notebooks")
            if "image/png" in data:
                png = base64.b64decode(data["image/png"])
                shown = output.get("metadata", {}).get("image/png", {})
                images.append({"natural": [int.from_bytes(png[16:20], "big"),
                                           int.from_bytes(png[20:24], "big")],
                               "width": shown.get("width"),
                               "drawing": "image/svg+xml" in data})
    return images


WITH_DRAWINGS = [path for path in notebook_paths() if any(
    "image/svg+xml" in output.get("data", {})
    for cell in nbformat.read(path, as_version=4).cells for output in cell.get("outputs", []))]
TRUSTED = "trusted-copy.ipynb"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab serving a copy of the notebooks on localhost, with Jupyter's own folders
    fresh (so no trust database from an earlier ``./dev.sh lab`` applies): (url, token)."""
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    for path in notebook_paths():
        shutil.copy(path, root)
    env = jupyter_browser.fresh_jupyter_env(home)
    # the control: the drawings' cells of one notebook (fewer cells: quicker to show), trusted
    # as ./dev.sh lab does it
    trusted = nbformat.read(WITH_DRAWINGS[0], as_version=4)
    trusted.cells = [cell for cell in trusted.cells if any(
        "image/svg+xml" in output.get("data", {}) for output in cell.get("outputs", []))]
    nbformat.write(trusted, root / TRUSTED)
    subprocess.run([sys.executable, "-m", "jupyter", "trust", TRUSTED], cwd=root, env=env,
                   check=True, capture_output=True)
    with jupyter_browser.jupyterlab(home, root) as (url, token):
        yield url, token


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with jupyter_browser.chromium(tmp_path_factory.mktemp("chromium-profile")) as driver:
        yield driver


@pytest.fixture(scope="module")
def lab_page(lab, browser):
    """JupyterLab loaded once in the browser (loading it takes most of the time): the driver."""
    url, token = lab
    browser.get(f"{url}/lab?token={token}")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".jp-DirListing-item"),
             "JupyterLab's file browser", timeout=120)
    return browser


OPENED_JS = """
const tab = document.querySelector('.jp-mod-current .lm-TabBar-tabLabel, '
                                   + '.lm-DockPanel-tabBar .lm-mod-current .lm-TabBar-tabLabel');
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
return tab && tab.textContent === arguments[0] && panel
       && panel.querySelectorAll('.jp-Cell').length > 0;
"""


def open_notebook(browser, name: str) -> None:
    """Open ``name`` as a reader does: a double click in the file browser.

    JupyterLab redraws the file browser when it refreshes its listing: an item found may be
    gone by the time it is clicked, so until the notebook is open, its item is found and
    double-clicked again (opening an open notebook only shows it)."""
    def item():
        return next((item for item in browser.find_elements(
            By.CSS_SELECTOR, ".jp-DirListing-item")
            if item.find_element(By.CSS_SELECTOR, ".jp-DirListing-itemText")
            .get_attribute("textContent") == name
            and item.is_displayed() and item.size["height"] > 0), None)  # laid out: clickable

    clicked = [-float("inf")]  # when the item was last double-clicked

    def opened() -> bool:
        if browser.execute_script(OPENED_JS, name):
            return True
        if time.monotonic() - clicked[0] > jupyter_browser.scaled(10) and (found := item()):
            ActionChains(browser).double_click(found).perform()
            clicked[0] = time.monotonic()
        return False

    wait_for(opened, f"JupyterLab to open {name} (double-clicked in the file browser)",
             timeout=120)


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CHAINRULE_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the untrusted notebooks in {folder}")
    return folder


def colour_share(png: bytes, colour: tuple[int, int, int], tolerance: int = 6) -> float:
    """The share of a screenshot's pixels within ``tolerance`` of ``colour``."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counts = image.getcolors(image.width * image.height)
    near = sum(n for n, rgb in counts if max(abs(a - b) for a, b in zip(rgb, colour)) <= tolerance)
    return near / (image.width * image.height)


def dark_share(png: bytes) -> float:
    """The share of a screenshot's pixels dark enough to be text or a line."""
    image = Image.open(io.BytesIO(png)).convert("L")
    dark = sum(n for n, level in image.getcolors(256) if level < 100)
    return dark / (image.width * image.height)


def wait_until_painted(browser, selector: str, index: int, what: str) -> None:
    """Wait until the ``index``-th element of ``selector``, scrolled into view, shows a
    drawing as the reader sees it (its screenshot): viz's fills (a leaf's blue, an op's grey)
    and dark text and lines, not a blank (broken, or not yet painted) image."""
    looks: list[tuple[float, float]] = []

    def painted() -> bool:
        element = browser.find_elements(By.CSS_SELECTOR, selector)[index]
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
        picture = element.screenshot_as_png
        fills, dark = colour_share(picture, LEAF_FILL) + colour_share(picture, OP_FILL), \
            dark_share(picture)
        looks.append((round(fills, 4), round(dark, 4)))
        return fills > 0.005 and dark > 0.002

    wait_for(painted, f"{what} to show a leaf or an op, and text", timeout=30,
             seen=lambda: f"these shares of (fills, dark pixels): {looks[-3:]}")


IMAGES_JS = """
return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')]
  .flatMap(out => [...out.querySelectorAll('img')].map(img => ({
    natural: [img.naturalWidth, img.naturalHeight], complete: img.complete,
    shown: img.getBoundingClientRect().width, room: out.getBoundingClientRect().width})));
"""


@pytest.mark.parametrize("path", WITH_DRAWINGS, ids=lambda path: path.stem)
def test_every_saved_drawing_shows_in_an_untrusted_notebook(path, lab_page, screenshots):
    browser = lab_page
    saved = saved_drawings(path)
    open_notebook(browser, path.name)

    def loaded() -> list[dict[str, Any]] | None:
        found = browser.execute_script(IMAGES_JS)
        return found if len(found) >= len(saved) and all(i["complete"] for i in found) else None

    shown = wait_for(loaded, f"the {len(saved)} saved images of {path.name} to load",
                     seen=lambda: browser.execute_script(IMAGES_JS))
    assert [image["natural"] for image in shown] == [image["natural"] for image in saved]
    text = browser.execute_script(
        "return [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) "
        ".jp-OutputArea-output')].map(out => out.innerText).join('\\n')")
    assert "Digraph at 0x" not in text and "<graph of " not in text  # no drawing as its text
    # trusted, JupyterLab would prefer the SVG; untrusted, it shows none (SVG can run scripts)
    assert not browser.find_elements(By.CSS_SELECTOR, ".jp-RenderedSVG")
    images = ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output img"
    first = True
    for index, (image, on_page) in enumerate(zip(saved, shown)):
        if not image["drawing"]:
            continue  # a matplotlib plot
        assert on_page["shown"] == pytest.approx(min(image["width"], on_page["room"]), abs=2)
        wait_until_painted(browser, images, index, f"drawing {index} of {path.name}")
        if first:  # the notebook as the reader sees it, at its first drawing
            (screenshots / f"{path.stem}.png").write_bytes(browser.get_screenshot_as_png())
            first = False
    (screenshots / f"{path.stem}.json").write_text(json.dumps(shown, indent=1))


def test_the_control_a_trusted_copy_shows_svg(lab_page):
    """The same drawings, trusted: JupyterLab shows their SVG and no PNG. So the test above,
    which finds no SVG, did look at an untrusted notebook."""
    browser = lab_page
    drawings = sum(image["drawing"] for image in saved_drawings(WITH_DRAWINGS[0]))
    open_notebook(browser, TRUSTED)
    panel = ".jp-NotebookPanel:not(.lm-mod-hidden)"
    wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, f"{panel} .jp-RenderedSVG"))
             == drawings, f"the {drawings} SVG drawings of the trusted copy")
    assert not browser.find_elements(By.CSS_SELECTOR, f"{panel} .jp-RenderedImage")
