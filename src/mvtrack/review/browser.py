"""The review app in a background thread and headless Chromium driving it: for the browser test and
scripts/review_screenshots.py (needs selenium and Debian's ``chromium`` + ``chromium-driver``)."""

from __future__ import annotations

import shutil
import socket
import tempfile
import threading
import time
from contextlib import contextmanager
from pathlib import Path

CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


def browser_missing() -> str | None:
    """Why a headless-browser run cannot happen here, or None."""
    import importlib.util

    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e '.[dev]')"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@contextmanager
def serving(out_dir: Path | str):
    """The review app over ``out_dir`` on a free 127.0.0.1 port in a daemon thread; yields its URL."""
    import uvicorn

    from mvtrack.review.app import create_app

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(out_dir), log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """A headless Chromium (selenium WebDriver) with a fresh profile, closed afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="mvtrack-chromium-")
    options = webdriver.ChromeOptions()
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    options.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver, script: str, timeout: float = 20.0, what: str = "the page"):
    """Poll a JavaScript expression until it is truthy; returns its value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = driver.execute_script(f"return ({script});")
        if value:
            return value
        time.sleep(0.05)
    raise TimeoutError(f"{what}: {script} still false after {timeout:.0f} s")


def open_study(driver, url: str, study: str) -> None:
    """Open a study page and wait until its frames are drawn and nothing is loading."""
    from urllib.parse import quote

    driver.get(f"{url}/study?id={quote(study)}")
    wait_for(driver, "document.body.dataset.ready === '1' && document.body.dataset.busy === '0'", what=study)


def drag_point(driver, view: str, index: int, dx: float, dy: float) -> None:
    """Drag point ``index`` of ``view``'s current frame by (dx, dy) CSS pixels, then wait for the re-tracking."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    canvas = driver.find_element(By.CSS_SELECTOR, f".view[data-view='{view}'] canvas.cine")
    at = driver.execute_script(f"return window.mvtrackReview.pointOnPage('{view}', {index});")
    requests = driver.execute_script("return window.mvtrackReview.state.request;")
    # Offsets from the canvas's centre (selenium 4); moves in steps, as a hand would.
    x, y = at["canvasX"] - at["width"] / 2, at["canvasY"] - at["height"] / 2
    actions = ActionChains(driver, duration=20).move_to_element_with_offset(canvas, round(x), round(y)).click_and_hold()
    for step in range(1, 5):
        actions = actions.move_to_element_with_offset(canvas, round(x + dx * step / 4), round(y + dy * step / 4))
    actions.release().perform()
    wait_for(driver, f"window.mvtrackReview.state.request > {requests} && document.body.dataset.busy === '0'",
             what=f"re-tracking after dragging {view} point {index}")
