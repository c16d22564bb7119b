"""An operator in a real browser: headless Chromium (Debian's package) against the live admin.

Two operators, each with a real Celery worker:
- in English, one creates an HTTP chrono through the form, runs it from the list's action and
  sees it succeed in the chrono's inline and on the dashboard, then opens the API's Swagger UI;
- in Brazilian Portuguese (the browser's language, so Accept-Language: pt-BR), one adds a
  development channel, creates a MESSAGE chrono through the form (only its fields shown),
  presses "Executar agora" and sees the message sent and the run succeed, its times in
  America/Sao_Paulo and labelled so; the dashboard's failing-chronos table is measured at
  1280, 1440 and 1920 px.

Screenshots land in $ARTEFACTS_DIR/screenshots/ (default: $DATA_DIR/artefacts/screenshots/),
1440 px wide, as tall as the page.

Skipped, saying why, where chromium is not installed (`make browser-deps` installs it);
in CI (CI=true) a missing browser fails the test instead.
"""

import base64
import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from automations.models import Chrono, ChronoRun
from tests.processes import running, wait_until
from whatsapp.models import Channel, Message

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WIDTH, HEIGHT = 1440, 1000
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", f"--window-size={WIDTH},{HEIGHT}"]
ARTEFACTS = Path(os.environ.get("ARTEFACTS_DIR") or Path(settings.DATA_DIR) / "artefacts") / "screenshots"
ZONE = "America/Sao_Paulo"

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def browser_missing() -> str:
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not shutil.which(path)]
    return f"{' and '.join(missing)} not installed (make browser-deps installs Debian's chromium)" if missing else ""


@pytest.fixture
def chromium(tmp_path):
    """``chromium(lang)``: a headless Chromium whose pages ask for ``lang`` (Accept-Language), quit after the test."""
    reason = browser_missing()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the browser test: {reason}")
    if reason:
        pytest.skip(reason)
    webdriver = pytest.importorskip("selenium.webdriver")
    drivers = []

    def start(lang: str = "en-US"):
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        # --lang sets the UI's language; the pref is what headless Chromium puts in Accept-Language.
        for flag in [*FLAGS, f"--lang={lang}", f"--user-data-dir={tmp_path / ('profile-' + lang)}"]:
            options.add_argument(flag)
        options.add_experimental_option("prefs", {"intl.accept_languages": lang})
        driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
        driver.set_page_load_timeout(30)
        drivers.append(driver)
        return driver

    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield start
    finally:
        for driver in drivers:
            driver.quit()


class Operator:
    """What a person does in the admin, step by step, with screenshots named by the caller."""

    def __init__(self, driver, base_url: str, prefix: str) -> None:
        from selenium.webdriver.common.by import By

        self.driver, self.base_url, self.by, self.prefix = driver, base_url, By, prefix
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

    def choose(self, css: str, value: str) -> None:
        from selenium.webdriver.support.ui import Select

        Select(self.find(css)).select_by_value(value)

    def log_in(self, username: str, password: str) -> None:
        self.open("/admin/login/")
        self.type("#id_username", username)
        self.type("#id_password", password)
        self.find("input[type=submit]").click()
        self.wait_for_text("#site-name", "ChronoFlow")

    def run_action(self, changelist: str, pk: int, action: str) -> None:
        """Tick one row of a list, choose the action, press the list's action button."""
        self.open(changelist)
        self.find(f"input[name=_selected_action][value='{pk}']").click()
        self.choose("select[name=action]", action)
        self.find("button[name=index]").click()

    def wait_for_text(self, css: str, text: str, timeout: float = 15) -> None:
        """Wait for the page the last click loads (or refreshes to): until `css` shows `text`."""
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
        from selenium.webdriver.support.ui import WebDriverWait

        def shown(driver) -> bool:
            return text in driver.find_element(self.by.CSS_SELECTOR, css).text

        WebDriverWait(self.driver, timeout, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)
                      ).until(shown, message=f"{css!r} did not show {text!r}")

    def resize(self, width: int, height: int = HEIGHT) -> None:
        self.driver.set_window_size(width, height)

    def snap(self, name: str) -> Path:
        """The whole page, top to bottom, at the window's width (Chromium's full-page capture)."""
        self.step += 1
        path = ARTEFACTS / f"{self.prefix}-{self.step:02d}-{name}.png"
        self.driver.execute_script("document.activeElement.blur(); window.scrollTo(0, 0);")  # the sidebar at the top
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
        shot = self.driver.execute_cdp_cmd("Page.captureScreenshot",
                                           {"format": "png", "captureBeyondViewport": True, "clip": clip})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path


def test_an_operator_creates_an_http_chrono_runs_it_now_and_sees_it_succeed(
        chromium, live_server, local_server, django_user_model, tmp_path):
    local_server.reply("/hook", status=200, body={"received": True})
    django_user_model.objects.create_superuser("operator", "op@example.org", "a-long-password")
    me = Operator(chromium("en-US"), live_server.url, "en")

    me.log_in("operator", "a-long-password")
    assert "Runs in the last 24 hours" in me.text("#dashboard-runs h2")

    me.open("/admin/automations/chrono/add/")
    me.type("#id_name", "Browser hook")
    me.type("#id_schedule", "daily at 07:30")
    me.choose("#id_target_type", "HTTP")
    me.choose("#id_method", "POST")
    me.type("#id_url", local_server.url("/hook"))
    me.find("input[name=_save]").click()
    me.wait_for_text(".messagelist", "was added successfully")
    chrono = Chrono.objects.get(name="Browser hook")

    with running("worker", log_dir=tmp_path):
        me.run_action("/admin/automations/chrono/", chrono.pk, "run_now")
        me.wait_for_text(".messagelist", "Triggered 1 chrono: run #")
        run = wait_until(lambda: chrono.runs.filter(status__in=ChronoRun.FINAL).first(), timeout=60,
                         message="the run to finish")

    assert run.status == "success" and len(local_server.requests_to("/hook")) == 1
    me.open(f"/admin/automations/chrono/{chrono.pk}/change/")
    inline_row = me.find(".inline-related tbody tr")
    assert f"#{run.pk}" in inline_row.text and "Success" in inline_row.text and "200" in inline_row.text

    me.open("/admin/")
    assert me.text("#dashboard-runs-success strong") == "1"
    assert me.text("#dashboard-total-runs") == "1"

    # The API's documentation renders from assets ChronoFlow serves itself (no CDN needed).
    me.open("/api/docs/")
    me.wait_for_text(".swagger-ui .info .title", "ChronoFlow API")
    me.snap("api-docs")


# --- In Brazilian Portuguese, a MESSAGE chrono on a development channel ----------------------------

RECIPIENT = "5511999998888"
FAILING_NAME = "Cobrança mensal dos clientes"

# For each cell of the failing-chronos table: its width, what its content needs (the widest word,
# measured in the cell's own font) and whether its content overflows it.
MEASURE_CELLS = """
const canvas = document.createElement("canvas").getContext("2d");
return [...document.querySelectorAll("#dashboard-failing th, #dashboard-failing td")].map(cell => {
  const style = getComputedStyle(cell);
  canvas.font = style.font;
  const words = cell.innerText.split(/\\s+/).filter(Boolean);
  const widest = Math.max(0, ...words.map(word => canvas.measureText(word).width));
  const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  return {text: cell.innerText, cls: cell.className, width: cell.getBoundingClientRect().width,
          inner: inner, widest: widest, scroll: cell.scrollWidth, client: cell.clientWidth};
});
"""


def failing_chrono(make_chrono) -> Chrono:
    """A chrono whose last run, a minute ago, failed: the dashboard's table has a row."""
    chrono = make_chrono(name=FAILING_NAME)
    a_minute_ago = timezone.now() - timedelta(minutes=1)
    ChronoRun.objects.create(chrono=chrono, scheduled_for=a_minute_ago, status="failed", error_message="HTTP 500")
    Chrono.objects.filter(pk=chrono.pk).update(
        last_run_status="failed", last_run_at=a_minute_ago,
        last_error="HTTP 500 from https://erp.example.com.br/api/cobrancas: o servidor não respondeu a tempo")
    return chrono


def assert_dashboard_cells_fit(me: Operator, width: int) -> None:
    me.resize(width)
    me.open("/admin/")
    cells = me.driver.execute_script(MEASURE_CELLS)
    assert len(cells) >= 8, cells  # a header row and the failing chrono's row
    name = next(cell for cell in cells if "cf-name" in cell["cls"])
    assert FAILING_NAME in name["text"] and name["width"] > 100, (width, name)
    for cell in cells:
        assert cell["scroll"] <= cell["client"] + 1, (width, "overflows", cell)
        assert cell["inner"] + 1 >= cell["widest"], (width, "narrower than its widest word", cell)


def test_a_brazilian_operator_runs_a_message_chrono_on_a_development_channel(
        chromium, live_server, django_user_model, make_chrono, settings, tmp_path):
    settings.WAHA_BASE_URL, settings.WHATSAPP_PROVIDER = "", ""  # the development channel
    django_user_model.objects.create_superuser("operadora", "op@example.com.br", "uma-senha-comprida")
    failing_chrono(make_chrono)
    me = Operator(chromium("pt-BR"), live_server.url, "pt-BR")

    me.log_in("operadora", "uma-senha-comprida")
    assert me.driver.execute_script("return document.documentElement.lang") == "pt-br"
    assert "Execuções nas últimas 24 horas" in me.text("#dashboard-runs h2")
    assert "Agendamentos com falha" in me.find("#dashboard-failing caption").get_attribute("textContent")  # CSS capitalises

    me.open("/admin/whatsapp/channel/add/")
    me.type("#id_name", "Loja Centro")
    me.type("#id_session_name", "loja-centro")
    me.find("input[name=_save]").click()
    me.wait_for_text(".messagelist", "foi adicionado com sucesso")
    channel = Channel.objects.get(session_name="loja-centro")
    assert (channel.provider, channel.status) == ("DEV", "WORKING")

    me.open("/admin/automations/chrono/add/")
    me.type("#id_name", "Lembrete do dia")
    me.type("#id_schedule", "daily at 08:00")
    me.choose("#id_timezone", ZONE)
    me.choose("#id_target_type", "MESSAGE")
    me.choose("#id_channel", str(channel.pk))
    me.type("#id_message_template", "Bom dia! Sua consulta é hoje às 15h.")
    me.type("#id_recipients", RECIPIENT)
    shown = {name: me.find(f"#id_{name}").is_displayed() for name in ("message_template", "recipients", "url", "function")}
    assert shown == {"message_template": True, "recipients": True, "url": False, "function": False}
    assert not me.find("fieldset.cf-target-HTTP").is_displayed()
    assert me.driver.execute_script(
        "return [...document.querySelectorAll('fieldset.cf-target')].every(f =>"
        " (f.offsetParent !== null) === f.classList.contains('cf-target-MESSAGE'))")
    me.snap("chrono-form")
    me.find("input[name=_continue]").click()
    me.wait_for_text(".messagelist", "foi adicionado com sucesso")
    chrono = Chrono.objects.get(name="Lembrete do dia")

    with running("worker", log_dir=tmp_path):
        me.find("#chrono-run-now").click()
        me.wait_for_text(".messagelist", "está na fila")
        me.wait_for_text(".field-run_status .readonly", "Sucesso", timeout=60)  # the page refreshes until then
    run = chrono.runs.get()
    assert run.status == "success"
    assert list(Message.objects.filter(run=run).values_list("chat_id", "status")) == [(f"{RECIPIENT}@c.us", "sent")]
    sent = me.text(".field-messages_sent .readonly")
    assert "1 mensagem" in sent and RECIPIENT in sent and "Enviada" in sent
    for field in ("started", "finished"):
        assert me.text(f".field-{field} .readonly").endswith(f"-03 ({ZONE})")
    me.snap("run-detail")

    me.open(f"/admin/automations/chrono/{chrono.pk}/change/")
    inline_row = me.find(".inline-related tbody tr")
    assert f"#{run.pk}" in inline_row.text and "Sucesso" in inline_row.text and f"({ZONE})" in inline_row.text
    me.snap("chrono-page")

    me.open("/admin/")
    assert me.text("#dashboard-runs-success strong") == "1"
    me.snap("dashboard")
    for width in (1280, 1440, 1920):
        assert_dashboard_cells_fit(me, width)
    me.resize(WIDTH)

    # Logged out, the development channel shows its fake QR (there is nothing to scan).
    me.run_action("/admin/whatsapp/channel/", channel.pk, "logout_sessions")
    me.wait_for_text(".messagelist", "1 canal(is)")  # the action's page, before leaving it
    me.open(f"/admin/whatsapp/channel/{channel.pk}/qr/")
    assert "QR falso" in me.text("#cf-qr-box")
    assert me.find("#cf-qr").get_attribute("src").startswith("data:image/")
    me.snap("qr-page")
