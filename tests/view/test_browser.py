"""The viewer's page in a real browser: Debian's headless Chromium driven through its chromedriver.

Skips when no Chromium/chromedriver is installed (``apt-get install chromium chromium-driver``) or
Selenium is missing; Selenium is pointed at those binaries and never fetches a browser of its own.
"""

from __future__ import annotations

import os
import shutil

import pytest

import gan3d
from gan3d.view import ViewServer, ViewSession

CHROMIUM = next((p for p in (os.environ.get("GAN3D_CHROMIUM"), shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p), None)
DRIVER = shutil.which("chromedriver")

pytestmark = pytest.mark.skipif(CHROMIUM is None or DRIVER is None,
                                reason="no Chromium browser with chromedriver installed "
                                       "(Debian: apt-get install chromium chromium-driver)")


@pytest.fixture
def browser():
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the test extra)")
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1100,800", "--disable-extensions"):
        opts.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=opts)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def server():
    session = ViewSession(["toy/sphere", "toy/sphere16"], lambda name: gan3d.load(name))
    srv = ViewServer(session, "127.0.0.1", 0)
    srv.start_background()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_slider_and_model_switch_in_chromium(browser, server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    wait = WebDriverWait(browser, 60)
    browser.get(server.url)
    wait.until(lambda d: d.find_element(By.ID, "img0").get_attribute("data-rid"))
    img = browser.find_element(By.ID, "img0")
    first_rid, first_src = int(img.get_attribute("data-rid")), img.get_attribute("src")
    assert img.get_attribute("data-model") == "toy/sphere"
    assert browser.execute_script("return arguments[0].naturalWidth", img) == 64  # a decoded PNG
    # the trained pose range is drawn on the sliders, one band per shown model
    assert len(browser.find_elements(By.CSS_SELECTOR, "#yawbox .band")) == 2

    # move the yaw slider with the keyboard, as a person would: a newer image must arrive
    slider = browser.find_element(By.ID, "yaw")
    slider.send_keys(Keys.ARROW_RIGHT * 10)
    wait.until(lambda d: float(d.find_element(By.ID, "yawv").text) > 0.1)
    wait.until(lambda d: int(d.find_element(By.ID, "img0").get_attribute("data-rid")) > first_rid)
    img = browser.find_element(By.ID, "img0")
    assert img.get_attribute("src") != first_src
    assert server.session.mappings >= 1

    # switch panel 1 to the other model: its image must come from that model
    Select(browser.find_element(By.ID, "model0")).select_by_value("toy/sphere16")
    wait.until(lambda d: d.find_element(By.ID, "img0").get_attribute("data-model") == "toy/sphere16")
    # a bad value typed into the page is answered with a message, not a broken page
    browser.execute_script("document.getElementById('seed').value='-5';"
                           "document.getElementById('seed').dispatchEvent(new Event('change'))")
    wait.until(lambda d: "seed" in d.find_element(By.CSS_SELECTOR, "#panel0 .status").text)
    assert "error" in browser.find_element(By.CSS_SELECTOR, "#panel0 .status").get_attribute("class")
