"""The backward-pass stepper in a real browser: JupyterLab in headless Chromium opens a small
notebook, runs it with a live kernel (on the engine this run tests: the kernel inherits
``CHAINRULE_PURE_PYTHON``), and the slider and the "next" button each change the drawing.

And the fallback: notebook 01 as saved, opened untrusted (a fresh Jupyter data folder) and
not run, shows the stepper's saved text, the walk with the step it was saved at marked
(JupyterLab shows neither widgets nor SVG from an untrusted notebook).

A screenshot of the widget after each move is kept in pytest's temporary folder (the path is
printed; ``-s`` shows it), or in ``$CHAINRULE_SCREENSHOTS`` when set. Skipped, with the reason,
without Chromium, its driver, selenium, jupyterlab or ipywidgets (tests/jupyter_browser.py).
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import nbformat
import pytest
from jupyter_browser import chromium, jupyterlab, wait_for, why_not
from notebook_outputs import NOTEBOOKS

if why_not("ipywidgets"):
    pytest.skip(why_not("ipywidgets"), allow_module_level=True)
pytestmark = pytest.mark.slow

from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402

NOTEBOOK = "stepper.ipynb"
SAVED = NOTEBOOKS / "01_backprop_by_hand.ipynb"
CODE = """\
from autograd import Value
from autograd.stepper import step_through

x = Value(0.5, label="x")
y = (x * x + x).tanh()
y.label = "y"
step_through(y)
"""

DRAWING_JS = """
const svg = document.querySelector('.chainrule-step-drawing svg');
const words = [...document.querySelectorAll('.jupyter-widgets pre')].map(pre => pre.textContent);
const texts = svg && [...svg.querySelectorAll('text')].map(t => t.textContent);
return svg && {texts: texts, locals: texts.filter(t => t.startsWith('local ')).length,
               words: words.join('')};
"""
"""The widget as shown, in one look (the page cannot change during a script): the drawing's
texts, its number of local derivatives, and the step in words. The kernel sends the words
first, then the drawing: for a moment after a move they disagree, so a test waits for both."""


def step_of(shown: dict) -> int | None:
    """The step's number in the words under the slider."""
    found = re.search(r"step (\d+) of", shown["words"])
    return found and int(found.group(1))


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    home = tmp_path_factory.mktemp("lab")
    root = home / "notebooks"
    root.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(CODE)],
                                            metadata={"kernelspec": {"name": "python3",
                                                                     "display_name": "Python 3",
                                                                     "language": "python"}}),
                   root / NOTEBOOK)
    shutil.copy(SAVED, root)
    # expose_app_in_browser: window.jupyterapp, to run the notebook by its command
    with jupyterlab(home, root, "--LabApp.expose_app_in_browser=True") as (url, token):
        yield url, token


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    folder = Path(os.environ.get("CHAINRULE_SCREENSHOTS") or tmp_path_factory.mktemp("screens"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots of the stepper in {folder}")
    return folder


def test_moving_the_slider_changes_the_drawing(lab, tmp_path, screenshots):
    url, token = lab
    with chromium(tmp_path / "profile") as browser:
        browser.get(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
        kernel_idle = ("const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
                       "const kernel = panel && panel.sessionContext && "
                       "panel.sessionContext.session && panel.sessionContext.session.kernel;"
                       "return !!kernel && kernel.status === 'idle' && "
                       "panel.content.widgets.length > 0;")
        wait_for(lambda: browser.execute_script(kernel_idle), "the notebook and its kernel",
                 timeout=120)
        browser.execute_script(
            "window.jupyterapp.commands.execute('notebook:run-all-cells')")

        def drawing():
            return browser.execute_script(DRAWING_JS)

        first = wait_for(drawing, "the stepper's drawing", timeout=120,
                         seen=lambda: browser.find_element(By.CSS_SELECTOR, ".jp-OutputArea")
                         .text)
        assert "step 0 of 0..2" in first["words"]  # the steps at tanh, + and *
        assert first["locals"] == 1  # the root's step: one red edge, to tanh's input
        widget = browser.find_element(By.CSS_SELECTOR, ".jp-OutputArea-output .jupyter-widgets")
        browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", widget)
        (screenshots / "stepper-step0.png").write_bytes(widget.screenshot_as_png)

        # the slider, moved as a reader moves it: its handle dragged to the right
        handle = browser.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-handle")
        track = browser.find_element(By.CSS_SELECTOR, ".widget-slider .noUi-base")
        ActionChains(browser).click_and_hold(handle).move_by_offset(
            track.size["width"] // 3 + 2, 0).release().perform()
        # the drawing changes, and the words (sent before it) say which step it is
        moved = wait_for(lambda: (now := drawing()) and now["texts"] != first["texts"]
                         and step_of(now) != 0 and now,
                         "the drawing to change after moving the slider", seen=drawing)
        k = step_of(moved)
        assert k >= 1 and moved["locals"] == 2  # + and * each have two inputs
        (screenshots / f"stepper-step{k}.png").write_bytes(widget.screenshot_as_png)

        # and by the keyboard, then the "next" button, one step each: the words and the
        # drawing, both of the step reached (the drawing of step 0 as it first was)
        handle.send_keys(Keys.HOME)
        wait_for(lambda: (now := drawing()) and step_of(now) == 0
                 and now["texts"] == first["texts"],
                 "the slider's Home key to go back to step 0, words and drawing", seen=drawing)
        next_button = next(button for button in browser.find_elements(
            By.CSS_SELECTOR, ".widget-button") if button.text.strip() == "next")
        next_button.click()
        after = wait_for(lambda: (now := drawing()) and step_of(now) == 1
                         and now["texts"] != first["texts"] and now,
                         "the next button to show step 1, words and drawing", seen=drawing)
        if k == 1:  # the slider had shown step 1 too: the same drawing
            assert after["texts"] == moved["texts"]
        (screenshots / "stepper-next.png").write_bytes(browser.get_screenshot_as_png())


def test_a_saved_notebook_without_widgets_shows_the_steps_drawing(lab, tmp_path):
    """Opened before it is run (untrusted, no kernel), the stepper's cell shows its static
    fallback: the current step's drawing as a loaded image (its PNG; the walk as text stays in
    the output's text form, marking the current step), and no widget."""
    url, token = lab
    cell = next(cell for cell in nbformat.read(SAVED, as_version=4).cells
                if "step_through(" in cell.source)
    saved = "".join(cell.outputs[0]["data"]["text/plain"])
    assert any(line.startswith(">> step ") for line in saved.splitlines())
    assert "image/png" in cell.outputs[0]["data"]
    with chromium(tmp_path / "profile") as browser:
        # reset: a fresh workspace, without the stepper's notebook that the test above left
        # open (JupyterLab would reopen it beside this one, and start its kernel)
        browser.get(f"{url}/lab/tree/{SAVED.name}?reset&token={token}")
        # in one script (JupyterLab may redraw a cell between two calls from here), and in
        # the notebook shown: the stepper's cell, scrolled to, its saved drawing loaded
        found = """
            const tab = document.querySelector(
                '.lm-DockPanel-tabBar .lm-mod-current .lm-TabBar-tabLabel');
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            if (!tab || tab.textContent !== arguments[0] || !panel) return null;
            const cell = [...panel.querySelectorAll('.jp-CodeCell')].find(cell =>
                cell.textContent.includes('step_through('));
            if (!cell) return null;
            cell.scrollIntoView();
            const images = [...cell.querySelectorAll('.jp-OutputArea-output img')];
            return {loaded: images.filter(img => img.complete && img.naturalWidth > 0).length,
                    widgets: panel.querySelectorAll('.jupyter-widgets').length};
        """
        shown = wait_for(lambda: (now := browser.execute_script(found, SAVED.name))
                         and now["loaded"] and now, "the stepper's cell and its saved drawing",
                         seen=lambda: browser.execute_script(found, SAVED.name))
        assert shown == {"loaded": 1, "widgets": 0}  # the drawing, and no live widget
