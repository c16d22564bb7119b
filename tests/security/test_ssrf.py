"""Point 11: HTTP_TARGET_DENY_PRIVATE. HTTP targets refuse loopback, private and link-local
addresses after DNS resolution, on every redirect, and on the socket actually connected
(so a DNS answer that changes between check and connection cannot slip through)."""

import socket

import pytest

from automations.models import Chrono, ChronoRun
from automations.runs import execution
from chronoflow import http
from chronoflow.http import AddressPolicy, HttpError

pytestmark = pytest.mark.django_db


@pytest.fixture
def deny_private(settings):
    settings.HTTP_TARGET_DENY_PRIVATE = True
    settings.HTTP_TARGET_ALLOW_NETWORKS = []
    return settings


def run_chrono_at(url: str) -> ChronoRun:
    chrono = Chrono.objects.create(name="ssrf", schedule="0 0 1 1 *", timezone="UTC", url=url, max_attempts=3)
    run = ChronoRun.objects.create(chrono=chrono, scheduled_for=chrono.created_at, trigger="manual")
    execution.execute(chrono.pk, None, None, run.pk, 0)
    run.refresh_from_db()
    return run


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                     "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1",
                                     "224.0.0.1"])
def test_non_public_addresses_are_refused(address):
    assert not AddressPolicy().allows(address)


def test_public_addresses_and_allowed_networks_pass():
    assert AddressPolicy().allows("93.184.216.34") and AddressPolicy().allows("2606:2800:220:1::")
    assert AddressPolicy(["10.0.5.0/24"]).allows("10.0.5.7") and not AddressPolicy(["10.0.5.0/24"]).allows("10.0.6.7")


def test_an_http_chrono_to_a_loopback_server_fails_for_good_and_nothing_reaches_it(deny_private, local_server):
    local_server.reply("/hook", status=200)
    run = run_chrono_at(local_server.url("/hook"))
    assert (run.status, run.attempt) == ("failed", 1)  # permanent: not retried
    assert "127.0.0.1" in run.error_message and "HTTP_TARGET_DENY_PRIVATE" in run.error_message
    assert local_server.requests_to("/hook") == []


def test_a_host_name_is_checked_after_dns_resolution(deny_private, local_server):
    local_server.reply("/hook", status=200)
    run = run_chrono_at(f"http://localhost:{local_server.port}/hook")
    assert run.status == "failed" and "'localhost' resolves to" in run.error_message
    assert local_server.requests_to("/hook") == []


def test_without_the_setting_local_targets_are_allowed(settings, local_server):
    settings.HTTP_TARGET_DENY_PRIVATE = False
    local_server.reply("/hook", status=200)
    assert run_chrono_at(local_server.url("/hook")).status == "success"


def test_every_redirect_hop_is_checked(local_server):
    # 127.0.0.1 is allowed on purpose here, so the first hop passes and the redirect is what is refused.
    local_server.reply("/start", redirect="http://127.0.0.2:9/internal")
    policy = AddressPolicy(["127.0.0.1/32"])
    with pytest.raises(HttpError) as refused:
        http.send("GET", local_server.url("/start"), timeout_s=5, address_policy=policy)
    assert refused.value.permanent and "127.0.0.2" in refused.value.message
    assert len(local_server.requests_to("/start")) == 1


def test_a_dns_answer_that_changes_after_the_check_cannot_reach_a_private_address(local_server, monkeypatch):
    """DNS rebinding: the name resolves to a public address when checked, then to 127.0.0.1."""
    local_server.reply("/hook", status=200)
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])

    def rebinding(host, port, *args, **kwargs):
        if host == "rebind.example":
            return real(next(answers, "127.0.0.1"), port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with pytest.raises(HttpError) as refused:
        http.send("GET", f"http://rebind.example:{local_server.port}/hook", timeout_s=5, address_policy=AddressPolicy())
    assert refused.value.permanent and "connected to 127.0.0.1" in refused.value.message
    assert local_server.requests_to("/hook") == []
