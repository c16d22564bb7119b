"""The admin that guides (issue 15): Run now and Retry, the done state, the dashboard's honesty,
ChronoFlow's site with beat's tables under "Advanced", and the chrono form's target fieldsets."""

from datetime import timedelta
import re
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from automations.models import Chrono, ChronoFinished, ChronoRun
from tests.automations.test_admin import ADD, add_form, page_form_data  # noqa: F401 (add_form: a fixture)

RUNS = "/admin/automations/chronorun/"


def run_now_url(chrono) -> str:
    return f"/admin/automations/chrono/{chrono.pk}/run-now/"


def retry_url(run) -> str:
    return f"{RUNS}{run.pk}/retry/"


def staff(*codenames: str) -> Client:
    user = User.objects.create_user("operator", password="pw", is_staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.force_login(user)
    return client


def finished_one_shot(make_chrono) -> Chrono:
    chrono = make_chrono(schedule="in 10 min")
    Chrono.objects.filter(pk=chrono.pk).update(is_active=False, next_run_at=None,
                                               run_at=timezone.now() - timedelta(minutes=1))
    return Chrono.objects.get(pk=chrono.pk)


# --- Run now and Retry ---------------------------------------------------------------------------

def test_run_now_creates_a_manual_run_and_opens_its_page(admin_client, make_chrono):
    chrono = make_chrono()
    response = admin_client.post(run_now_url(chrono))
    run = ChronoRun.objects.get(chrono=chrono)
    assert run.trigger == "manual"
    assert response.status_code == 302 and response["Location"] == f"{RUNS}{run.pk}/change/"


def test_the_chrono_page_has_a_run_now_button_posting_with_a_csrf_token(admin_client, make_chrono):
    chrono = make_chrono()
    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()
    form = page[page.index(f'action="{run_now_url(chrono)}"'):]
    assert 'id="chrono-run-now"' in form and "csrfmiddlewaretoken" in form[:400]


def test_run_now_refuses_a_get(admin_client, make_chrono):
    chrono = make_chrono()
    assert admin_client.get(run_now_url(chrono)).status_code == 405
    assert not ChronoRun.objects.exists()


def test_run_now_without_a_csrf_token_is_refused(admin_user, make_chrono):
    chrono = make_chrono()
    client = Client(enforce_csrf_checks=True)
    client.force_login(admin_user)
    assert client.post(run_now_url(chrono)).status_code == 403
    assert not ChronoRun.objects.exists()


def test_run_now_needs_the_permission_to_change_chronos(make_chrono):
    chrono = make_chrono()
    client = staff("view_chrono")
    assert client.post(run_now_url(chrono)).status_code == 403
    assert not ChronoRun.objects.exists()


def test_run_now_of_an_unknown_chrono_is_a_404(admin_client, db):
    assert admin_client.post(run_now_url(Chrono(pk=999999))).status_code == 404


def test_retry_of_a_failed_run_starts_a_retry_run_with_the_same_input(admin_client, make_chrono):
    chrono = make_chrono()
    failed = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now() - timedelta(hours=1),
                                      status="failed", input={"order": 7})
    page = admin_client.get(f"{RUNS}{failed.pk}/change/").content.decode()
    assert f'action="{retry_url(failed)}"' in page
    response = admin_client.post(retry_url(failed))
    retry = ChronoRun.objects.get(trigger="retry")
    assert (retry.chrono, retry.input) == (chrono, {"order": 7})
    assert response["Location"] == f"{RUNS}{retry.pk}/change/"


def test_a_successful_run_offers_no_retry_and_refuses_one(admin_client, make_chrono):
    done = ChronoRun.objects.create(chrono=make_chrono(), scheduled_for=timezone.now(), status="success")
    assert f'action="{retry_url(done)}"' not in admin_client.get(f"{RUNS}{done.pk}/change/").content.decode()
    admin_client.post(retry_url(done))
    assert ChronoRun.objects.count() == 1


def test_retry_needs_the_permission_to_change_chronos_and_a_known_run(make_chrono, admin_client):
    failed = ChronoRun.objects.create(chrono=make_chrono(), scheduled_for=timezone.now(), status="failed")
    assert staff("view_chrono", "view_chronorun").post(retry_url(failed)).status_code == 403
    assert admin_client.post(f"{RUNS}999999/retry/").status_code == 404
    assert admin_client.get(retry_url(failed)).status_code == 405
    assert ChronoRun.objects.count() == 1


def test_the_run_page_shows_the_result_pretty_and_the_attempts_as_a_table_to_the_second(admin_client, make_chrono):
    chrono = make_chrono(timezone="America/Sao_Paulo")
    started = timezone.now().replace(microsecond=0)
    run = ChronoRun.objects.create(
        chrono=chrono, scheduled_for=started, status="failed", result={"status": 500, "body": "kaput"},
        attempts=[{"attempt": 1, "started_at": started.isoformat(), "finished_at": started.isoformat(),
                   "duration_ms": 12, "ok": False, "http_status": 500, "error": "HTTP 500"}])
    page = admin_client.get(f"{RUNS}{run.pk}/change/").content.decode()
    # Indented, one key a line; PostgreSQL's jsonb keeps keys in its own order (shorter first), SQLite in ours.
    assert '<pre class="cf-json">{\n  &quot;' in page
    assert "\n  &quot;status&quot;: 500" in page and "\n  &quot;body&quot;: &quot;kaput&quot;" in page
    assert '<table class="cf-attempts">' in page and "<td>12 ms</td>" in page
    local = timezone.localtime(started, ZoneInfo(chrono.timezone))
    assert f"{local:%Y-%m-%d %H:%M:%S} -03" in page and "(America/Sao_Paulo)" in page


def test_the_run_history_count_is_worded_for_one_run(admin_client, make_chrono):
    chrono = make_chrono()
    ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now())
    page = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").content.decode()
    assert "The one run of this chrono" in page and "All 1 runs" not in page


# --- The done state --------------------------------------------------------------------------------

def test_a_finished_one_shot_is_done_not_paused(make_chrono):
    chrono = finished_one_shot(make_chrono)
    paused = make_chrono(name="Paused", is_active=False)
    assert (chrono.state, paused.state) == ("done", "paused")
    assert list(Chrono.objects.in_state("done")) == [chrono]
    assert list(Chrono.objects.in_state("paused")) == [paused]


def test_resuming_a_done_one_shot_is_refused_and_beat_keeps_no_task(make_chrono):
    chrono = finished_one_shot(make_chrono)
    with pytest.raises(ChronoFinished):
        chrono.resume()
    chrono.refresh_from_db()
    assert not chrono.is_active and chrono.periodic_task is None


def test_chrono_resume_on_a_done_one_shot_exits_non_zero_saying_why(make_chrono):
    chrono = finished_one_shot(make_chrono)
    with pytest.raises(CommandError, match="one-shot that is done"):
        call_command("chrono", "resume", str(chrono.pk))
    assert not Chrono.objects.get(pk=chrono.pk).is_active


def test_chrono_list_shows_done_and_filters_on_it(make_chrono, capsys):
    chrono = finished_one_shot(make_chrono)
    make_chrono(name="Daily")
    call_command("chrono", "list", "--done")
    out = capsys.readouterr().out
    assert re.search(rf"^{chrono.pk} +Ping", out, re.M) and " done " in out and "Daily" not in out


def test_the_admin_lists_a_done_one_shot_as_done_and_its_resume_action_refuses(admin_client, make_chrono):
    chrono = finished_one_shot(make_chrono)
    page = admin_client.get("/admin/automations/chrono/?state=done").content.decode()
    assert "cf-badge-done" in page and "none: done" in page
    response = admin_client.post("/admin/automations/chrono/", {"action": "resume", "_selected_action": [chrono.pk]},
                                 follow=True)
    assert any("one-shot that is done" in str(m) for m in response.context["messages"])
    assert not Chrono.objects.get(pk=chrono.pk).is_active


def test_the_api_refuses_to_resume_a_done_one_shot_naming_the_schedule(api, make_chrono):
    chrono = finished_one_shot(make_chrono)
    response = api.post(f"/api/chronos/{chrono.pk}/resume/")
    assert response.status_code == 400 and "schedule" in response.json()


# --- Dashboard ---------------------------------------------------------------------------------------

def test_the_dashboard_says_there_are_no_channels_yet_instead_of_all_working(admin_client, db):
    page = admin_client.get("/admin/").content.decode()
    assert 'id="dashboard-no-channels"' in page and "/admin/whatsapp/channel/add/" in page
    assert "every channel is WORKING" not in page


def test_a_past_dated_one_shot_does_not_count_in_the_p95_lateness(make_chrono):
    from automations import dashboard

    chrono = make_chrono(schedule="in 10 min")
    Chrono.objects.filter(pk=chrono.pk).update(schedule_kind="once")
    scheduled = timezone.now() - timedelta(hours=17)  # before the chrono existed
    ChronoRun.objects.create(chrono=Chrono.objects.get(pk=chrono.pk), scheduled_for=scheduled, status="success",
                             attempt=1, started_at=timezone.now())
    assert dashboard.figures().p95_lateness_s is None


# --- The site -------------------------------------------------------------------------------------------

def test_the_root_leads_to_the_admin(client, db):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/admin/"


def test_the_admin_is_branded_chronoflow_with_no_view_site_link(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert '<div id="site-name"><a href="/admin/">ChronoFlow</a></div>' in page
    assert "Django administration" not in page and "View site" not in page


def test_superusers_find_beats_tables_under_advanced_at_the_end(admin_client):
    apps = admin_client.get("/admin/").context["app_list"]
    assert apps[-1]["name"] == "Advanced"
    assert {"PeriodicTask", "CrontabSchedule", "TaskResult"} <= {m["object_name"] for m in apps[-1]["models"]}
    assert not {"django_celery_beat", "django_celery_results"} & {app["app_label"] for app in apps}


def test_operators_never_see_nor_reach_beats_tables_even_with_their_permissions(db):
    client = staff("view_chrono", "view_periodictask", "change_periodictask", "view_taskresult")
    apps = client.get("/admin/").context["app_list"]
    # Their own preferences (accounts) are every staff member's; the beat and results tables are not.
    assert [app["app_label"] for app in apps] == ["automations", "accounts"]
    assert "Advanced" not in [app["name"] for app in apps]
    assert client.get("/admin/django_celery_beat/periodictask/").status_code == 403
    assert client.get("/admin/django_celery_beat/").status_code == 404


# --- The chrono form ----------------------------------------------------------------------------------

def test_each_target_has_its_own_fieldset_for_the_script_to_show(admin_client):
    page = admin_client.get(ADD).content.decode()
    assert "cf-target cf-target-HTTP" in page and "cf-target cf-target-MESSAGE" in page
    assert "automations/chrono_form.js" in page


def test_the_form_prefills_no_null_or_empty_json_and_lists_the_allowed_methods(admin_client, settings):
    form = admin_client.get(ADD).context["adminform"].form
    assert [form[name].value() for name in ("headers", "payload", "recipients", "extras")] == ["", "", "", ""]
    assert ", ".join(settings.ALLOWED_METHODS) in str(form.fields["method"].help_text)
    assert form.fields["timezone"].choices[0][0] == settings.DEFAULT_TIMEZONE


def test_a_message_chrono_saves_with_garbage_left_in_the_hidden_http_fields(admin_client, add_form):
    from whatsapp.models import Channel

    channel = Channel.objects.create(name="Loja", session_name="loja", provider="DEV")
    data = {**add_form, "target_type": "MESSAGE", "channel": channel.pk, "message_template": "Olá",
            "recipients": "5511999998888\n5521988887777", "url": "not a url", "payload": "{broken", "timeout_ms": "x"}
    response = admin_client.post(ADD, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    chrono = Chrono.objects.get()
    assert chrono.recipients == ["5511999998888", "5521988887777"] and chrono.url == "" and chrono.payload is None


def test_headers_are_typed_one_per_line_and_shown_back_pretty(admin_client, add_form):
    response = admin_client.post(ADD, {**add_form, "headers": "X-Tenant: loja-1\nAccept: application/json",
                                       "payload": '{"a": [1, 2]}'})
    assert response.status_code == 302
    chrono = Chrono.objects.get()
    assert chrono.headers == {"X-Tenant": "loja-1", "Accept": "application/json"}
    form = admin_client.get(f"/admin/automations/chrono/{chrono.pk}/change/").context["adminform"].form
    assert form["payload"].value() == '{\n  "a": [\n    1,\n    2\n  ]\n}'
    assert sorted(form["headers"].value().splitlines()) == ["Accept: application/json", "X-Tenant: loja-1"]


def test_a_header_line_without_a_colon_is_refused_on_the_headers_field(admin_client, add_form):
    response = admin_client.post(ADD, {**add_form, "headers": "just words"})
    assert list(response.context["adminform"].form.errors) == ["headers"]
