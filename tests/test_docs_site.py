"""The reference site (``./dev.sh docs``, docs/build_site.py): built once, checked as files, then
opened in headless Chromium (pages, links, math rendered from the site itself, the search).

Skipped, saying why, without the ``[docs]`` extra, or without Chromium and its driver
(``apt-get install chromium chromium-driver``) for the browser part.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import importlib.util
import inspect
import os
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parent.parent
NEEDED = ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter",
          "jupyter_server_mathjax")
MISSING = [name for name in NEEDED if importlib.util.find_spec(name.split(".")[0]) is None]

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(bool(MISSING), reason=f"the site needs {', '.join(MISSING)}: pip install "
                                             f"'chainrule[docs]'"),
    pytest.mark.skipif(os.environ.get("CHAINRULE_PURE_PYTHON") == "1",
                       reason="the site does not depend on the engine: ./dev.sh test checks it "
                              "once, on the compiled core's run"),
]


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("site")
    run = subprocess.run([sys.executable, str(ROOT / "docs" / "build_site.py"), "--out",
                          str(out)], capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-3000:]
    print(run.stdout)
    return out


class Links(html.parser.HTMLParser):
    """The links of a page, and what it loads (scripts, stylesheets, images)."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.loads: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        if tag in ("script", "img", "iframe") and attrs.get("src"):
            self.loads.append(attrs["src"])
        if tag == "link" and attrs.get("href") and "stylesheet" in (attrs.get("rel") or ""):
            self.loads.append(attrs["href"])


def parse(page: Path) -> Links:
    links = Links()
    links.feed(page.read_text())
    return links


def public_names(module) -> list[str]:
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [name for name, obj in vars(module).items() if not name.startswith("_")
            and (inspect.isclass(obj) or inspect.isfunction(obj))
            and obj.__module__ == module.__name__]


def api_pages() -> dict[str, str]:
    """docs/build_site.py's ``API``: the modules with a page, and what each holds."""
    spec = importlib.util.spec_from_file_location("build_site", ROOT / "docs" / "build_site.py")
    build_site = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_site)
    return build_site.API


def test_the_site_has_a_page_for_each_module_users_import():
    """``autograd``, ``autograd.stepper`` (``step_through`` is imported from its module, not
    from ``autograd``), ``nn``, and nn's modules whose names ``nn`` does not export."""
    import autograd
    import autograd.stepper

    assert not set(autograd.stepper.__all__) & set(autograd.__all__)
    assert {"autograd", "autograd.stepper", "nn", "nn.gpt", "nn.corpus", "nn.train",
            "nn.serialization", "nn.pytorch", "nn.validation", "nn.plots", "nn.cli",
            "nn.gpt_cli"} <= set(api_pages())


@pytest.mark.parametrize("module", list(api_pages()))
def test_every_public_name_has_its_entry(site, module):
    imported = importlib.import_module(module)
    ids = parse(site / "api" / f"{module}.html").ids
    missing = [name for name in public_names(imported) if f"{module}.{name}" not in ids
               and f"{module}.{name}.{name}" not in ids]  # a function named as its module
    assert not missing, f"{module}: no entry for {missing}"


def test_every_guide_and_notebook_has_a_page(site):
    for path in (ROOT / "docs").glob("*.md"):
        assert (site / "guide" / f"{path.stem}.html").is_file(), path.name
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        page = (site / "notebooks" / f"{path.stem}.html").read_text()
        assert "jp-OutputArea" in page, f"{path.name}: no saved outputs shown"


def test_every_link_leads_to_a_page_and_nothing_comes_from_another_host(site):
    pages = sorted(site.rglob("*.html"))
    pages = [p for p in pages if "mathjax" not in p.parts and p.name != "404.html"]
    assert len(pages) > 25
    for page in pages:
        links = parse(page)
        for href in links.links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or not parts.path:
                continue  # another site (not loaded, only linked) or an anchor on the page
            target = (page.parent / parts.path).resolve()
            if target.is_dir():
                target /= "index.html"
            assert target.is_file(), f"{page.relative_to(site)}: broken link {href}"
        for src in links.loads:
            parts = urlsplit(src)
            assert not parts.netloc and parts.scheme in ("", "data"), \
                f"{page.relative_to(site)} loads {src[:80]} from another host"


# --- in a browser ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(site):
    import jupyter_browser

    if not (jupyter_browser.CHROMIUM and jupyter_browser.CHROMEDRIVER):
        pytest.skip("needs Chromium and its driver: apt-get install chromium chromium-driver")
    pytest.importorskip("selenium.webdriver", reason="needs selenium")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with jupyter_browser.chromium(site.parent / "chromium-profile") as driver:
            driver.base = f"http://127.0.0.1:{server.server_address[1]}/"
            yield driver
    finally:
        server.shutdown()
        server.server_close()


def wait_for(driver, script: str, seconds: float = 30.0):
    """The script's result once it is true, within ``seconds`` scaled to the machine's load."""
    from jupyter_browser import wait_for

    return wait_for(lambda: driver.execute_script(script), f"the page: {script}",
                    timeout=seconds)


def test_the_pages_open_in_a_browser(browser):
    for path, text in (("index.html", "chainrule"), ("api/nn.html", "to_torch"),
                       ("api/autograd.html", "gradcheck"), ("guide/pytorch.html", "from_torch"),
                       ("api/autograd.stepper.html", "step_through")):
        browser.get(browser.base + path)
        assert text in browser.find_element("tag name", "body").text, path


def test_math_is_rendered_from_the_site_itself(browser):
    browser.get(browser.base + "notebooks/01_backprop_by_hand.html")
    rendered = wait_for(browser, "return document.querySelectorAll("
                                 "'.MathJax_CHTML, .MathJax').length")
    assert rendered > 5
    hosts = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).host)")
    assert set(hosts) <= {browser.base.split("/")[2]}, set(hosts)


def test_the_search_finds_a_function(browser):
    browser.get(browser.base + "index.html")
    wait_for(browser, "return document.querySelector('.md-search__input') !== null")
    browser.execute_script("document.querySelector('.md-search__input').focus()")
    field = browser.find_element("css selector", ".md-search__input")
    field.send_keys("from_torch")
    found = wait_for(browser, "const items = document.querySelectorAll('.md-search-result__item');"
                              "return items.length && Array.from(items, i => i.textContent)"
                              ".join(' ')")
    assert "from_torch" in found
