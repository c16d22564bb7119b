"""Ready-made automations: working chronos from a few answers (channel, time, URL...).

Each ``Recipe`` names the options it needs and builds its chronos in one transaction:
an answer that does not fit raises ``InvalidOption`` naming the option, and nothing is
saved. ``manage.py install_template`` and the admin page "Ready-made automations" are
two faces of ``install()``.

Event-driven chronos (keyword reply, appointment reminder) get the "manual" schedule,
so they run only when triggered, and allow overlapping runs: two customers writing at
once must both get an answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from automations.events.matching import regex_problem
from automations.models import Chrono, IntegratorHook, MessageTrigger


class InvalidOption(ValueError):
    """An answer a recipe cannot use; ``option`` names it (``channel``, ``time``...)."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(f"{option if option == 'template' else '--' + option}: {message}")
        self.option, self.message = option, message


@dataclass(frozen=True)
class Option:
    name: str
    help: str
    default: str | None = None  # None: the operator must answer


@dataclass
class Installed:
    """What an install created: the chronos, and anything else the operator must know."""

    chronos: list[Chrono]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    description: str
    options: tuple[Option, ...]
    build: Callable[[dict], Installed]

    def install(self, answers: dict[str, str | None]) -> Installed:
        """Check the answers against this recipe's options, then create its chronos atomically."""
        unknown = sorted(name for name, value in answers.items()
                         if value not in (None, "") and name not in {o.name for o in self.options})
        if unknown:
            raise InvalidOption(unknown[0], f"{self.name} does not use this option; it asks for "
                                            f"{', '.join('--' + o.name for o in self.options)}.")
        values = {}
        for option in self.options:
            value = (answers.get(option.name) or option.default or "").strip()
            if not value:
                raise InvalidOption(option.name, f"required by {self.name}: {option.help}")
            values[option.name] = CHECKS.get(option.name, _text)(option.name, value)
        try:
            with transaction.atomic():
                return self.build(values)
        except ValidationError as exc:  # a model refused what the answers made; name the answer if we can
            field, messages = next(iter(exc.message_dict.items()))
            option = field if field in values else "template"
            raise InvalidOption(option, " ".join(messages)) from None


# --- Answers --------------------------------------------------------------------------------


def _text(option: str, value: str) -> str:
    return value


def _channel(option: str, value: str):
    from whatsapp.models import Channel

    found = Channel.objects.filter(session_name=value).first()
    if found is None and value.isdigit():
        found = Channel.objects.filter(pk=int(value)).first()
    if found is None:
        known = ", ".join(Channel.objects.values_list("session_name", flat=True)) or "none yet"
        raise InvalidOption(option, f"no WhatsApp channel has the session name or id {value!r} (channels: {known}).")
    return found


def _time(option: str, value: str) -> str:
    match = re.fullmatch(r"([01]?\d|2[0-3])(?::|h)([0-5]\d)?", value.lower())
    if match is None:
        raise InvalidOption(option, f"{value!r} is not a time of day; write it as HH:MM, e.g. 08:30.")
    return f"{int(match[1]):02d}:{match[2] or '00'}"


def _url(option: str, value: str) -> str:
    try:
        URLValidator(schemes=["http", "https"])(value)
    except ValidationError:
        raise InvalidOption(option, f"{value!r} is not an http(s) URL.") from None
    return value


def _phone(option: str, value: str) -> str:
    from whatsapp import recipients

    try:
        return recipients.normalise(value)
    except recipients.InvalidRecipient as exc:
        raise InvalidOption(option, str(exc)) from None


def _keyword(option: str, value: str) -> str:
    problem = regex_problem(value) if value.startswith("re:") else ""
    if problem:
        raise InvalidOption(option, problem)
    return value


CHECKS = {"channel": _channel, "time": _time, "url": _url, "owner": _phone, "keyword": _keyword}


# --- Building blocks ------------------------------------------------------------------------


def _function_chrono(name: str, code: str, **fields) -> Chrono:
    from functions.models import UserFunction

    function = UserFunction(name=_free_function_name(name), code=code)
    function.full_clean()
    function.save()
    return _chrono(name=name, target_type=Chrono.TargetType.FUNCTION, function=function, **fields)


def _free_function_name(name: str) -> str:
    from functions.models import UserFunction

    candidate, n = name, 1
    while UserFunction.objects.filter(name=candidate).exists():
        n += 1
        candidate = f"{name} ({n})"
    return candidate


def _chrono(**fields) -> Chrono:
    chrono = Chrono(**fields)
    chrono.clean()  # first: it fills in the normalised schedule that full_clean checks
    chrono.full_clean(validate_unique=False)
    chrono.save()
    return chrono


def _daily(time: str) -> str:
    return f"daily at {time}"


def _allowlist_notes(url: str | None = None) -> list[str]:
    """What the functions' policy settings must allow for the recipe's function to work."""
    notes = []
    host = urlsplit(url).hostname if url else None
    if host and not any(entry.split(":")[0].strip("[]") == host for entry in settings.FUNCTION_HTTP_ALLOWLIST):
        notes.append(f"Add {host} to FUNCTION_HTTP_ALLOWLIST so the function may call it.")
    if not settings.FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST:
        notes.append("FUNCTION_MESSAGE_RECIPIENT_ALLOWLIST is empty: set the number prefixes (e.g. 55) "
                     "the function may send to.")
    return notes


# --- The recipes ----------------------------------------------------------------------------

APPOINTMENT_TEXT = ("Olá {{ input.name }}! Lembrete: seu horário é {{ input.when }}."
                    "{% if input.place %} Local: {{ input.place }}.{% endif %} Até lá!")


def _appointment_reminder(v: dict) -> Installed:
    chrono = _chrono(name="Appointment reminder", schedule="manual", target_type=Chrono.TargetType.MESSAGE,
                     channel=v["channel"], recipients=["{{ input.phone }}"], message_template=APPOINTMENT_TEXT,
                     overlap_policy=Chrono.Overlap.ALLOW,
                     description="Your booking system posts {\"phone\", \"name\", \"when\", \"place\"} to the "
                                 "webhook when a reminder is due; the customer gets the message.")
    hook = IntegratorHook.rotate_token(chrono)
    return Installed([chrono], [f"Booking system: POST {{\"phone\", \"name\", \"when\"}} to {hook.url}"])


BILLING_CODE = '''\
def run(ctx):
    """Remind every customer the billing system lists as overdue."""
    overdue = ctx.http.get(ctx.env["url"]).json()
    sent = 0
    for customer in overdue:
        text = "Olá " + customer["name"] + ", a fatura de R$ " + str(customer["amount"]) + " venceu em " \\
            + customer["due"] + ". Se já pagou, desconsidere."
        ctx.message.send({"to": customer["phone"], "text": text})
        sent = sent + 1
    ctx.log("lembretes enviados", sent)
    return {"sent": sent}
'''


def _billing_reminder(v: dict) -> Installed:
    chrono = _function_chrono("Overdue billing reminder", BILLING_CODE, schedule=_daily(v["time"]),
                              channel=v["channel"], extras={"url": v["url"]},
                              description="Daily: GET the URL (a JSON list of {name, phone, amount, due}) and "
                                          "send each overdue customer a WhatsApp reminder.")
    return Installed([chrono], _allowlist_notes(v["url"]))


SUMMARY_CODE = '''\
def run(ctx):
    """Send the owner the day's figures the business system reports."""
    figures = ctx.http.get(ctx.env["url"]).json()
    lines = ["Resumo do dia:"]
    for name in sorted(figures):
        lines.append("- " + str(name) + ": " + str(figures[name]))
    ctx.message.send({"to": ctx.env["owner"], "text": "\\n".join(lines)})
    return {"figures": len(figures)}
'''


def _daily_summary(v: dict) -> Installed:
    chrono = _function_chrono("Daily summary to the owner", SUMMARY_CODE, schedule=_daily(v["time"]),
                              channel=v["channel"], extras={"url": v["url"], "owner": v["owner"]},
                              description="Daily: GET the URL (a JSON object of figures) and send them to the owner.")
    return Installed([chrono], _allowlist_notes(v["url"]))


REACTIVATION_CODE = '''\
def run(ctx):
    """Invite back the inactive contacts the CRM lists; each one is invited once."""
    contacted = ctx.state.get("contacted") or {}
    sent = 0
    for contact in ctx.http.get(ctx.env["url"]).json():
        if contact["phone"] in contacted:
            continue
        ctx.message.send({"to": contact["phone"],
                          "text": "Olá " + contact["name"] + ", sentimos sua falta! Temos novidades para você."})
        contacted[contact["phone"]] = True
        sent = sent + 1
    ctx.state.set("contacted", contacted)
    return {"sent": sent}
'''


def _reactivation(v: dict) -> Installed:
    chrono = _function_chrono("Reactivation of inactive contacts", REACTIVATION_CODE,
                              schedule=f"every monday at {v['time']}", channel=v["channel"], extras={"url": v["url"]},
                              description="Weekly: GET the URL (a JSON list of {name, phone} of inactive contacts) "
                                          "and invite each back once.")
    return Installed([chrono], _allowlist_notes(v["url"]))


def _keyword_auto_reply(v: dict) -> Installed:
    keyword = v["keyword"]
    match, pattern = (MessageTrigger.Match.REGEX, keyword[3:]) if keyword.startswith("re:") else \
        (MessageTrigger.Match.EXACT, keyword)
    chrono = _chrono(name=f"Auto-reply: {pattern}"[:200], schedule="manual", target_type=Chrono.TargetType.MESSAGE,
                     channel=v["channel"], recipients=["{{ input.from }}"], message_template=v["reply"],
                     overlap_policy=Chrono.Overlap.ALLOW)
    trigger = MessageTrigger(chrono=chrono, channel=v["channel"], match=match, pattern=pattern)
    trigger.full_clean()
    trigger.save()
    return Installed([chrono], [f"Replies to messages on {v['channel']} that are {pattern!r} "
                                f"(case and accents ignored), at most {trigger.max_runs} per contact per "
                                f"{trigger.per_seconds}s."])


# --- Routines over contacts (automations/routines/) --------------------------------------------


def _routine_chrono(name: str, routine: str, schedule: str, extras: dict, **fields) -> Chrono:
    return _chrono(name=name, schedule=schedule, target_type=Chrono.TargetType.ROUTINE, routine=routine,
                   extras=extras, **fields)


def _routine_trigger(chrono: Chrono, channel) -> MessageTrigger:
    """Messages the routine wants (a survey's answer, a new lead's first message) start it."""
    trigger = MessageTrigger(chrono=chrono, channel=channel, match=MessageTrigger.Match.ROUTINE, max_runs=5)
    trigger.full_clean()
    trigger.save()
    return trigger


def _birthday_greeting(v: dict) -> Installed:
    minute = v["time"].split(":")[1]
    chrono = _routine_chrono("Birthday greeting", "birthday", f"{int(minute)} * * * *",
                             {"time": v["time"], "greeting": v["greeting"]}, channel=v["channel"],
                             description="Hourly: contacts whose birthday it is where they live (their time zone) "
                                         f"get the greeting from {v['time']} on, once a year.")
    return Installed([chrono], ["Fill in the contacts' birth dates (admin, API or the CSV import); "
                                "the greeting text is the chrono's extras \"greeting\"."])


def _satisfaction_survey(v: dict) -> Installed:
    chrono = _routine_chrono("Satisfaction survey", "survey", "manual", {"question": v["question"]},
                             channel=v["channel"], overlap_policy=Chrono.Overlap.ALLOW,
                             description="After a visit your system posts {\"phone\", \"name\"} to the webhook; "
                                         "the contact gets the question, and the 1-5 answer is kept on the contact.")
    hook = IntegratorHook.rotate_token(chrono)
    _routine_trigger(chrono, v["channel"])
    return Installed([chrono], [f"After each visit: POST {{\"phone\", \"name\"}} to {hook.url}",
                                "Answers: Satisfaction survey answers in the admin, and the contact's custom field "
                                "\"satisfaction\"."])


def _new_lead_welcome(v: dict) -> Installed:
    chrono = _routine_chrono("New-lead welcome", "welcome", "manual", {"welcome": v["welcome"]},
                             channel=v["channel"], overlap_policy=Chrono.Overlap.ALLOW,
                             description="The first message from an unknown number creates its contact and is "
                                         "answered with the welcome, once per contact.")
    _routine_trigger(chrono, v["channel"])
    return Installed([chrono], [f"Welcomes new numbers writing to {v['channel']}."])


def _routine_text(module: str, name: str) -> str:
    from importlib import import_module

    return getattr(import_module(f"automations.routines.{module}"), name)


CHANNEL = Option("channel", "the WhatsApp channel that sends (its session name or id).")
RECIPES = {recipe.name: recipe for recipe in (
    Recipe("appointment-reminder", "Appointment reminder",
           "Your booking system posts an appointment to a webhook; the customer gets a WhatsApp reminder.",
           (CHANNEL,), _appointment_reminder),
    Recipe("billing-reminder", "Overdue-billing reminder",
           "Every day a function fetches the overdue customers from your system and sends each a WhatsApp reminder.",
           (CHANNEL, Option("url", "the URL listing overdue customers as JSON [{name, phone, amount, due}]."),
            Option("time", "when to send, HH:MM in the default time zone.", "09:00")), _billing_reminder),
    Recipe("daily-summary", "Daily summary to the owner",
           "Every day a function fetches the day's figures from your system and sends them to the owner.",
           (CHANNEL, Option("owner", "the owner's WhatsApp number."),
            Option("url", "the URL answering the day's figures as a JSON object."),
            Option("time", "when to send, HH:MM.", "18:00")), _daily_summary),
    Recipe("reactivation", "Reactivation of inactive contacts",
           "Every Monday a function fetches inactive contacts from your CRM and invites each back once.",
           (CHANNEL, Option("url", "the URL listing inactive contacts as JSON [{name, phone}]."),
            Option("time", "when to send on Mondays, HH:MM.", "10:00")), _reactivation),
    Recipe("keyword-auto-reply", "Keyword auto-reply",
           "Whoever sends the keyword gets the reply at once.",
           (CHANNEL, Option("keyword", "the message that triggers the reply (re:<regex> for a regular expression)."),
            Option("reply", "the text sent back (Django template: {{ input.text }}, {{ input.from }}).")),
           _keyword_auto_reply),
    Recipe("birthday-greeting", _("Birthday greeting"),
           _("Every contact with a birth date gets a greeting on their birthday, in their own time zone, "
             "once a year; opted-out contacts are skipped."),
           (CHANNEL, Option("time", "the local time (the contact's zone) to greet from, HH:MM.", "09:00"),
            Option("greeting", "the greeting (Django template: {{ first_name }}, {{ contact.name }}).",
                   _routine_text("birthday", "GREETING"))), _birthday_greeting),
    Recipe("satisfaction-survey", _("Satisfaction survey"),
           _("After a visit your system calls a webhook; the customer is asked for a 1-5 score, the answer is "
             "kept on the contact and thanked, and an unclear answer is asked again once."),
           (CHANNEL, Option("question", "the question sent after the visit (Django template: {{ first_name }}).",
                            _routine_text("survey", "QUESTION"))), _satisfaction_survey),
    Recipe("new-lead-welcome", _("New-lead welcome"),
           _("The first message from an unknown number creates its contact and gets a welcome, once per contact."),
           (CHANNEL, Option("welcome", "the welcome sent back (Django template: {{ first_name }}).",
                            _routine_text("welcome", "WELCOME"))), _new_lead_welcome),
)}


def install(name: str, answers: dict[str, str | None]) -> Installed:
    """Install the recipe ``name``; InvalidOption (option ``template``) for an unknown name."""
    recipe = RECIPES.get(name)
    if recipe is None:
        raise InvalidOption("template", f"no ready-made automation is called {name!r}; "
                                        f"choose one of {', '.join(RECIPES)}.")
    return recipe.install(answers)
