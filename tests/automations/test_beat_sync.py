import json

from django_celery_beat.models import CrontabSchedule, PeriodicTask, PeriodicTasks

from automations.beat import sync as beat_sync
from automations.models import Chrono


def chrono_tasks() -> set[str]:
    return set(PeriodicTask.objects.filter(name__startswith="chrono:").values_list("name", flat=True))


def active_chronos() -> set[str]:
    return {f"chrono:{pk}" for pk in Chrono.objects.filter(is_active=True).values_list("pk", flat=True)}


def test_a_cron_chrono_owns_a_crontab_task_in_its_timezone(make_chrono):
    chrono = make_chrono(schedule="todo dia às 08:00", timezone="Europe/Berlin")
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "8", "Europe/Berlin")
    assert task.task == "automations.tasks.run_chrono"
    assert json.loads(task.kwargs) == {"chrono_id": chrono.pk}
    assert task.interval is None and task.clocked is None and not task.one_off
    assert chrono.periodic_task_id == task.pk


def test_an_interval_chrono_owns_an_interval_task_in_seconds(make_chrono):
    chrono = make_chrono(schedule="a cada 15 minutos")
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert (task.interval.every, task.interval.period) == (900, "seconds")


def test_an_hour_interval_dividing_24_owns_a_crontab_on_the_hour_in_its_timezone(make_chrono):
    chrono = make_chrono(schedule="a cada 2 horas", timezone="America/Sao_Paulo")
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert task.interval is None
    assert (task.crontab.minute, task.crontab.hour, str(task.crontab.timezone)) == ("0", "*/2", "America/Sao_Paulo")


def test_a_one_shot_chrono_owns_a_clocked_one_off_task(make_chrono):
    chrono = make_chrono(schedule="in 10 min")
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert task.one_off and task.clocked.clocked_time == chrono.run_at


def test_editing_the_schedule_moves_the_task_to_the_new_schedule(make_chrono):
    chrono = make_chrono(schedule="0 8 * * *")
    chrono.schedule = "every 30 seconds"
    chrono.save()
    task = PeriodicTask.objects.get(name=f"chrono:{chrono.pk}")
    assert task.crontab is None and task.interval.every == 30


def test_pausing_removes_the_task_and_resuming_brings_it_back(make_chrono):
    chrono = make_chrono()
    chrono.pause()
    assert chrono_tasks() == set() == active_chronos()
    chrono.resume()
    assert chrono_tasks() == {f"chrono:{chrono.pk}"} == active_chronos()


def test_deleting_a_chrono_removes_its_task_but_keeps_the_shared_crontab(make_chrono):
    first, second = make_chrono(), make_chrono(name="Other")
    assert first.periodic_task.crontab_id == second.periodic_task.crontab_id
    first.delete()
    assert chrono_tasks() == {f"chrono:{second.pk}"}
    assert CrontabSchedule.objects.filter(pk=second.periodic_task.crontab_id).exists()


def test_bulk_queryset_delete_and_update_keep_beat_exact(make_chrono):
    chronos = [make_chrono(name=f"c{i}") for i in range(4)]
    Chrono.objects.filter(pk__in=[c.pk for c in chronos[:2]]).update(is_active=False)
    assert chrono_tasks() == active_chronos() and len(active_chronos()) == 2
    Chrono.objects.update(is_active=True)
    assert chrono_tasks() == active_chronos() and len(active_chronos()) == 4
    Chrono.objects.filter(pk=chronos[0].pk).delete()
    assert chrono_tasks() == active_chronos() and len(active_chronos()) == 3


def test_saving_an_unchanged_chrono_does_not_make_beat_reload(make_chrono):
    chrono = make_chrono()
    before = PeriodicTasks.last_change()
    chrono.description = "only the description changed"
    chrono.save()
    assert PeriodicTasks.last_change() == before


def test_plain_periodic_tasks_are_not_touched(make_chrono):
    crontab = CrontabSchedule.objects.create(minute="5")
    PeriodicTask.objects.create(name="housekeeping", task="x.y", crontab=crontab)
    chrono = make_chrono()
    chrono.delete()
    assert PeriodicTask.objects.filter(name="housekeeping").exists()
    assert beat_sync.orphans(Chrono.objects.filter(is_active=True).values_list("pk", flat=True)) == []
