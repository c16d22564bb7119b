"""The ROUTINE target: one of ChronoFlow's own routines over contacts (automations/routines/).

Birthday greeting, satisfaction survey, new-lead welcome: code of ours rather than a user
function, because they read and write contacts. Each sends through ``Channel.send_and_record``
(opt-outs suppressed there, one row per chat per run) and remembers per contact what it did.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from automations import routines
from automations.targets import Outcome, message

# A birthday run greets at most this many contacts; the next run (hourly) goes on with the rest.
BATCH = 200


def deadline_s(chrono) -> float:
    return settings.WAHA_TIMEOUT_MS / 1000 * (BATCH if chrono.routine == routines.BIRTHDAY else 3)


def config_errors(chrono) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if not chrono.channel_id:
        errors["channel"] = [_("A ROUTINE chrono needs a channel.")]
    try:
        routine = routines.module(chrono.routine)
    except LookupError:
        errors["routine"] = [_("Choose the routine: birthday, survey or welcome.")]
        return errors
    if not isinstance(chrono.extras, dict):
        errors["extras"] = [_("A routine's options are a JSON object.")]
        return errors
    for name, problems in routine.config_errors(chrono).items():
        errors.setdefault(name, []).extend(problems)
    return errors


def run(chrono, run, context: dict) -> Outcome:
    not_ready = message.channel_not_ready(chrono, run)
    if not_ready is not None:
        return not_ready
    return routines.module(chrono.routine).run(chrono, run, context)
