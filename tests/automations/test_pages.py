"""Pages that stay fast on big tables: cursors for runs, no exact counts in the admin, tallied runs."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from automations import dashboard
from automations.models import ChronoRun, RunTally
from automations.runs import execution, tallies
from chronoflow import paginators
from chronoflow.paginators import EstimatedCountPaginator


def add_runs(chrono, count: int, same_time: bool = False) -> list[ChronoRun]:
    start = timezone.now() - timedelta(hours=2)
    return ChronoRun.objects.bulk_create(
        ChronoRun(chrono=chrono, scheduled_for=start if same_time else start + timedelta(minutes=i),
                  trigger="manual" if same_time else "schedule", status="success")
        for i in range(count)) if not same_time else [
        ChronoRun.objects.create(chrono=chrono, scheduled_for=start, trigger=trigger, status="success")
        for trigger in ("manual", "webhook", "message", "retry", "schedule")[:count]]


# --- API: runs by cursor ------------------------------------------------------------------------

def test_the_run_list_walks_every_run_newest_first_by_cursor_without_a_count(api, make_chrono):
    runs = add_runs(make_chrono(), 7)
    seen, url = [], "/api/runs/?page_size=3"
    while url:
        page = api.get(url).json()
        assert "count" not in page and set(page) == {"next", "previous", "results"}
        seen += [r["id"] for r in page["results"]]
        url = page["next"]
    assert seen == [run.pk for run in reversed(runs)]


def test_runs_of_the_same_instant_are_neither_skipped_nor_repeated_across_pages(api, make_chrono):
    chrono = make_chrono()
    same = add_runs(chrono, 5, same_time=True)
    first = api.get("/api/runs/?page_size=2").json()
    second = api.get(first["next"]).json()
    third = api.get(second["next"]).json()
    ids = [r["id"] for page in (first, second, third) for r in page["results"]]
    assert sorted(ids) == sorted(run.pk for run in same) and len(ids) == 5
    assert ids == sorted(ids, reverse=True)  # newest id first among equal times


def test_the_old_page_number_form_still_answers_for_runs(api, make_chrono):
    runs = add_runs(make_chrono(), 5)
    page = api.get("/api/runs/?page=2&page_size=2").json()
    assert page["count"] == 5 and [r["id"] for r in page["results"]] == [runs[2].pk, runs[1].pk]


def test_the_chrono_list_keeps_its_page_numbers_and_count(api, make_chrono):
    for i in range(3):
        make_chrono(name=f"c{i}")
    page = api.get("/api/chronos/?page=2&page_size=2").json()
    assert page["count"] == 3 and [c["name"] for c in page["results"]] == ["c2"]


def test_a_bad_cursor_is_a_404_not_a_500(api, make_chrono):
    add_runs(make_chrono(), 2)
    assert api.get("/api/runs/?cursor=garbage").status_code == 404


def test_the_schema_documents_the_cursor_of_the_run_lists(client, db):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    for path in ("/api/runs/", "/api/chronos/{id}/runs/"):
        names = {p["name"] for p in schema["paths"][path]["get"]["parameters"]}
        assert {"cursor", "page_size", "page"} <= names, path
    chrono_names = {p["name"] for p in schema["paths"]["/api/chronos/"]["get"]["parameters"]}
    assert "page" in chrono_names and "cursor" not in chrono_names


# --- Admin: no exact count of a big table ---------------------------------------------------------

def test_the_admin_run_list_never_counts_every_run(admin_client, make_chrono):
    add_runs(make_chrono(), 3)
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get("/admin/automations/chronorun/?status__exact=success")
    assert response.status_code == 200 and "cf-badge-success" in response.content.decode()
    counts = [q["sql"] for q in queries if "COUNT(" in q["sql"].upper() and "automations_chronorun" in q["sql"]]
    assert counts and all("LIMIT 10001" in sql for sql in counts), counts
    assert not [q["sql"] for q in queries if "DISTINCT" in q["sql"] and "automations_chronorun" in q["sql"]]


def test_the_paginator_counts_exactly_up_to_its_bound(make_chrono, monkeypatch):
    add_runs(make_chrono(), 4)
    monkeypatch.setattr(paginators, "EXACT_UP_TO", 10)
    assert EstimatedCountPaginator(ChronoRun.objects.order_by("pk"), 2).count == 4


@pytest.mark.skipif(connection.vendor != "postgresql", reason="planner estimates are PostgreSQL's")
def test_past_its_bound_the_paginator_gives_the_planners_estimate(make_chrono, monkeypatch):
    add_runs(make_chrono(), 6)
    monkeypatch.setattr(paginators, "EXACT_UP_TO", 2)
    counted = EstimatedCountPaginator(ChronoRun.objects.filter(status="success").order_by("pk"), 2).count
    assert counted >= 3  # never fewer than it saw itself


# --- Tallies: counted once, when a run ends -----------------------------------------------------

def test_a_run_finished_by_a_worker_is_tallied_once(make_chrono):
    chrono = make_chrono()
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=timezone.now() - timedelta(seconds=3), attempt=1,
                                   status="running", started_at=timezone.now())
    assert not RunTally.objects.exists()  # a running run is not counted
    run = ChronoRun.objects.select_related("chrono").get(pk=run.pk)
    execution.finish(run, ChronoRun.Status.FAILED, error="boom")
    run.save()  # saved again (e.g. by alerts): still one
    ChronoRun.objects.get(pk=run.pk).save()
    figures = dashboard.figures()
    assert dict((s, n) for s, _, n in figures.runs_by_status)["failed"] == 1
    assert 2.9 <= figures.p95_lateness_s <= 3.1
    [total] = tallies.read("runs")
    assert (total.status, total.n) == ("failed", 1)


@pytest.mark.parametrize(("ms", "bucket"), [(0, 0), (0.3, 1), (99, 99), (101, 110), (250, 250), (251, 260),
                                            (19_000, 19_000), (123_456, 130_000)])
def test_values_are_rounded_up_to_two_significant_figures(ms, bucket):
    assert tallies.bucket_ms(ms) == bucket


def test_the_migration_tallies_the_runs_finished_before_it(make_chrono):
    from importlib import import_module
    from types import SimpleNamespace

    from django.apps import apps

    chrono = make_chrono()
    for late_s, status in ((1, "success"), (2.5, "failed"), (40, "timeout")):
        scheduled = timezone.now() - timedelta(hours=3)
        ChronoRun.objects.create(chrono=chrono, scheduled_for=scheduled - timedelta(minutes=late_s), status=status,
                                 attempt=1, started_at=scheduled, duration_ms=int(late_s * 100))
    kept_as_they_ended = sorted(RunTally.objects.values_list("hour", "status", "metric", "value_ms", "n", "total_ms"))
    RunTally.objects.all().delete()
    migration = import_module("automations.migrations.0005_page_indexes")
    migration.tally_existing_runs(apps, SimpleNamespace(connection=connection))
    assert sorted(RunTally.objects.values_list("hour", "status", "metric", "value_ms", "n", "total_ms")) == kept_as_they_ended
