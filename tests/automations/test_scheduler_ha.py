"""Two beats at once: the beat lock lets one send, the standby takes over when the holder
dies, and the run claim makes any occurrence sent twice execute once."""

import os
import socket
from datetime import datetime

import pytest
import responses
from django.db import connection

from automations.beat import lock as beat_lock
from automations.models import ChronoRun
from tests.automations.test_scheduler import Held, at, beat, clock, run_until  # noqa: F401  (fixtures)


@pytest.fixture
def lock_file(tmp_path):
    return tmp_path / "beat.lock"


def die(scheduler) -> None:
    """What the kernel does for a beat that is killed: its lock goes, nothing else runs."""
    scheduler.lock.release()


def test_a_second_beat_sends_nothing_while_the_first_holds_the_lock(make_chrono, beat, clock, lock_file):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC")
    first, second = beat(beat_lock.FileLock(lock_file)), beat(beat_lock.FileLock(lock_file))
    for minute in (0, 10, 20):
        clock.move_to(at(2026, 6, 1, 10, minute, 0, 100_000))
        first.tick()
        second.tick()
    assert first.publish.occurrences(chrono) == [at(2026, 6, 1, 10, m) for m in (0, 10, 20)]
    assert second.publish == []


def test_the_standby_takes_over_when_the_holder_dies_and_resends_nothing(make_chrono, beat, clock, lock_file):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC")
    first, second = beat(beat_lock.FileLock(lock_file)), beat(beat_lock.FileLock(lock_file))
    clock.move_to(at(2026, 6, 1, 10, 0, 0, 100_000))
    first.tick()
    second.tick()
    die(first)
    clock.shift(1)
    second.tick()  # takes over: loads, sees 10:00 was sent
    run_until(second, clock, at(2026, 6, 1, 10, 20, 1))
    assert first.publish.occurrences(chrono) == [at(2026, 6, 1, 10)]
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 10), at(2026, 6, 1, 10, 20)]


def test_a_holder_that_dies_before_an_occurrence_leaves_it_to_the_standby(make_chrono, beat, clock, lock_file):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC")
    first, second = beat(beat_lock.FileLock(lock_file)), beat(beat_lock.FileLock(lock_file))
    clock.move_to(at(2026, 6, 1, 10, 9, 59))
    first.tick()
    second.tick()
    die(first)
    clock.move_to(at(2026, 6, 1, 10, 10, 0, 500_000))
    second.tick()
    assert second.publish.occurrences(chrono) == [at(2026, 6, 1, 10, 10)]


def test_two_beats_that_both_send_an_occurrence_make_it_run_once(make_chrono, beat, clock):
    chrono = make_chrono(schedule="*/10 * * * *", timezone="UTC", url="http://127.0.0.1:9/hook")
    first, second = beat(Held()), beat(Held())  # split brain: both think they hold the lock
    clock.move_to(at(2026, 6, 1, 10, 0, 0, 100_000))
    first.tick()
    second.tick()
    sends = [s.kwargs for b in (first, second) for s in b.publish if s.kwargs.get("chrono_id") == chrono.pk]
    assert sends[0] == sends[1]  # the same occurrence, to the microsecond
    from automations.tasks import run_chrono

    with responses.RequestsMock() as http:
        http.add(responses.POST, "http://127.0.0.1:9/hook", status=204)
        outcomes = [run_chrono(**kwargs) for kwargs in sends]
        assert len(http.calls) == 1
    assert outcomes[1] in ("duplicate", "no-op")
    assert ChronoRun.objects.filter(chrono=chrono).count() == 1


# --- the locks themselves ------------------------------------------------------------------

def test_a_file_lock_is_exclusive_until_released(lock_file):
    first, second = beat_lock.FileLock(lock_file), beat_lock.FileLock(lock_file)
    assert first.hold() and first.hold()
    assert not second.hold()
    first.release()
    assert second.hold()
    second.release()


def redis_url() -> str:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.2).close()
    except OSError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    return "redis://127.0.0.1:6379/12"


def test_a_redis_lock_is_exclusive_and_passes_on_when_its_ttl_runs_out(lock_file):
    url, key = redis_url(), f"chronoflow:test-beat-lock:{os.getpid()}"
    first = beat_lock.RedisLock(url, key, ttl_s=0.3)
    second = beat_lock.RedisLock(url, key, ttl_s=0.3)
    try:
        assert first.hold()
        assert not second.hold()
        deadline = datetime.now().timestamp() + 3
        while not second.hold():  # first stopped renewing (it "died"): its lease expires
            assert datetime.now().timestamp() < deadline, "the standby never took over"
        assert not first.hold()  # and the old holder knows it lost the lock
    finally:
        first.release()
        second.release()


def test_a_redis_lock_holder_keeps_the_lock_by_renewing_it():
    url, key = redis_url(), f"chronoflow:test-beat-lock-renew:{os.getpid()}"
    first = beat_lock.RedisLock(url, key, ttl_s=0.3)
    second = beat_lock.RedisLock(url, key, ttl_s=0.3)
    try:
        deadline = datetime.now().timestamp() + 1
        while datetime.now().timestamp() < deadline:
            assert first.hold()
            assert not second.hold()
    finally:
        first.release()
        second.release()


def test_a_redis_lock_holder_whose_tick_outlasted_its_trust_keeps_the_lock_while_its_key_lives():
    # A tick longer than 0.8 x TTL (a big burst on a starved machine) but shorter than the TTL:
    # the key is still ours, so this is no takeover (which would make beat reload everything).
    url, key = redis_url(), f"chronoflow:test-beat-lock-trust:{os.getpid()}"
    first = beat_lock.RedisLock(url, key, ttl_s=30)
    second = beat_lock.RedisLock(url, key, ttl_s=30)
    try:
        assert first.hold()
        first._valid_until = 0.0  # its local trust ran out; the key has 30 s left
        assert first.hold()
        assert not second.hold()
    finally:
        first.release()
        second.release()


def test_a_postgresql_advisory_lock_is_exclusive_until_its_session_ends(db):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    first, second = beat_lock.AdvisoryLock(key=424242), beat_lock.AdvisoryLock(key=424242)
    try:
        assert first.hold()
        assert not second.hold()
        first.connection.close()  # the holder's session dies
        second.check_every_s = 0
        assert second.hold()
    finally:
        first.release()
        second.release()


def test_the_embedded_default_uses_a_file_lock_beside_the_database(db, settings):
    settings.REDIS_URL = ""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    lock = beat_lock.for_settings()
    assert isinstance(lock, beat_lock.FileLock)
    assert lock.path.name.endswith(".beat-lock")


def test_a_deployment_with_redis_uses_a_redis_lock(db, settings):
    settings.REDIS_URL = "redis://127.0.0.1:6379/12"
    assert isinstance(beat_lock.for_settings(), beat_lock.RedisLock)
