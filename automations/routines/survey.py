"""Satisfaction survey: a question after a visit; the 1-5 answer is kept on the contact.

Design (the simplest that needs nothing but a booking or POS system that can call a URL):

1. After the visit, that system posts ``{"phone": "...", "name": "..."}`` to the chrono's
   integrator hook. The run (trigger ``webhook``) finds or creates the contact (and sets its
   name if it had none), sends the question and keeps a ``SurveyAnswer`` ``asked``.
2. The contact's next message on the channel is the routine's (its trigger, match ``routine``,
   takes messages from contacts with a survey waiting, up to ``ANSWER_DAYS``; no other trigger
   answers it). The run (trigger ``message``) reads the score: "4", "4!", "nota 4", "4 estrelas".
   A score is stored on the answer and on the contact (``custom_fields["satisfaction"]`` and
   ``satisfaction_at``), and thanked. Anything else is re-asked once, gently; a second
   answer that is not 1-5 closes the survey (``unanswered``) without another message.
"""

from __future__ import annotations

import re
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from automations.models import ChronoRun
from automations.routines import common
from automations.routines.models import SurveyAnswer
from automations.targets import Outcome
from contacts import phones
from contacts.models import Contact

QUESTION = ("Olá{% if first_name %}, {{ first_name }}{% endif %}! Obrigado pela visita. De 1 a 5, "
            "que nota você dá ao nosso atendimento? (1 = ruim, 5 = ótimo)")
THANKS = "Obrigado pela nota {{ score }}! Sua opinião nos ajuda a melhorar."
REASK = "Desculpe, não entendi. Responda só com um número de 1 a 5, por favor."
TEXTS = {"question": QUESTION, "thanks": THANKS, "reask": REASK}
ANSWER_DAYS = 7
SCORE = re.compile(r"^\W*(?:nota\s*|score\s*)?([1-5])\s*(?:/\s*5|estrelas?|stars?)?\W*$", re.IGNORECASE)
Status = SurveyAnswer.Status


def config_errors(chrono) -> dict[str, list[str]]:
    return common.template_errors(chrono, TEXTS)


def score_of(text: str) -> int | None:
    match = SCORE.match(str(text or "").strip())
    return int(match[1]) if match else None


def waiting(chrono, contact: Contact):
    since = timezone.now() - timedelta(days=ANSWER_DAYS)
    return SurveyAnswer.objects.filter(chrono=chrono, contact=contact, status__in=SurveyAnswer.WAITING,
                                       asked_at__gte=since).order_by("-asked_at", "-pk")


def wants(chrono, message) -> bool:
    if message.is_group:
        return False
    contact = Contact.objects.for_chat(message.chat_id)
    return contact is not None and waiting(chrono, contact).exists()


def run(chrono, run, context: dict) -> Outcome:
    if run.trigger == ChronoRun.Trigger.MESSAGE:
        return answer(chrono, run)
    return ask(chrono, run)


def ask(chrono, run) -> Outcome:
    visit = run.input if isinstance(run.input, dict) else {}
    try:
        contact = common.contact_for_phone(visit.get("phone"))
    except phones.InvalidPhone as exc:
        return Outcome(ok=False, error=f"phone: {exc} Post {{\"phone\", \"name\"}} after the visit.",
                       retryable=False)
    if visit.get("name") and not contact.name:
        Contact.objects.filter(pk=contact.pk).update(name=str(visit["name"])[:200])
        contact.name = str(visit["name"])[:200]
    question = common.render(common.option(chrono, "question", QUESTION), contact, visit=visit)
    message = common.send(chrono, run, common.chat_for(chrono, contact), question)
    if common.went(message):
        # An earlier question left unanswered is superseded by this visit's.
        waiting(chrono, contact).update(status=Status.UNANSWERED)
        SurveyAnswer.objects.create(chrono=chrono, contact=contact, asked_at=timezone.now(), visit=visit)
    return common.outcome([message], asked=int(common.went(message)))


def answer(chrono, run) -> Outcome:
    given = run.input if isinstance(run.input, dict) else {}
    chat_id, text = str(given.get("chat") or ""), str(given.get("text") or "")
    contact = Contact.objects.for_chat(chat_id)
    with transaction.atomic():
        survey = waiting(chrono, contact).select_for_update().first() if contact is not None else None
        if survey is None:
            return Outcome(ok=True, result={"note": "No survey waits for this contact's answer."})
        score = score_of(text)
        survey.reply = text[:200]
        if score is not None:
            survey.status, survey.score, survey.answered_at = Status.ANSWERED, score, timezone.now()
            _keep_on_contact(contact, score, survey.answered_at)
            reply = common.render(common.option(chrono, "thanks", THANKS), contact, score=score)
        elif survey.status == Status.ASKED:
            survey.status, reply = Status.REASKED, common.render(common.option(chrono, "reask", REASK), contact)
        else:
            survey.status, reply = Status.UNANSWERED, ""
        survey.save(update_fields=["status", "score", "answered_at", "reply"])
    if not reply:
        return Outcome(ok=True, result={"score": None, "note": "A second answer that is not 1-5: survey closed."})
    return common.outcome([common.send(chrono, run, chat_id, reply)], score=score)


def _keep_on_contact(contact: Contact, score: int, at) -> None:
    locked = Contact.objects.select_for_update().get(pk=contact.pk)
    locked.custom_fields = {**(locked.custom_fields or {}), "satisfaction": score,
                            "satisfaction_at": at.isoformat()}
    locked.save(update_fields=["custom_fields", "updated_at"])
