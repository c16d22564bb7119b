"""The run and chrono lists' rows (automations/admin_rows.py) are Django's own, byte for byte, and cheap."""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.admin.templatetags import admin_list
from django.db import connection
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from accounts.models import OperatorProfile
from automations import admin_rows
from automations.models import Chrono, ChronoRun

RUNS = "/admin/automations/chronorun/"
CHRONOS = "/admin/automations/chrono/"


@pytest.fixture
def runs(make_chrono):
    http = make_chrono(name="Ping <b>&</b>")
    paused = make_chrono(name="Paused one", is_active=False, target_type="MESSAGE", url="")
    now = timezone.now()
    made = [
        ChronoRun.objects.create(chrono=http, scheduled_for=now - timedelta(minutes=1), status="success",
                                 attempt=1, duration_ms=1234, http_status=200),
        ChronoRun.objects.create(chrono=http, scheduled_for=now - timedelta(minutes=2), status="failed",
                                 trigger="manual", error_message="boom"),
        ChronoRun.objects.create(chrono=paused, scheduled_for=now - timedelta(minutes=3), status="pending"),
    ]
    return made


def rows_html(model, path: str, user, language: str) -> tuple[str, str]:
    """(Django's rows, ours) for the list at ``path`` as ``user`` sees it in ``language``."""
    request = RequestFactory().get(path)
    request.user = user
    with translation.override(language), timezone.override("America/Sao_Paulo"):
        cl = admin.site._registry[model].get_changelist_instance(request)
        cl.formset = None  # changelist_view sets it: no list_editable here
        django_rows = "".join("".join(row) for row in admin_list.result_list(cl)["results"])
        ours = "".join("".join(row) for row in admin_rows.result_list(cl)["results"])
    return django_rows, ours


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("query", ["", "?status__exact=failed", "?o=-3.2", "?q=Ping"])
def test_the_run_rows_are_djangos_own(runs, admin_user, language, query):
    django_rows, ours = rows_html(ChronoRun, RUNS + query, admin_user, language)
    assert 'class="action-select"' in ours
    assert ours == django_rows


@pytest.mark.parametrize("language", ["en", "pt-br"])
@pytest.mark.parametrize("query", ["", "?state=paused", "?o=-6", "?target_type__exact=HTTP"])
def test_the_chrono_rows_are_djangos_own(runs, admin_user, language, query):
    django_rows, ours = rows_html(Chrono, CHRONOS + query, admin_user, language)
    assert 'class="action-select"' in ours
    assert ours == django_rows


def test_a_filtered_run_list_links_each_run_with_its_filters_kept(runs, admin_client):
    page = admin_client.get(RUNS + "?status__exact=failed").content.decode()
    failed = runs[1]
    assert f'<a href="/admin/automations/chronorun/{failed.pk}/change/?_changelist_filters=status__exact%3Dfailed">' \
           f"{failed.pk}</a>" in page


def test_the_run_list_shows_each_runs_chrono_link_and_local_time_in_a_fixed_number_of_queries(
        runs, admin_client, admin_user):
    OperatorProfile.objects.update_or_create(user=admin_user, defaults={"time_zone": "America/Sao_Paulo"})
    admin_client.get(RUNS)  # the session and content types, once
    with CaptureQueriesContext(connection) as three:
        page = admin_client.get(RUNS).content.decode()
    for run in runs:
        assert f'<a href="/admin/automations/chrono/{run.chrono_id}/change/">' in page
        local = timezone.localtime(run.scheduled_for, timezone.get_fixed_timezone(-180))
        assert f'{local:%Y-%m-%d %H:%M:%S} -03 <span class="cf-zone">(America/Sao_Paulo)</span>' in page
    ChronoRun.objects.bulk_create(ChronoRun(chrono=runs[0].chrono, scheduled_for=timezone.now() - timedelta(hours=h))
                                  for h in range(1, 30))
    with CaptureQueriesContext(connection) as many:
        admin_client.get(RUNS)
    assert len(many) == len(three)


def test_the_lists_speak_portuguese_to_a_portuguese_operator(runs, admin_client):
    page = admin_client.get(RUNS, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Selecione esse objeto para uma ação" in page
    assert ">Falhou</span>" in page  # the failed run's badge
    chronos = admin_client.get(CHRONOS, HTTP_ACCEPT_LANGUAGE="pt-br").content.decode()
    assert "Por extenso" in chronos and ">pausado</span>" in chronos


def test_the_chrono_list_reads_its_rows_in_a_fixed_number_of_queries(make_chrono, admin_client):
    make_chrono(name="Once", schedule="in 10 minutes")
    admin_client.get(CHRONOS)
    with CaptureQueriesContext(connection) as one:
        admin_client.get(CHRONOS)
    for n in range(30):
        make_chrono(name=f"Ping {n}", is_active=n % 2 == 0)
    with CaptureQueriesContext(connection) as many:
        page = admin_client.get(CHRONOS).content.decode()
    assert page.count('class="action-select"') == 31
    assert len(many) == len(one)
