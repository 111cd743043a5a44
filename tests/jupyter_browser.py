"""JupyterLab in headless Chromium, for the browser tests: why a machine cannot run them, a
JupyterLab server with fresh Jupyter folders, the browser, and a wait.

Needs Debian's ``chromium`` and ``chromium-driver``, ``selenium`` and ``jupyterlab``; nothing is
downloaded: the driver and the browser are the installed ones (Selenium Manager is not run).
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import secrets
import shutil
import socket
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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def fresh_jupyter_env(home: Path) -> dict[str, str]:
    """The environment with every Jupyter folder under ``home`` (no earlier trust database,
    settings or workspace applies)."""
    return {**os.environ, **{name: str(home / folder) for name, folder in [
        ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data"),
        ("JUPYTER_RUNTIME_DIR", "runtime"), ("JUPYTERLAB_SETTINGS_DIR", "settings"),
        ("JUPYTERLAB_WORKSPACES_DIR", "workspaces"), ("IPYTHONDIR", "ipython")]}}


@contextlib.contextmanager
def jupyterlab(home: Path, root: Path, *options: str) -> Iterator[tuple[str, str]]:
    """JupyterLab serving ``root`` on localhost, its Jupyter folders under ``home``, its log in
    ``home/jupyterlab.log``: (url, token). Kernels run this interpreter."""
    port, token = free_port(), secrets.token_hex(16)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", *options]
    if os.geteuid() == 0:
        command.append("--allow-root")  # as ./dev.sh lab: JupyterLab refuses root without it
    log_path = home / "jupyterlab.log"
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=fresh_jupyter_env(home), cwd=root, stdout=log,
                                  stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2):
                        break
                except OSError:
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise AssertionError("JupyterLab did not start:\n" +
                                             log_path.read_text()) from None
                    time.sleep(0.25)
            yield url, token
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


@contextlib.contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """Headless Chromium with a fresh profile in ``profile``, driven by Selenium."""
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    # the installed driver, named: Selenium Manager (which may download one) is not run
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 60.0,
             seen: Callable[[], Any] | None = None) -> Any:
    """``condition()`` once it is true; ``seen()`` says what there was instead."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}" +
                                 (f"; found {seen()}" if seen else ""))
        time.sleep(0.2)
