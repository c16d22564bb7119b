"""Ready-made automations: each installs from a few answers and its chronos work against fakes.

WAHA is the fake on a real socket and the customer's system a local HTTP server, so the
template's functions run in the real sandbox with their real HTTP and message policy.
"""

import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from automations import recipes
from automations.models import Chrono, IntegratorHook, MessageTrigger
from automations.runs import execution
from functions.models import UserFunction
from tests.processes import process_env
from tests.whatsapp.fake_waha import API_KEY, FakeWahaServer

pytestmark = pytest.mark.django_db

OWNER = "5511955554444@c.us"


@pytest.fixture
def waha_server(settings):
    with FakeWahaServer() as server:
        server.fake.add_session("front", "WORKING", me={"id": "5511888888888@c.us", "pushName": "Loja"})
        settings.WAHA_BASE_URL, settings.WAHA_API_KEY, settings.WAHA_WEBHOOK_HMAC_KEY = server.url, API_KEY, ""
        settings.PUBLIC_BASE_URL = "http://chronoflow.test:8000"
        yield server.fake
    assert server.fake.violations == []


@pytest.fixture
def customer_system(local_server, settings):
    """The operator's own system, which the template's function may call and whose customers it may message."""
    settings.FUNCTION_HTTP_ALLOWLIST = [f"127.0.0.1:{local_server.port}"]
    settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = ["55"]
    return local_server


def install(name: str, **answers) -> list[Chrono]:
    call_command("install_template", name, **answers, stdout=open("/dev/null", "w"))
    return list(Chrono.objects.order_by("pk"))


def run(chrono: Chrono, input=None):
    """One run of the chrono, in this process, through the real execution path."""
    triggered = chrono.trigger(input=input)
    execution.execute(chrono.pk, None, None, triggered.pk, 0)
    triggered.refresh_from_db()
    return triggered


# --- Each template works ---------------------------------------------------------------------


def test_appointment_reminder_messages_the_customer_the_booking_system_posts(channel, waha_server, post_hook,
                                                                            celery_eager,
                                                                            django_capture_on_commit_callbacks):
    [chrono] = install("appointment-reminder", channel="front")
    assert chrono.schedule_kind == "manual" and not chrono.periodic_task_id

    with django_capture_on_commit_callbacks(execute=True):
        response = post_hook(IntegratorHook.objects.get(chrono=chrono),
                             {"phone": "+55 11 97777-6666", "name": "Ana", "when": "amanhã às 14h", "place": "Sala 2"})

    assert response.status_code == 202
    assert [(m["chatId"], m["text"]) for m in waha_server.sent] == [
        ("5511977776666@c.us", "Olá Ana! Lembrete: seu horário é amanhã às 14h. Local: Sala 2. Até lá!")]


def test_billing_reminder_sends_each_overdue_customer_a_reminder(channel, waha_server, customer_system):
    customer_system.reply("/overdue", body=[
        {"name": "Ana", "phone": "+55 11 97777-6666", "amount": "120,00", "due": "01/12"},
        {"name": "Bia", "phone": "5521988887777", "amount": "80,50", "due": "03/12"}])
    [chrono] = install("billing-reminder", channel="front", url=customer_system.url("/overdue"), time="7:30")
    assert chrono.schedule_expression == "30 7 * * *" and chrono.target_type == "FUNCTION"

    result = run(chrono)

    assert result.status == "success", result.error_message
    assert [(m["chatId"], m["text"]) for m in waha_server.sent] == [
        ("5511977776666@c.us", "Olá Ana, a fatura de R$ 120,00 venceu em 01/12. Se já pagou, desconsidere."),
        ("5521988887777@c.us", "Olá Bia, a fatura de R$ 80,50 venceu em 03/12. Se já pagou, desconsidere.")]


def test_daily_summary_sends_the_days_figures_to_the_owner(channel, waha_server, customer_system):
    customer_system.reply("/today", body={"vendas": 12, "pedidos novos": 3})
    [chrono] = install("daily-summary", channel="front", owner="+55 11 95555-4444", url=customer_system.url("/today"))
    assert chrono.schedule_expression == "0 18 * * *"

    assert run(chrono).status == "success"

    assert [(m["chatId"], m["text"]) for m in waha_server.sent] == [
        (OWNER, "Resumo do dia:\n- pedidos novos: 3\n- vendas: 12")]


def test_reactivation_invites_each_inactive_contact_once(channel, waha_server, customer_system):
    customer_system.reply("/inactive", body=[{"name": "Caio", "phone": "+55 31 96666-5555"}])
    [chrono] = install("reactivation", channel="front", url=customer_system.url("/inactive"))
    assert chrono.schedule_expression == "0 10 * * 1"

    assert run(chrono).status == "success"
    assert run(chrono).result["return"] == {"sent": 0}  # a week later: Caio was already invited

    assert [(m["chatId"], m["text"]) for m in waha_server.sent] == [
        ("5531966665555@c.us", "Olá Caio, sentimos sua falta! Temos novidades para você.")]


def test_keyword_auto_reply_answers_whoever_sends_the_keyword(channel, waha_server, post_message, celery_eager,
                                                              django_capture_on_commit_callbacks):
    [chrono] = install("keyword-auto-reply", channel="front", keyword="Cardápio", reply="Hoje: pizza e suco.")
    assert MessageTrigger.objects.get(chrono=chrono).pattern == "Cardápio"

    with django_capture_on_commit_callbacks(execute=True):
        post_message(channel, "cardapio", sender="5521988887777@c.us")
        post_message(channel, "quero o cardapio")  # not the keyword alone: no reply

    assert [(m["chatId"], m["text"]) for m in waha_server.sent] == [("5521988887777@c.us", "Hoje: pizza e suco.")]


def test_a_keyword_can_be_a_regular_expression(channel):
    [chrono] = install("keyword-auto-reply", channel="front", keyword=r"re:^(menu|card[aá]pio)$", reply="Oi")

    trigger = MessageTrigger.objects.get(chrono=chrono)
    assert (trigger.match, trigger.pattern) == ("regex", "^(menu|card[aá]pio)$")


def test_the_command_shows_the_chronos_it_created_and_the_webhook_url(channel):
    from io import StringIO

    out = StringIO()
    call_command("install_template", "appointment-reminder", channel=str(channel.pk), stdout=out)

    chrono = Chrono.objects.get()
    assert f"chrono #{chrono.pk} 'Appointment reminder'" in out.getvalue()
    assert IntegratorHook.objects.get(chrono=chrono).url in out.getvalue()


def test_a_function_template_says_what_the_allowlists_still_need(channel, settings):
    from io import StringIO

    settings.FUNCTION_HTTP_ALLOWLIST, settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST = [], []
    out = StringIO()
    call_command("install_template", "billing-reminder", channel="front", url="https://erp.example.org/overdue",
                 stdout=out)

    assert "Add erp.example.org to FUNCTION_HTTP_ALLOWLIST" in out.getvalue()
    assert "FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST is empty" in out.getvalue()


def test_installing_a_function_template_twice_gives_the_second_function_its_own_name(channel):
    for _ in range(2):
        install("daily-summary", channel="front", owner="+5511955554444", url="https://erp.example.org/today")

    assert sorted(UserFunction.objects.values_list("name", flat=True)) == [
        "Daily summary to the owner", "Daily summary to the owner (2)"]


# --- Bad input: a clear error naming the option, and nothing saved ------------------------------


@pytest.mark.parametrize("name, answers, option", [
    ("billing-reminder", {"channel": "front"}, "--url"),
    ("billing-reminder", {"channel": "front", "url": "ftp://erp/x"}, "--url"),
    ("billing-reminder", {"channel": "front", "url": "https://erp.test/x", "time": "25:00"}, "--time"),
    ("daily-summary", {"channel": "front", "owner": "boss", "url": "https://erp.test/x"}, "--owner"),
    ("keyword-auto-reply", {"channel": "nope", "keyword": "menu", "reply": "Oi"}, "--channel"),
    ("keyword-auto-reply", {"channel": "front", "keyword": "re:(", "reply": "Oi"}, "--keyword"),
    ("keyword-auto-reply", {"channel": "front", "keyword": "menu"}, "--reply"),
    ("appointment-reminder", {"channel": "front", "time": "08:00"}, "--time"),
])
def test_a_bad_or_missing_answer_names_the_option_and_saves_nothing(channel, name, answers, option):
    with pytest.raises(CommandError) as refused:
        call_command("install_template", name, **answers)

    assert str(refused.value).startswith(option + ":")
    assert not Chrono.objects.exists() and not UserFunction.objects.exists()


def test_an_unknown_template_is_refused_with_the_list(db):
    with pytest.raises(CommandError) as refused:
        call_command("install_template", "birthday")

    assert "keyword-auto-reply" in str(refused.value)


def test_a_failure_half_way_leaves_nothing_behind(channel, monkeypatch):
    def refuse(**fields):
        raise recipes.ValidationError({"schedule": "refused for the test"})

    monkeypatch.setattr(recipes, "_chrono", refuse)  # after the function was saved

    with pytest.raises(CommandError):
        call_command("install_template", "billing-reminder", channel="front", url="https://erp.test/x")

    assert not UserFunction.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_exits_non_zero_on_bad_input():
    done = subprocess.run([sys.executable, "manage.py", "install_template", "billing-reminder", "--channel", "x"],
                          cwd=django_settings.BASE_DIR, env=process_env(), capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert "--channel:" in done.stderr
