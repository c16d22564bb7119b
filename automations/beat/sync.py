"""The only module that writes django-celery-beat rows.

Each active chrono owns one PeriodicTask named ``chrono:<pk>``; an inactive or deleted
chrono, or one whose schedule is "manual" (only when triggered), owns none. Shared CrontabSchedule/IntervalSchedule rows are reused and never
deleted here: deleting one would cascade to every task that shares it.
"""

import json
from collections.abc import Iterable

from django.db import transaction
from django_celery_beat.models import (
    ClockedSchedule,
    CrontabSchedule,
    IntervalSchedule,
    PeriodicTask,
    PeriodicTasks,
)

from automations import schedule as sched
from automations.queue import RUN_TASK

TASK = RUN_TASK
PREFIX = "chrono:"
# A queryset update() touching any of these re-syncs the chronos it changed.
FIELDS_THAT_MATTER = frozenset({"is_active", "schedule", "schedule_kind", "schedule_expression", "run_at", "timezone"})


def task_name(chrono_pk: int) -> str:
    return f"{PREFIX}{chrono_pk}"


def _schedule_fields(chrono) -> dict:
    """The PeriodicTask schedule columns for a chrono: exactly one of them set."""
    fields = {"crontab": None, "interval": None, "clocked": None, "solar": None, "one_off": False}
    # Whole hours dividing 24 fire on the hour in the chrono's zone: a crontab, not a count from creation.
    aligned = sched.aligned_cron(chrono.parsed_schedule) if chrono.schedule_kind == "interval" else None
    if chrono.schedule_kind == "cron" or aligned:
        minute, hour, day_of_month, month_of_year, day_of_week = (aligned or chrono.schedule_expression).split()
        fields["crontab"], _ = CrontabSchedule.objects.get_or_create(
            minute=minute, hour=hour, day_of_month=day_of_month, month_of_year=month_of_year,
            day_of_week=day_of_week, timezone=chrono.timezone,
        )
    elif chrono.schedule_kind == "interval":
        fields["interval"], _ = IntervalSchedule.objects.get_or_create(
            every=int(chrono.schedule_expression), period=IntervalSchedule.SECONDS
        )
    else:
        fields["clocked"], _ = ClockedSchedule.objects.get_or_create(clocked_time=chrono.run_at)
        fields["one_off"] = True
    return fields


def sync(chrono) -> None:
    """Make the chrono's PeriodicTask match it: present and exact when active, gone when not."""
    if not chrono.is_active or chrono.schedule_kind == "manual":  # "manual": runs only when triggered
        unsync(chrono.pk)
        return
    with transaction.atomic():
        wanted = {
            "task": TASK,
            "kwargs": json.dumps({"chrono_id": chrono.pk}),
            "enabled": True,
            "description": f"ChronoFlow chrono {chrono.pk}: {chrono.name}"[:200],
            **_schedule_fields(chrono),
        }
        task = PeriodicTask.objects.filter(name=task_name(chrono.pk)).first()
        if task is None:
            task = PeriodicTask.objects.create(name=task_name(chrono.pk), **wanted)
        elif any(getattr(task, field) != value for field, value in wanted.items()):
            # Only write on a real change: every write makes beat reload its schedule.
            for field, value in wanted.items():
                setattr(task, field, value)
            task.save()
        if chrono.periodic_task_id != task.pk:
            type(chrono)._base_manager.filter(pk=chrono.pk).update(periodic_task=task)
            chrono.periodic_task_id = task.pk


def unsync(chrono_pk: int) -> None:
    deleted, _ = PeriodicTask.objects.filter(name=task_name(chrono_pk)).delete()
    if deleted:
        PeriodicTasks.update_changed()


def sync_many(chronos: Iterable) -> None:
    """Re-sync after a bulk change: one delete for the inactive ones, an upsert per active one."""
    chronos = list(chronos)
    inactive = [task_name(c.pk) for c in chronos if not c.is_active]
    if inactive:
        PeriodicTask.objects.filter(name__in=inactive).delete()
    for chrono in chronos:
        if chrono.is_active:
            sync(chrono)
    PeriodicTasks.update_changed()


def orphans(active_pks: Iterable[int]) -> list[str]:
    """PeriodicTask names that claim a chrono which is not among ``active_pks`` (deleted or inactive)."""
    names = set(PeriodicTask.objects.filter(name__startswith=PREFIX).values_list("name", flat=True))
    return sorted(names - {task_name(pk) for pk in active_pks})
