"""Headless Chromium for tests (report page, chat page), via selenium; skips when it is not installed.

    from browser import chromium_driver          # tests/ on sys.path (tests/report/conftest.py adds it)

    def test_page(tmp_path):
        with chromium_driver() as driver:          # pytest.skip(...) here if chromium is missing
            driver.get(page.as_uri())
            assert severe_console_errors(driver) == []
            png = driver.get_screenshot_as_png()
            assert distinct_colours(png) > 50       # not a blank page

`install.sh test` installs Debian's chromium and chromium-driver. The flags below keep Chromium
off the network (the test machines have none; without them it tries to reach Google services
and logs errors) and the fresh --user-data-dir keeps parallel tests from sharing a profile lock.
"""
from __future__ import annotations

import contextlib
import io
import shutil
import tempfile
from collections.abc import Iterator

import pytest

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",  # containers often have a 64 MB /dev/shm; Chromium crashes tabs in it
)


def find_chromium() -> tuple[str | None, str | None]:
    """(chromium binary, chromedriver binary) on PATH; either may be None."""
    binary = next((p for p in map(shutil.which, CHROMIUM_NAMES) if p), None)
    return binary, shutil.which("chromedriver")


@contextlib.contextmanager
def chromium_driver(width: int = 1280, height: int = 1600) -> Iterator:
    """A selenium Chrome WebDriver on headless Chromium that records the browser console.

    Skips the calling test (pytest.skip, with the reason) if selenium, chromium or chromedriver is
    missing. Once they are installed, a driver that fails to start is a real failure, not a skip.
    """
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium not installed (pip install -e '.[test]')")
    binary, driver_path = find_chromium()
    if binary is None:
        pytest.skip("chromium not installed (run `./install.sh test` or apt-get install chromium chromium-driver)")
    if driver_path is None:
        pytest.skip("chromedriver not installed (run `./install.sh test` or apt-get install chromium-driver)")
    profile = tempfile.mkdtemp(prefix="reasonrl-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(flag)
    # Keep every console message (default is warnings and up only) so tests can see all of them.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path keeps Selenium Manager from trying to download one.
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def severe_console_errors(driver) -> list[str]:
    """Console messages at SEVERE level (JS errors, failed loads) since the last call."""
    return [e["message"] for e in driver.get_log("browser") if e.get("level") == "SEVERE"]


def distinct_colours(png: bytes) -> int:
    """Number of distinct RGB(A) colours in a PNG; 1 means a blank page.

    >>> import numpy as np, matplotlib.image as mpimg
    >>> buf = io.BytesIO(); mpimg.imsave(buf, np.zeros((4, 4, 3)), format="png")
    >>> distinct_colours(buf.getvalue())
    1
    """
    import matplotlib.image as mpimg  # numpy decode of the PNG, without needing Pillow
    import numpy as np

    pixels = mpimg.imread(io.BytesIO(png), format="png")
    flat = pixels.reshape(-1, pixels.shape[-1]) if pixels.ndim == 3 else pixels.reshape(-1, 1)
    return len(np.unique(flat, axis=0))
