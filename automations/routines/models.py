"""What the ready-made routines remember per contact (imported by automations/models.py).

``RoutineMark``: something a routine does at most once per contact and key (a birthday
greeting per year, one welcome), enforced by a unique constraint, so a re-run, a retry or
a redelivered message never sends it twice. ``SurveyAnswer``: one satisfaction question
asked of a contact and what came back.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class RoutineMark(models.Model):
    chrono = models.ForeignKey("automations.Chrono", on_delete=models.CASCADE, related_name="routine_marks",
                               verbose_name=_("chrono"))
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="+",
                                verbose_name=_("contact"))
    key = models.CharField(_("key"), max_length=32, help_text=_("What was done, e.g. 'birthday:2026' or 'welcome'."))
    message = models.ForeignKey("whatsapp.Message", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+", verbose_name=_("message"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "automations"
        ordering = ["-created_at", "-pk"]
        verbose_name = _("routine mark")
        verbose_name_plural = _("routine marks")
        constraints = [models.UniqueConstraint(fields=["chrono", "contact", "key"], name="routine_once_per_contact")]

    def __str__(self) -> str:
        return f"{self.key} ({self.contact_id})"


class SurveyAnswer(models.Model):
    class Status(models.TextChoices):
        ASKED = "asked", _("asked, waiting for the answer")
        REASKED = "reasked", _("asked again after an answer that was not 1-5")
        ANSWERED = "answered", _("answered")
        UNANSWERED = "unanswered", _("no valid answer")

    WAITING = (Status.ASKED, Status.REASKED)

    chrono = models.ForeignKey("automations.Chrono", on_delete=models.CASCADE, related_name="survey_answers",
                               verbose_name=_("chrono"))
    contact = models.ForeignKey("contacts.Contact", on_delete=models.CASCADE, related_name="survey_answers",
                                verbose_name=_("contact"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.ASKED)
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True, help_text=_("1 (bad) to 5 (great)."))
    reply = models.CharField(_("reply"), max_length=200, blank=True, help_text=_("The last reply, as written."))
    visit = models.JSONField(_("visit"), default=dict, blank=True, help_text=_("What the booking system posted."))
    asked_at = models.DateTimeField(_("asked at"))
    answered_at = models.DateTimeField(_("answered at"), null=True, blank=True)

    class Meta:
        app_label = "automations"
        ordering = ["-asked_at", "-pk"]
        verbose_name = _("survey answer")
        verbose_name_plural = _("survey answers")
        indexes = [models.Index(fields=["contact", "status"])]

    def __str__(self) -> str:
        return f"{self.contact}: {self.score or self.get_status_display()}"
