"""An operator in a real browser: headless Chromium (Debian's package) against the live admin.

Logs in, creates an HTTP chrono through the form, presses "Run now", and sees the run
succeed in the chrono's inline and on the dashboard, with a real Celery worker and a
local HTTP target; then opens the API's Swagger UI. Screenshots of each step land in test-artifacts/browser/.

Skipped, saying why, where chromium is not installed (`make browser-deps` installs it);
in CI (CI=true) a missing browser fails the test instead.
"""

import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from automations.models import Chrono, ChronoRun
from tests.processes import running, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts" / "browser"

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def browser_missing() -> str:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    return f"{' and '.join(missing)} not installed (make browser-deps installs Debian's chromium)" if missing else ""


@pytest.fixture
def browser(tmp_path):
    reason = browser_missing()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")
    if reason:
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


class Operator:
    """What a person does in the admin, step by step, with a screenshot after each step."""

    def __init__(self, driver, base_url: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver, self.base_url, self.by = driver, base_url, By
        self.step = 0

    def open(self, path: str) -> None:
        self.driver.get(self.base_url + path)

    def find(self, css: str):
        return self.driver.find_element(self.by.CSS_SELECTOR, css)

    def type(self, css: str, text: str) -> None:
        field = self.find(css)
        field.clear()
        field.send_keys(text)

    def text(self, css: str) -> str:
        return self.find(css).text

    def wait_for_text(self, css: str, text: str, timeout: float = 15) -> None:
        """Wait for the page the last click loads: until `css` shows `text`."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        def shown(driver) -> bool:
            return text in driver.find_element(self.by.CSS_SELECTOR, css).text

        WebDriverWait(self.driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                      ).until(shown, message=f"{css!r} did not show {text!r}")

    def snap(self, name: str, element=None) -> Path:
        if element is not None:
            self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
        self.step += 1
        path = ARTIFACTS / f"{self.step:02d}-{name}.png"
        self.driver.save_screenshot(str(path))
        return path


def test_an_operator_creates_an_http_chrono_runs_it_now_and_sees_it_succeed(
        browser, live_server, local_server, django_user_model, tmp_path):
    from selenium.webdriver.support.ui import Select

    local_server.reply("/hook", status=200, body={"received": True})
    django_user_model.objects.create_superuser("operator", "op@example.org", "a-long-password")
    me = Operator(browser, live_server.url)

    me.open("/admin/login/")
    me.type("#id_username", "operator")
    me.type("#id_password", "a-long-password")
    me.find("input[type=submit]").click()
    me.wait_for_text("#site-name", "administration")
    me.snap("logged-in")

    me.open("/admin/automations/chrono/add/")
    me.type("#id_name", "Browser hook")
    me.type("#id_schedule", "daily at 07:30")
    Select(me.find("#id_target_type")).select_by_value("HTTP")
    Select(me.find("#id_method")).select_by_value("POST")
    me.type("#id_url", local_server.url("/hook"))
    me.snap("chrono-form")
    me.find("input[name=_save]").click()
    me.wait_for_text(".messagelist", "was added successfully")
    chrono = Chrono.objects.get(name="Browser hook")
    me.snap("chrono-list")

    with running("worker", log_dir=tmp_path):
        me.find(f"input[name=_selected_action][value='{chrono.pk}']").click()
        Select(me.find("select[name=action]")).select_by_value("run_now")
        me.find("button[name=index]").click()
        me.wait_for_text(".messagelist", "Triggered 1 chrono.")
        me.snap("run-now")
        run = wait_until(lambda: chrono.runs.filter(status__in=ChronoRun.FINAL).first(), timeout=60,
                         message="the run to finish")

    assert run.status == "success" and len(local_server.requests_to("/hook")) == 1
    me.open(f"/admin/automations/chrono/{chrono.pk}/change/")
    inline_row = me.find(".inline-related tbody tr")
    assert f"#{run.pk}" in inline_row.text and "Success" in inline_row.text and "200" in inline_row.text
    me.snap("inline-shows-success", inline_row)

    me.open("/admin/")
    assert me.text("#dashboard-runs-success strong") == "1"
    assert me.text("#dashboard-total-runs") == "1"
    me.snap("dashboard")

    # The API's documentation renders from assets ChronoFlow serves itself (no CDN needed).
    me.open("/api/docs/")
    me.wait_for_text(".swagger-ui .info .title", "ChronoFlow API")
    me.snap("api-docs")
