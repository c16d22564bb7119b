from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
import time_machine
from django.db.models.fields.files import FieldFile
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from automations.models import Chrono, ChronoRun
from tests.automations.beat import assert_beat_matches_active_chronos

CHANGELIST = "/admin/automations/chrono/"
ADD = "/admin/automations/chrono/add/"
RUNS = "/admin/automations/chronorun/"


def form_data(form) -> dict:
    """What a browser would post back for `form` untouched."""
    data = {}
    for name in form.fields:
        value = form[name].value()
        if value is None or value is False or isinstance(value, FieldFile):
            continue  # a browser posts no value for a file input left alone
        data[form.add_prefix(name)] = "on" if value is True else value
    return data


def page_form_data(response) -> dict:
    """The add/change page's form and its inlines, as rendered."""
    data = form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        data.update(form_data(inline.formset.management_form))
        for form in inline.formset.forms:
            data.update(form_data(form))
    return data


def change_url(chrono: Chrono) -> str:
    return f"{CHANGELIST}{chrono.pk}/change/"


def make_runs(chrono: Chrono, count: int, **fields) -> list[ChronoRun]:
    start = timezone.now() - timedelta(days=1)
    return ChronoRun.objects.bulk_create(
        ChronoRun(chrono=chrono, scheduled_for=start + timedelta(minutes=i), **fields) for i in range(count)
    )


def act(admin_client, action: str, *chronos: Chrono):
    data = {"action": action, "_selected_action": [c.pk for c in chronos]}
    return admin_client.post(CHANGELIST, data, follow=True)


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]]


@pytest.fixture
def add_form(admin_client) -> dict:
    data = page_form_data(admin_client.get(ADD))
    return {**data, "name": "Ping", "schedule": "todo dia às 08:00", "timezone": "America/Sao_Paulo",
            "target_type": "HTTP", "url": "https://example.org/hook", "method": "POST"}


# --- Add and change forms ------------------------------------------------------------------

def test_the_add_form_creates_a_chrono_with_its_beat_task(admin_client, add_form):
    response = admin_client.post(ADD, add_form)
    assert response.status_code == 302
    chrono = Chrono.objects.get()
    assert (chrono.name, chrono.schedule_expression, chrono.is_active) == ("Ping", "0 8 * * *", True)
    assert_beat_matches_active_chronos()
    assert PeriodicTask.objects.filter(name=f"chrono:{chrono.pk}").exists()


def test_a_schedule_it_cannot_read_is_shown_on_the_schedule_field(admin_client, add_form):
    response = admin_client.post(ADD, {**add_form, "schedule": "whenever you feel like it"})
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert list(errors) == ["schedule"] and "every 15 minutes" in errors["schedule"][0]
    assert "whenever you feel like it" in response.content.decode()
    assert Chrono.objects.count() == 0
    assert_beat_matches_active_chronos()


def test_a_missing_url_and_an_unknown_timezone_are_shown_on_their_fields(admin_client, add_form):
    response = admin_client.post(ADD, {**add_form, "url": "", "timezone": "Mars/Olympus_Mons"})
    assert set(response.context["adminform"].form.errors) == {"url", "timezone"}
    assert Chrono.objects.count() == 0


def test_a_method_outside_the_allowed_methods_is_shown_on_the_method_field(admin_client, add_form, settings):
    settings.ALLOWED_METHODS = ["GET", "POST"]
    response = admin_client.post(ADD, {**add_form, "method": "DELETE"})
    assert list(response.context["adminform"].form.errors) == ["method"]


def test_emptying_the_headers_box_saves_no_headers(admin_client, add_form):
    response = admin_client.post(ADD, {**add_form, "headers": "", "recipients": "", "extras": ""})
    assert response.status_code == 302
    chrono = Chrono.objects.get()
    assert (chrono.headers, chrono.recipients, chrono.extras) == ({}, [], {})


def test_unticking_active_in_the_change_form_removes_the_beat_task(admin_client, make_chrono):
    chrono, other = make_chrono(), make_chrono(name="Other")
    data = page_form_data(admin_client.get(change_url(chrono)))
    del data["is_active"]
    assert admin_client.post(change_url(chrono), data).status_code == 302
    assert not Chrono.objects.get(pk=chrono.pk).is_active
    assert_beat_matches_active_chronos()
    assert PeriodicTask.objects.filter(name=f"chrono:{other.pk}").exists()


def test_changing_the_schedule_in_the_change_form_moves_the_beat_task(admin_client, make_chrono):
    chrono = make_chrono(schedule="0 8 * * *")
    make_runs(chrono, 25)
    data = {**page_form_data(admin_client.get(change_url(chrono))), "schedule": "a cada 15 minutos"}
    assert admin_client.post(change_url(chrono), data).status_code == 302
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert task.crontab is None and task.interval.every == 900
    assert ChronoRun.objects.filter(chrono=chrono).count() == 25
    assert_beat_matches_active_chronos()


def test_the_change_page_previews_the_schedule_in_two_languages_and_the_chronos_timezone(admin_client, make_chrono):
    chrono = make_chrono(schedule="todo dia às 08:00", timezone="America/Sao_Paulo")
    page = admin_client.get(change_url(chrono)).content.decode()
    assert "0 8 * * *" in page
    assert chrono.describe_schedule("en") in page and chrono.describe_schedule("pt_BR") in page
    tomorrow_local = [t.astimezone(timezone.get_fixed_timezone(-180)) for t in chrono.next_fire_times(5)]
    for moment in tomorrow_local:
        assert moment.strftime("%Y-%m-%d 08:00:00") in page


def test_the_change_page_shows_the_latest_20_runs_newest_first_and_links_to_all(admin_client, make_chrono):
    chrono = make_chrono()
    runs = make_runs(chrono, 25)
    response = admin_client.get(change_url(chrono))
    [inline] = [i for i in response.context["inline_admin_formsets"] if i.formset.model is ChronoRun]
    shown = [form.instance.pk for form in inline.formset.forms]
    assert shown == [run.pk for run in reversed(runs)][:20]
    assert f"{RUNS}?chrono__id__exact={chrono.pk}" in response.content.decode()


def test_the_changelist_describes_each_schedule_in_words(admin_client, make_chrono):
    chrono = make_chrono(schedule="a cada 15 minutos")
    page = admin_client.get(CHANGELIST).content.decode()
    assert chrono.describe_schedule("en") in page


def test_the_changelist_shows_the_next_run_in_the_chronos_timezone(admin_client, make_chrono):
    make_chrono(schedule="todo dia às 08:00", timezone="Asia/Tokyo")
    page = admin_client.get(CHANGELIST).content.decode()
    assert '08:00:00 JST <span class="cf-zone">(Asia/Tokyo)</span>' in page  # the zone's name muted


# --- Actions and bulk changes --------------------------------------------------------------

def test_run_now_triggers_each_selected_chrono_and_links_to_the_new_runs(admin_client, make_chrono):
    first, second, untouched = make_chrono(name="A"), make_chrono(name="B"), make_chrono(name="C")
    response = act(admin_client, "run_now", first, second)
    runs = ChronoRun.objects.filter(trigger="manual").order_by("pk")
    assert sorted(runs.values_list("chrono__name", flat=True)) == ["A", "B"]
    [message] = shown_messages(response)
    assert message.startswith("Triggered 2 chronos: runs ")
    assert all(f'<a href="{RUNS}{run.pk}/change/">#{run.pk}</a>' in message for run in runs)


def test_pause_deactivates_the_selected_chronos_and_their_beat_tasks(admin_client, make_chrono):
    first, second, running = make_chrono(name="A"), make_chrono(name="B"), make_chrono(name="C")
    response = act(admin_client, "pause", first, second)
    assert "Paused 2 chronos." in shown_messages(response)
    assert set(Chrono.objects.filter(is_active=True)) == {running}
    assert_beat_matches_active_chronos()


def test_resume_reactivates_the_paused_chronos_with_their_next_run(admin_client, make_chrono):
    paused, active = make_chrono(name="A", is_active=False), make_chrono(name="B")
    response = act(admin_client, "resume", paused, active)
    assert "Resumed 1 chrono." in shown_messages(response)
    paused.refresh_from_db()
    assert paused.is_active and paused.next_run_at is not None
    assert_beat_matches_active_chronos()


def test_bulk_delete_removes_the_chronos_their_runs_and_their_beat_tasks(admin_client, make_chrono):
    doomed, also_doomed, kept = make_chrono(name="A"), make_chrono(name="B", is_active=False), make_chrono(name="C")
    make_runs(doomed, 3)
    data = {"action": "delete_selected", "_selected_action": [doomed.pk, also_doomed.pk], "post": "yes"}
    response = admin_client.post(CHANGELIST, data, follow=True)
    assert "Successfully deleted 2 chronos." in shown_messages(response)
    assert list(Chrono.objects.all()) == [kept]
    assert ChronoRun.objects.count() == 0
    assert_beat_matches_active_chronos()


def test_a_queryset_update_of_is_active_keeps_beat_exact(make_chrono):
    first, second = make_chrono(name="A"), make_chrono(name="B")
    Chrono.objects.filter(pk=first.pk).update(is_active=False)
    assert_beat_matches_active_chronos()
    Chrono.objects.all().update(is_active=True)
    assert_beat_matches_active_chronos()
    assert PeriodicTask.objects.filter(name__startswith="chrono:").count() == 2


# --- Runs ------------------------------------------------------------------------------------

def test_the_run_list_filters_by_chrono_and_by_the_chronos_target_type(admin_client, make_chrono):
    http, function = make_chrono(name="Hook"), make_chrono(name="Report")
    Chrono.objects.filter(pk=function.pk).update(target_type="FUNCTION")
    make_runs(http, 2)
    [report_run] = make_runs(function, 1)
    by_type = admin_client.get(f"{RUNS}?chrono__target_type__exact=FUNCTION")
    assert [run.pk for run in by_type.context["cl"].result_list] == [report_run.pk]
    by_chrono = admin_client.get(f"{RUNS}?chrono__id__exact={http.pk}")
    assert by_chrono.context["cl"].result_count == 2


def test_the_run_list_searches_by_chrono_name(admin_client, make_chrono):
    make_runs(make_chrono(name="Nightly billing"), 2)
    make_runs(make_chrono(name="Ping"), 3)
    response = admin_client.get(f"{RUNS}?q=billing")
    assert {run.chrono.name for run in response.context["cl"].result_list} == {"Nightly billing"}


def test_a_run_is_read_only_and_links_to_its_chrono(admin_client, make_chrono):
    chrono = make_chrono()
    [run] = make_runs(chrono, 1, status="failed", error_message="HTTP 500 from example.org")
    response = admin_client.get(f"{RUNS}{run.pk}/change/")
    page = response.content.decode()
    assert "HTTP 500 from example.org" in page and change_url(chrono) in page
    assert 'name="_save"' not in page
    assert admin_client.post(f"{RUNS}{run.pk}/change/", {"status": "success"}).status_code == 403
    assert admin_client.get(f"{RUNS}add/").status_code == 403


def test_a_refused_timezone_on_the_change_form_is_shown_and_nothing_changes(admin_client, make_chrono):
    chrono = make_chrono(timezone="America/Sao_Paulo")
    data = {**page_form_data(admin_client.get(change_url(chrono))), "timezone": "Mars/Olympus_Mons", "name": "Renamed"}
    response = admin_client.post(change_url(chrono), data)
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["timezone"]
    chrono.refresh_from_db()
    assert (chrono.name, chrono.timezone) == ("Ping", "America/Sao_Paulo")


def test_the_preview_endpoint_describes_a_schedule_before_it_is_saved(admin_client, db):
    response = admin_client.get(f"{CHANGELIST}preview/", {"schedule": "a cada 15 minutos", "timezone": "Europe/Berlin"})
    assert response.json()["ok"] is True
    assert "interval" in response.json()["html"] and "Every 15 minutes" in response.json()["html"]
    assert Chrono.objects.count() == 0


def test_the_preview_notes_a_fire_time_that_a_dst_gap_moved(admin_client, db):
    with time_machine.travel(datetime(2026, 3, 7, 12, 0, tzinfo=dt_timezone.utc)):
        response = admin_client.get(f"{CHANGELIST}preview/", {"schedule": "30 2 * * *", "timezone": "America/New_York"})
    html = response.json()["html"]
    assert "2026-03-08 03:00:00 EDT" in html
    assert "02:30 does not exist on 2026-03-08 in America/New_York" in html
    assert "02:30 não existe em 08/03/2026" in html
    assert html.count("dst-note") == 1  # the other four days run at 02:30


def test_the_preview_endpoint_explains_a_schedule_it_cannot_read(admin_client, db):
    response = admin_client.get(f"{CHANGELIST}preview/", {"schedule": "sometime", "timezone": "UTC"})
    assert response.json()["ok"] is False
    assert "sometime" in response.json()["html"] and "every 15 minutes" in response.json()["html"]
