"""The admin index's 24-hour dashboard, and the status badges and links in the admin lists."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.utils import timezone, translation

from automations import dashboard
from automations.models import ChronoRun
from whatsapp.models import Channel


def add_run(chrono, status="success", hours_ago=1.0, late_s=None, **fields) -> ChronoRun:
    scheduled = timezone.now().replace(microsecond=0) - timedelta(hours=hours_ago)
    started = scheduled + timedelta(seconds=late_s) if late_s is not None else None
    return ChronoRun.objects.create(chrono=chrono, scheduled_for=scheduled, status=status, attempt=1,
                                    started_at=started, **fields)


def test_the_index_counts_the_last_24_hours_runs_by_status(admin_client, make_chrono):
    chrono = make_chrono()
    add_run(chrono, "success", 1)
    add_run(chrono, "success", 2)
    add_run(chrono, "failed", 3)
    add_run(chrono, "failed", 30)  # yesterday's: not counted
    figures = admin_client.get("/admin/").context["figures"]
    counts = {status: n for status, _, n in figures.runs_by_status}
    assert counts["success"] == 2 and counts["failed"] == 1 and figures.total_runs == 3


def test_the_index_shows_the_counts_with_coloured_badges(admin_client, make_chrono):
    add_run(make_chrono(), "failed", 1)
    html = admin_client.get("/admin/").content.decode()
    assert 'id="chrono-dashboard"' in html
    assert 'class="cf-badge cf-badge-failed" style="background:#c62828' in html


def test_p95_lateness_is_the_nearest_rank_of_scheduled_first_attempts(make_chrono):
    chrono = make_chrono()
    for i in range(1, 21):
        add_run(chrono, hours_ago=1 + i / 100, late_s=i)
    add_run(chrono, hours_ago=2, late_s=500, trigger="manual")  # manual runs are not dispatched by beat
    assert dashboard.figures().p95_lateness_s == 19.0


def test_p95_lateness_is_unknown_without_runs(db):
    assert dashboard.figures().p95_lateness_s is None


def test_failing_chronos_are_listed_with_their_last_error_and_failure_count(admin_client, make_chrono):
    broken, healthy = make_chrono(name="Broken hook"), make_chrono(name="Fine hook")
    add_run(broken, "failed", 1)
    add_run(broken, "timeout", 2)
    type(broken).objects.filter(pk=broken.pk).update(
        last_run_status="failed", last_run_at=timezone.now(), last_error="HTTP 500: kaput")
    type(healthy).objects.filter(pk=healthy.pk).update(last_run_status="success", last_run_at=timezone.now())
    [failing] = dashboard.figures().failing
    assert failing.chrono == broken and failing.failures == 2
    html = admin_client.get("/admin/").content.decode()
    assert "Broken hook" in html and "HTTP 500: kaput" in html and "Fine hook" not in html


def test_channels_not_working_are_listed_with_their_status(admin_client, db):
    Channel.objects.create(name="Front desk", session_name="desk", status="SCAN_QR_CODE")
    Channel.objects.create(name="Shop", session_name="shop", status="WORKING")
    html = admin_client.get("/admin/").content.decode()
    assert "Front desk" in html and "cf-badge-scan_qr_code" in html and ">Shop<" not in html


def test_staff_without_the_run_permission_do_not_see_the_dashboard(client, db):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    client.force_login(user)
    assert 'id="chrono-dashboard"' not in client.get("/admin/").content.decode()


# --- Lists -------------------------------------------------------------------------------------

def test_the_chrono_list_shows_the_schedule_in_words_a_badge_and_a_link_to_the_runs(admin_client, make_chrono):
    chrono = make_chrono(schedule="daily at 07:30")
    type(chrono).objects.filter(pk=chrono.pk).update(last_run_status="success")
    html = admin_client.get("/admin/automations/chrono/").content.decode()
    assert "At 07:30 AM" in html and "cf-badge-success" in html
    assert f"/admin/automations/chronorun/?chrono__id__exact={chrono.pk}" in html


def test_the_run_list_shows_badges_and_links_each_run_to_its_chrono(admin_client, make_chrono):
    chrono = make_chrono()
    add_run(chrono, "timeout", 1)
    html = admin_client.get("/admin/automations/chronorun/").content.decode()
    assert "cf-badge-timeout" in html and f"/admin/automations/chrono/{chrono.pk}/change/" in html


@pytest.mark.parametrize("status", ["", None])
def test_a_chrono_that_never_ran_shows_a_dash_not_an_empty_badge(status):
    assert dashboard.status_badge(status) == "-"


def test_a_badge_escapes_its_label_and_speaks_the_active_language():
    assert ">&lt;b&gt;</span>" in dashboard.status_badge("failed", "<b>")
    with translation.override("pt-br"):
        assert ">Falhou</span>" in dashboard.status_badge("failed")
    assert ">Failed</span>" in dashboard.status_badge("failed")
