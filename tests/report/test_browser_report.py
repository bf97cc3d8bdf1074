"""Open the report in headless Chromium: no console errors, every figure decodes, the page is not blank.
Skips (with the reason) where chromium/chromedriver are not installed."""
from __future__ import annotations

from browser import chromium_driver, distinct_colours, severe_console_errors

from reasonrl.report.figures import FIGURES


def test_report_renders_in_chromium(grpo_report):
    with chromium_driver(width=1280, height=1400) as driver:
        driver.get(grpo_report.as_uri())
        logs = driver.get_log("browser")
        assert [e for e in logs if e.get("level") in ("SEVERE", "WARNING")] == []
        # every <img> finished loading and decoded to a real bitmap (a bad data URI gives width 0)
        n_images, n_decoded = driver.execute_script(
            "const imgs = Array.from(document.images);"
            "return [imgs.length, imgs.filter(i => i.complete && i.naturalWidth > 0).length];")
        assert n_images == n_decoded == len(FIGURES)
        png = driver.get_screenshot_as_png()
        assert png.startswith(b"\x89PNG")
        # a blank or unstyled page has a handful of colours; text + antialiased plots have thousands
        assert distinct_colours(png) > 500
        driver.execute_script("document.querySelector('.traces').scrollIntoView()")
        assert distinct_colours(driver.get_screenshot_as_png()) > 100
        assert severe_console_errors(driver) == []
