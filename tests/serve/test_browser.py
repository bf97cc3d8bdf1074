"""The chat page in headless Chromium: a typed question streams thinking into <details>, then the answer."""
import pytest

from reasonrl.serve.app import create_app
from reasonrl.serve.background import serving

from browser import chromium_driver, severe_console_errors

SCRIPT = "<think>\nSix sevens: 6*7 = 42. 六乘七得四十二。\n</think>\n<answer>42</answer>"


@pytest.mark.parametrize("question", ["What is 6*7?", "六乘以七等于几？"])
def test_chat_page_streams_thinking_then_answer(scripted, question):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    with serving(create_app(scripted(SCRIPT))) as url, chromium_driver() as driver:
        driver.get(url + "/")
        box = driver.find_element(By.ID, "question")
        box.send_keys(question)
        driver.find_element(By.ID, "send").click()
        WebDriverWait(driver, 30).until(
            lambda d: d.find_element(By.CSS_SELECTOR, ".turn .summary, .turn summary").text.startswith("Thought"))
        assert driver.find_element(By.CSS_SELECTOR, ".turn .user").text == question
        details = driver.find_element(By.CSS_SELECTOR, ".turn details.thinking")
        assert details.get_attribute("open") is None  # folded once the answer arrived
        reasoning = driver.execute_script("return document.querySelector('.turn .reasoning').textContent")
        assert reasoning == "Six sevens: 6*7 = 42. 六乘七得四十二。\n"
        assert driver.find_element(By.CSS_SELECTOR, ".turn .answer").text == "42"
        assert driver.find_element(By.ID, "model").text == "scripted"
        assert severe_console_errors(driver) == []
