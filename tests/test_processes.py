"""The worker ChronoFlow starts: a thread pool for runs that wait on the network, and a
housekeeping queue that a backlog of runs cannot delay (issue 12, item 2)."""

from chronoflow import processes
from chronoflow.celery import app


def option(command: list[str], flag: str) -> str:
    return command[command.index(flag) + 1]


def test_the_worker_runs_a_thread_pool_sized_by_the_settings(settings):
    command = processes.worker_command()
    assert option(command, "-P") == settings.WORKER_POOL == "threads"
    assert option(command, "-c") == str(settings.WORKER_CONCURRENCY) == "16"


def test_the_embedded_worker_takes_runs_and_housekeeping():
    assert option(processes.worker_command(), "-Q") == "celery,housekeeping"


def test_housekeeping_tasks_go_to_their_own_queue():
    for name in ("automations.tasks.reap_runs", "automations.tasks.prune_runs", "whatsapp.tasks.check_sessions"):
        assert app.amqp.router.route({}, name)["queue"].name == "housekeeping", name


def test_runs_stay_on_the_default_queue():
    assert app.amqp.router.route({}, "automations.tasks.run_chrono")["queue"].name == "celery"
