"""Birthday greeting: each contact whose birthday it is, in the contact's own time zone, once a year.

The chrono runs hourly (at the minute of ``time``); a contact is greeted by the first run at
or after ``time`` on their birthday where they live (``Contact.timezone``, else
DEFAULT_TIMEZONE). The greeting is marked per contact and year before it is sent
(RoutineMark ``birthday:<year>``), so a second run that day, a retry or a second worker sends
nothing twice. A send WAHA refused unmarks it, so the next hour tries again; an opted-out
contact is suppressed by the send door and counts as done. Born on 29 February: greeted
on the 28th in other years.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from automations.routines import common
from automations.routines.models import RoutineMark
from automations.targets import Outcome
from contacts.models import Contact

GREETING = "Feliz aniversário, {{ first_name|default:'querido cliente' }}! 🎉 Que seu dia seja incrível."
DEFAULT_TIME = "09:00"


def config_errors(chrono) -> dict[str, list[str]]:
    errors = common.template_errors(chrono, {"greeting": GREETING})
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", common.option(chrono, "time", DEFAULT_TIME)):
        errors.setdefault("extras", []).append("time: write the local time to greet at as HH:MM, e.g. 09:00.")
    return errors


def wants(chrono, message) -> bool:
    return False  # scheduled, not answering messages


def local_time(chrono) -> time:
    hours, minutes = common.option(chrono, "time", DEFAULT_TIME).split(":")
    return time(int(hours), int(minutes))


def due(chrono, now: datetime) -> list[tuple[Contact, int]]:
    """The contacts to greet at ``now``, each with the year of their birthday where they live."""
    at = local_time(chrono)
    found = []
    zones = Contact.objects.filter(birth_date__isnull=False).values_list("timezone", flat=True).distinct()
    for zone in zones:
        local = now.astimezone(ZoneInfo(zone or settings.DEFAULT_TIMEZONE))
        if local.time() < at:
            continue
        born = Q(birth_date__month=local.month, birth_date__day=local.day)
        if local.month == 2 and local.day == 28 and not calendar.isleap(local.year):
            born |= Q(birth_date__month=2, birth_date__day=29)
        greeted = RoutineMark.objects.filter(chrono=chrono, key=f"birthday:{local.year}").values("contact_id")
        contacts = Contact.objects.filter(born, timezone=zone).exclude(pk__in=greeted).order_by("pk")
        found += [(contact, local.year) for contact in contacts]
    return found


def run(chrono, run, context: dict) -> Outcome:
    from automations.targets.routine import BATCH

    now = context.get("now") or timezone.now()
    greeting = common.option(chrono, "greeting", GREETING)
    messages = []
    for contact, year in due(chrono, now)[:BATCH]:
        mark = _mark(chrono, contact, year)
        if mark is None:
            continue  # another run greeted them meanwhile
        text = common.render(greeting, contact, now=now)
        message = common.send(chrono, run, common.chat_for(chrono, contact), text)
        if message.status == common.Status.FAILED:
            mark.delete()  # refused by WAHA: the next run tries again today
        else:
            RoutineMark.objects.filter(pk=mark.pk).update(message=message)
        messages.append(message)
    return common.outcome(messages, greeted=sum(common.went(m) for m in messages))


def _mark(chrono, contact: Contact, year: int) -> RoutineMark | None:
    try:
        with transaction.atomic():
            return RoutineMark.objects.create(chrono=chrono, contact=contact, key=f"birthday:{year}")
    except IntegrityError:
        return None
