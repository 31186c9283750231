"""`finsent dashboard` as a real process, driven by headless Chromium through Selenium."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine

from storage.articles import save_scored_batch
from streams.broker_process import free_port
from testkit.factories import article
from testkit.processes import FinsentProcess
from tests.dashboard_seed import SCRIPT_TITLE, seed
from tests.system_programs import program

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
PASSWORD = "correct horse"

pytestmark = pytest.mark.needs("chromium", "chromedriver")  # found on PATH


@pytest.fixture
def browser() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = program("chromium")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-dev-shm-usage",
        "--window-size=1400,1300",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(program("chromedriver")), options=options)
    yield driver
    driver.quit()


@contextmanager
def serving(
    db: Engine, pg_url: str, cli_env: dict[str, str], tmp_path: Path, password: str | None = None
) -> Iterator[str]:
    """The dashboard on a free port against the seeded database; its base URL."""
    seed(db, datetime.now(UTC))
    port = free_port()
    cli_env.update(
        FINSENT_DATABASE_URL=pg_url,
        FINSENT_DASHBOARD_PORT=str(port),
        FINSENT_DASHBOARD_REFRESH_INTERVAL="2",
    )
    if password is not None:
        cli_env["FINSENT_DASHBOARD_PASSWORD"] = password
    proc = FinsentProcess(["dashboard"], cli_env, tmp_path / "dashboard.log").start()
    try:
        proc.wait_for_log("You can now view your Streamlit app", timeout=90)
        assert f"dashboard: http://127.0.0.1:{port}" in proc.log()
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stop()
    assert "Traceback" not in proc.log(), proc.log()[-3000:]


@pytest.fixture
def dashboard(db: Engine, pg_url: str, cli_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    with serving(db, pg_url, cli_env, tmp_path) as base:
        yield base


@pytest.fixture
def guarded_dashboard(
    db: Engine, pg_url: str, cli_env: dict[str, str], tmp_path: Path
) -> Iterator[str]:
    """The same, with FINSENT_DASHBOARD_PASSWORD set."""
    with serving(db, pg_url, cli_env, tmp_path, password=PASSWORD) as base:
        yield base


def body(driver: WebDriver) -> str:
    return str(driver.find_element(By.TAG_NAME, "body").text)


def cells(driver: WebDriver) -> list[str]:
    """The text of the table cells Streamlit's data grid exposes to assistive tech.

    Read in one script, so a grid that re-renders between two reads (the page refreshes
    itself every few seconds) cannot leave a stale element behind.
    """
    texts = driver.execute_script(
        "return Array.from(document.querySelectorAll('[role=gridcell]'), c => c.textContent || '');"
    )
    return [str(t) for t in texts]


def wait(driver: WebDriver, what: str, check: object, timeout: float = 60) -> None:
    try:
        WebDriverWait(
            driver,
            timeout,
            poll_frequency=0.5,
            ignored_exceptions=(NoSuchElementException, StaleElementReferenceException),
        ).until(check)  # type: ignore[arg-type]
    except Exception as e:
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "dashboard-failure.png"))
        raise AssertionError(f"{what}: not seen in {timeout}s\n{body(driver)[:3000]}") from e


def click_oldest_point(driver: WebDriver, tries: int = 5) -> None:
    """Click the leftmost point of the polarity chart (the oldest bucket).

    The page re-renders itself every few seconds, so the chart found may be replaced before
    the click lands: find it again and retry.
    """
    for attempt in range(tries):
        try:
            chart = driver.find_elements(By.CSS_SELECTOR, ".vega-embed")[0]
            points = chart.find_elements(By.CSS_SELECTOR, ".mark-symbol path")
            oldest = min(points, key=lambda p: p.location["x"])
            ActionChains(driver).move_to_element(oldest).click().perform()
            return
        except StaleElementReferenceException:
            if attempt == tries - 1:
                raise


def test_overview_renders_topics_and_alerts_and_refreshes_live(
    dashboard: str, browser: WebDriver, db: Engine
) -> None:
    browser.get(dashboard)
    wait(browser, "the market mood", lambda d: "Market mood" in body(d))
    wait(browser, "the topics table", lambda d: {"oil", "banks", "market"} <= set(cells(d)))
    text = body(browser)
    assert "oil: negative-surge firing since" in text  # the firing alert, on top
    assert "-0.375" in text and "75.0 %" in text  # the seeded mood
    assert "Articles, last hour\n4" in text
    assert "Polarity by topic and hour" in text
    row = cells(browser)
    oil = row.index("oil")
    assert row[oil + 1 : oil + 3] == ["firing (1)", "4"]  # alert badge, volume
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "dashboard-overview.png"
    browser.save_screenshot(str(shot))
    assert shot.stat().st_size > 10_000
    if os.environ.get("FINSENT_UPDATE_SCREENSHOT"):  # refresh the README's picture
        shutil.copyfile(shot, REPO / "docs" / "overview.png")

    # a new article appears without a reload: the live panel refreshes itself
    save_scored_batch(
        db,
        [
            article(
                99,
                label="positive",
                published_at=datetime.now(UTC) - timedelta(minutes=1),
                topics=("banks", "market"),
                title="Late bank upgrade",
            )
        ],
    )
    wait(
        browser,
        "the fifth article of the hour",
        lambda d: "Articles, last hour\n5" in body(d),
        timeout=30,
    )


def test_a_script_in_a_headline_is_shown_as_text(dashboard: str, browser: WebDriver) -> None:
    browser.get(f"{dashboard}/feed")
    wait(browser, "the feed", lambda d: SCRIPT_TITLE in cells(d))
    assert browser.title != "pwned"
    scripts = browser.find_elements(By.TAG_NAME, "script")
    assert not [s for s in scripts if "pwned" in str(s.get_attribute("textContent"))]
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "dashboard-feed.png"))


def test_clicking_a_point_shows_the_headlines_behind_it(dashboard: str, browser: WebDriver) -> None:
    browser.get(f"{dashboard}/topic")
    wait(browser, "the topic chart", lambda d: d.find_elements(By.CSS_SELECTOR, ".vega-embed"))
    recent = {"Oil prices plunge on glut", "Refiners warn of losses", "Banks beat estimates"}
    # the page opens on the newest point: some of the last hour's stories
    wait(browser, "the newest point's headlines", lambda d: recent & set(cells(d)))
    click_oldest_point(browser)
    wait(browser, "the oldest point's headlines", lambda d: "OPEC output row" in cells(d))
    assert not recent & set(cells(browser))


def sign_in(driver: WebDriver, password: str) -> None:
    field = driver.find_element(By.ID, "password")
    field.clear()
    field.send_keys(password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()


def test_signing_in_on_the_login_page_opens_the_live_dashboard(
    guarded_dashboard: str, browser: WebDriver
) -> None:
    browser.get(f"{guarded_dashboard}/topic?topic=oil")
    wait(browser, "the login form", lambda d: d.find_elements(By.ID, "password"))
    assert "Market mood" not in body(browser) and not cells(browser)
    sign_in(browser, "correct hose")
    wait(browser, "the refusal", lambda d: "Wrong password." in body(d))
    sign_in(browser, PASSWORD)
    # the page asked for, drawn over the websocket the session cookie opened
    wait(browser, "the topic chart", lambda d: d.find_elements(By.CSS_SELECTOR, ".vega-embed"))
    assert browser.current_url == f"{guarded_dashboard}/topic?topic=oil"
    cookie = browser.get_cookie("finsent_session")
    assert cookie is not None and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert "finsent_session" not in str(browser.execute_script("return document.cookie"))

    browser.get(guarded_dashboard)
    wait(browser, "the market mood", lambda d: "Market mood" in body(d))
    wait(browser, "the topics table", lambda d: {"oil", "banks", "market"} <= set(cells(d)))
    assert "Sign out" in body(browser)

    browser.get(f"{guarded_dashboard}/_finsent/logout")
    wait(browser, "the sign-out", lambda d: "Signed out." in body(d))
    browser.get(guarded_dashboard)
    wait(browser, "the login form again", lambda d: d.find_elements(By.ID, "password"))


CHINESE_TITLE = "央行宣布降准0.5个百分点，银行股集体走强"

#: Draws two different Chinese characters on a canvas in the page's font and says
#: whether they came out as different glyphs: without a CJK font both are the same
#: "missing glyph" box (tofu).
DISTINCT_GLYPHS = """
const canvas = document.createElement('canvas');
canvas.width = 64; canvas.height = 64;
const ctx = canvas.getContext('2d');
const draw = ch => {
  ctx.clearRect(0, 0, 64, 64);
  ctx.font = '48px sans-serif';
  ctx.fillText(ch, 4, 52);
  return Array.from(ctx.getImageData(0, 0, 64, 64).data).join(',');
};
return draw('央') !== draw('行') && draw('银') !== draw('股');
"""


def test_chinese_headlines_are_shown_as_written(
    db: Engine, pg_url: str, cli_env: dict[str, str], tmp_path: Path, browser: WebDriver
) -> None:
    """Issue 26, item 4: a Chinese headline reaches the live feed intact (stored, read,
    sent and shown in UTF-8), and the browser draws its characters as glyphs, not boxes
    (the test machine's fonts: `make test-deps` installs a CJK one)."""
    from dataclasses import replace

    from tests.system_programs import in_ci

    with serving(db, pg_url, cli_env, tmp_path) as base:
        chinese = article(
            50,
            label="positive",
            published_at=datetime.now(UTC) - timedelta(minutes=5),
            topics=("banks", "central-banks", "market"),
            source="cn-wire",
            title=CHINESE_TITLE,
        )
        save_scored_batch(db, [replace(chinese, lang="zh")])
        browser.get(f"{base}/feed")
        wait(browser, "the Chinese headline", lambda d: CHINESE_TITLE in cells(d))
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "dashboard-feed-chinese.png"))
        if not browser.execute_script(DISTINCT_GLYPHS):
            message = "no CJK font on this machine: Chinese shows as boxes (make test-deps)"
            if in_ci():
                pytest.fail(message)
            pytest.skip(message)
