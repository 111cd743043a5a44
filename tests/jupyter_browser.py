"""JupyterLab in headless Chromium, for the browser tests: why a machine cannot run them, a
JupyterLab server with fresh Jupyter folders, the browser, and a wait on a condition whose
time limit grows with the machine's load (``scaled``).

Needs Debian's ``chromium`` and ``chromium-driver``, ``selenium`` and ``jupyterlab``; nothing is
downloaded: the driver and the browser are the installed ones (Selenium Manager is not run).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000")


def why_not(*packages: str) -> str | None:
    """Why this machine cannot run a browser test, or None (checked before any heavy import)."""
    if CHROMIUM is None or CHROMEDRIVER is None:
        return ("needs Chromium and its driver: apt-get install chromium chromium-driver "
                "(./dev.sh test does it as root)")
    for package in ("selenium", "jupyterlab", *packages):
        if importlib.util.find_spec(package) is None:
            return f"needs {package}: pip install -e '.[test]'"
    return None


def fresh_jupyter_env(home: Path) -> dict[str, str]:
    """The environment with every Jupyter folder under ``home`` (no earlier trust database,
    settings or workspace applies)."""
    return {**os.environ, **{name: str(home / folder) for name, folder in [
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]}}


def scaled(seconds: float) -> float:
    """``seconds``, scaled to the machine: ``$CHAINRULE_TIMEOUT_SCALE`` times, or if unset, the
    load per core when above 1 (a loaded 2-core CI machine takes several times longer to start
    JupyterLab and Chromium; a wait that then times out says nothing about the code).

    >>> scaled(10) >= 10
    True
    """
    factor = os.environ.get("CHAINRULE_TIMEOUT_SCALE")
    if factor:
        try:
            return seconds * float(factor)
        except ValueError:
            raise ValueError("CHAINRULE_TIMEOUT_SCALE must be a number (the factor for the "
                             f"browser tests' time limits), got {factor!r}") from None
    try:
        load = os.getloadavg()[0] / (os.cpu_count() or 1)
    except (AttributeError, OSError):  # no load average on this system
        load = 1.0
    return seconds * max(1.0, load)


@contextlib.contextmanager
def jupyterlab(home: Path, root: Path, *options: str) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root`` on localhost, its Jupyter folders under ``home``, its log in
    ``home/jupyterlab.log``: (url, token). Kernels run this interpreter.

    The server takes a port the system gives it (port 0; no port chosen here that another
    process could take first) and says which in its runtime file; on leaving, it is stopped and
    waited for (killed if it does not stop), its kernels with it."""
    token = secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               "--ServerApp.port=0", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", *options]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as ./dev.sh lab: JupyterLab refuses root without it
    env = fresh_jupyter_env(home)
    log_path = home / "jupyterlab.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, cwd=root, stdout=log,
                                  stderr=subprocess.STDOUT)
        try:
            info = Path(env["JUPYTER_RUNTIME_DIR"]) / f"jpserver-{server.pid}.json"

            def ready() -> str | None:
                if server.poll() is not None:
                    raise AssertionError(f"JupyterLab exited with status {server.returncode}:\n"
                                         + log_path.read_text())
                try:
                    url = json.loads(info.read_text())["url"].rstrip("/")
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=5):
                        return url
                except (OSError, ValueError, KeyError):  # not written, half written, not up
                    return None

            url = wait_for(ready, "JupyterLab to start", timeout=60,
                           seen=lambda: "its log:\n" + log_path.read_text())
            yield url, token
        finally:
            server.terminate()  # it shuts its kernels down, then exits
            try:
                server.wait(timeout=scaled(30))
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile in ``profile``, driven by Selenium; quit on
    leaving."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # the installed driver, named: Selenium Manager (which may download one) is not run
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    try:
        driver.set_page_load_timeout(scaled(120))
        driver.set_script_timeout(scaled(60))
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0,
             seen: Callable[[], Any] | None = None) -> Any:
    """``condition()`` once it is true, asked every 0.2 s for ``scaled(timeout)`` seconds;
    ``seen()`` says what there was instead.

    A condition that reads the page may find an element gone when JupyterLab redraws it
    (Selenium's ``StaleElementReferenceException``): that is "not yet", and it is asked again.
    """
    from selenium.common.exceptions import StaleElementReferenceException

    limit = scaled(timeout)
    deadline = time.monotonic() + limit
    while True:
        try:
            result = condition()
        except StaleElementReferenceException:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            found = ""
            if seen:
                with contextlib.suppress(StaleElementReferenceException):
                    found = f"; found {seen()}"
            raise AssertionError(f"timed out after {limit:.0f} s waiting for {what}{found}")
        time.sleep(0.2)
