"""Browser tests: the reference frontend in real headless Chromium (Debian's chromium + chromium-driver, Selenium),
through the gateway of the running stack (`make up`), each page checked with axe-core and photographed.

Screenshots go to tests/browser/results/ (ignored by git). Waits are WebDriverWait with a deadline, never sleeps.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.journeys.conftest import gateway, token  # noqa: F401  (fixtures of the journeys, reused)
from tests.support.infra import GATEWAY
from tests.support.shop import Shop
from tests.support.users import UsersApi, journey_fixtures

pytestmark = pytest.mark.journey

HERE = Path(__file__).parent
RESULTS = HERE / "results"
AXE = HERE / "vendor" / "axe-core-4.14.1" / "axe.min.js"
BASE = f"{GATEWAY}/kundencenter"
WAIT_S = float(os.environ.get("KC_BROWSER_WAIT_S", "30"))
CHROMIUM = os.environ.get("KC_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("KC_CHROMEDRIVER", "/usr/bin/chromedriver")
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

registrar, users_api = journey_fixtures()


class Person:
    """One person in their own browser (own cookies): what they do on the pages, and the checks of every page."""

    def __init__(self, driver: webdriver.Chrome, name: str) -> None:
        self.driver = driver
        self.name = name
        self.wait = WebDriverWait(driver, WAIT_S)

    # --- moving around
    def open(self, path: str) -> None:
        self.driver.get(path if path.startswith("http") else BASE + path)

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(BASE)

    def element(self, css: str) -> WebElement:
        return self.wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, css)))

    def text(self, css: str = "main") -> str:
        return self.element(css).text

    def heading(self) -> str:
        return self.text("h1")

    def fill(self, field_id: str, value: str) -> None:
        box = self.element(f"#{field_id}")
        box.clear()
        box.send_keys(value)

    def choose(self, field_id: str, value: str) -> None:
        Select(self.element(f"#{field_id}")).select_by_value(value)

    def click(self, css: str) -> None:
        """Click and wait until the next page is there (the old one is gone)."""
        old = self.element("html")
        self.element(css).click()

        def gone(_: Any) -> bool:
            try:
                old.is_enabled()
            except StaleElementReferenceException:
                return True
            except WebDriverException:  # the page is being replaced: ask again
                return False
            return False

        self.wait.until(gone)
        self.element("main")

    def until_text(self, css: str, wanted: str, reload: bool = False) -> str:
        """Wait until ``css`` contains ``wanted`` (``reload``: load the page anew between looks)."""

        def seen(_: Any) -> str | bool:
            if reload:
                self.driver.refresh()
            try:
                found = self.driver.find_element(By.CSS_SELECTOR, css).text
            except Exception:
                return False
            return found if wanted in found else False

        try:
            return str(self.wait.until(seen))
        except TimeoutException:
            shown = self.driver.find_element(By.CSS_SELECTOR, "main").text[:800]
            raise AssertionError(
                f"{self.name}: {wanted!r} never appeared in {css} of {self.path}; page: {shown}"
            ) from None

    def sign_in(self, email: str) -> None:
        self.open("/login")
        self.fill("f-email", email)
        self.click("form[action$='/login'] button[type=submit]")

    # --- checks of every page
    def check(self, shot: str) -> None:
        """axe-core finds no WCAG 2.1 A/AA violation on the page; a screenshot goes to results/<shot>.png."""
        RESULTS.mkdir(exist_ok=True)
        self.driver.save_screenshot(str(RESULTS / f"{shot}.png"))
        self.driver.execute_script(AXE.read_text())
        violations = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
            ".then(r => done(r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,"
            " nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}))))"
            ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));",
            AXE_TAGS,
        )
        assert violations == [], f"accessibility violations on {shot} ({self.path}):\n" + json.dumps(
            violations, indent=1
        )


def chromium() -> webdriver.Chrome:
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        pytest.fail(f"{CHROMIUM} and {CHROMEDRIVER} are needed: `bash deploy/local/bootstrap.sh` installs them")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000",
                     "--lang=de-DE", "--disable-gpu", "--no-first-run", "--disable-extensions"):  # fmt: skip
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "de-DE,de"})
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_script_timeout(WAIT_S)
    driver.set_page_load_timeout(WAIT_S)
    return driver


@pytest.fixture(scope="session")
def browsers() -> Iterator[list[webdriver.Chrome]]:
    """Up to three browsers for the whole run (starting one costs ~1 s); each test clears their cookies."""
    started: list[webdriver.Chrome] = []
    yield started
    for driver in started:
        driver.quit()


@pytest.fixture
def people(browsers: list[webdriver.Chrome]) -> Any:
    """``people("buyer")``: a person in a browser of their own, with no cookies of an earlier test."""
    used = 0

    def person(name: str) -> Person:
        nonlocal used
        if used == len(browsers):
            browsers.append(chromium())
        driver = browsers[used]
        used += 1
        driver.get(BASE + "/healthz-none")  # a page of the frontend's origin, so its cookies can be cleared
        driver.delete_all_cookies()
        return Person(driver, name)

    return person


@pytest.fixture
async def shop(users_api: UsersApi) -> Shop:
    """A company registered over Kafka (the registration journey itself is tested in the browser on its own)."""
    from tests.conftest import eventually

    company = await users_api.company()
    s = Shop(users_api, company)
    await eventually(lambda: s.known_to_approval(company.main), what="approval to know the main contact")
    return s


LINK = re.compile(
    r"http://[^\s\"'<>]+/kundencenter/registration/confirm\?registration=[0-9a-f-]+&(?:amp;)?token=[A-Za-z0-9_-]+"
)
