"""Failure alerts: tell an operator when a chrono keeps failing, and when it works again.

``after_run`` is called by automations/runs/execution.py each time a run ends. For a chrono
with an AlertPolicy it counts consecutive failed runs (failed or timed out; skipped
runs count neither way) under a row lock, so two workers finishing runs at once cannot
both send the alert. Exactly one "failing" alert goes out when the count reaches
``after_failures``, and one "recovered" alert on the next success. With ``pause_after``
the chrono is paused each time the count reaches a multiple of it (so a chrono resumed
by hand gets that many tries again), the reason kept on the policy and in
``chrono.last_error``.

Alerts are sent once the run's transaction has committed, to every destination the
policy sets; a destination that fails is noted in ``last_alert`` and does not stop the
others.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import mail_admins, send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from chronoflow.timefmt import local_time

from automations.models import AlertPolicy, Chrono, ChronoRun
from chronoflow import http
from whatsapp import recipients
from whatsapp.waha import WahaError

log = logging.getLogger(__name__)
Status = ChronoRun.Status
FAILED = (Status.FAILED, Status.TIMEOUT)
ALERT_TIMEOUT_S = 10.0
ERROR_CHARS = 300


@dataclass
class Notice:
    """One alert: what happened (``failing``, ``recovered`` or ``paused``) and its text."""

    kind: str
    chrono: Chrono
    run: ChronoRun
    failures: int
    detail: str = ""  # escalated: which chat and why

    @property
    def subject(self) -> str:
        # In the deployment's language (LANGUAGE_CODE): workers have no request to take one from.
        n = {"n": self.failures}
        what = {"failing": lambda: ngettext("failed %(n)d time in a row", "failed %(n)d times in a row", self.failures) % n,
                "recovered": lambda: _("works again"),
                "paused": lambda: ngettext("was paused after %(n)d failed run in a row",
                                           "was paused after %(n)d failed runs in a row", self.failures) % n,
                "escalated": lambda: _("handed a chat over to a person")}[self.kind]()
        return _("ChronoFlow: '%(name)s' %(what)s") % {"name": self.chrono.name, "what": what}

    @property
    def text(self) -> str:
        lines = [self.subject + "."]
        if self.kind == "escalated":
            lines.append(self.detail)
        elif self.kind == "recovered":
            lines.append(_("Run #%(run)d succeeded after %(n)d failed run(s).") % {"run": self.run.pk, "n": self.failures})
        else:
            lines.append(_("Last error (run #%(run)d): %(error)s")
                         % {"run": self.run.pk, "error": self.run.error_message[:ERROR_CHARS] or self.run.status})
        lines.append(settings.PUBLIC_BASE_URL + reverse("admin:automations_chrono_change", args=[self.chrono.pk]))
        return "\n".join(lines)

    def as_json(self) -> dict:
        return {"event": f"chrono.{self.kind}", "chrono": {"id": self.chrono.pk, "name": self.chrono.name},
                "run": {"id": self.run.pk, "status": self.run.status, "error": self.run.error_message[:ERROR_CHARS]},
                "consecutive_failures": self.failures, "text": self.text}


def has_policy(chrono: Chrono) -> bool:
    """Whether the chrono has an alert policy; asks nothing when the chrono was read with
    ``select_related("alert_policy")`` (execution does), so most runs skip after_run's query."""
    try:
        chrono.alert_policy
    except AlertPolicy.DoesNotExist:
        return False
    return True


def after_run(run: ChronoRun) -> None:
    """Count a finished run toward its chrono's alert policy; send what that calls for."""
    if run.status not in (*FAILED, Status.SUCCESS):
        return
    with transaction.atomic():
        policy = (AlertPolicy.objects.select_for_update(of=("self",)).select_related("chrono", "channel")
                  .filter(chrono_id=run.chrono_id).first())
        if policy is None:
            return
        notices = _advance(policy, run)
        for notice in notices:
            transaction.on_commit(lambda notice=notice: deliver(policy, notice))


def escalated(chrono: Chrono, run: ChronoRun, chat_id: str, reason: str) -> list[str]:
    """An assistant handed ``chat_id`` over to a person: tell the chrono's alert destinations, once."""
    policy = AlertPolicy.objects.select_related("chrono", "channel").filter(chrono_id=chrono.pk).first()
    if policy is None:
        return []
    number = chat_id.split("@", 1)[0]
    detail = _("Chat %(chat)s (run #%(run)d): %(reason)s") % {
        "chat": "+" + number if number.isdigit() else chat_id, "run": run.pk, "reason": reason[:ERROR_CHARS]}
    return deliver(policy, Notice("escalated", policy.chrono, run, 0, detail=detail))


def _advance(policy: AlertPolicy, run: ChronoRun) -> list[Notice]:
    """Update the policy's count for this run; the notices it calls for."""
    chrono = policy.chrono
    if run.status == Status.SUCCESS:
        notices = [Notice("recovered", chrono, run, policy.consecutive_failures)] if policy.alerting else []
        policy.consecutive_failures, policy.alerting = 0, False
        policy.save(update_fields=["consecutive_failures", "alerting"])
        return notices
    policy.consecutive_failures += 1
    notices = []
    if policy.consecutive_failures >= policy.after_failures and not policy.alerting:
        policy.alerting = True
        notices.append(Notice("failing", chrono, run, policy.consecutive_failures))
    if policy.pause_after and policy.consecutive_failures % policy.pause_after == 0 and chrono.is_active:
        _pause(policy, run)
        notices.append(Notice("paused", chrono, run, policy.consecutive_failures))
    policy.save(update_fields=["consecutive_failures", "alerting", "paused_reason"])
    return notices


def _pause(policy: AlertPolicy, run: ChronoRun) -> None:
    policy.paused_reason = (_("Paused automatically at %(when)s after %(n)d failed runs in a row. "
                              "Last error (run #%(run)d): %(error)s")
                            % {"when": local_time(timezone.now()), "n": policy.consecutive_failures, "run": run.pk,
                               "error": run.error_message[:ERROR_CHARS]})
    policy.chrono.pause()
    Chrono.objects.filter(pk=policy.chrono_id).update(last_error=policy.paused_reason)


def deliver(policy: AlertPolicy, notice: Notice) -> list[str]:
    """Send the notice to each destination of the policy; returns and stores one line per destination."""
    report = []
    for name, send in _destinations(policy):
        try:
            send(policy, notice)
            report.append(_("%(name)s: sent") % {"name": name})
        except (http.HttpError, WahaError, OSError, ValueError) as exc:  # OSError: smtplib's errors
            log.warning("alert for chrono %s via %s failed: %s", policy.chrono_id, name, exc)
            report.append(_("%(name)s: not sent (%(error)s)") % {"name": name, "error": exc})
    AlertPolicy.objects.filter(pk=policy.pk).update(
        last_alert_at=timezone.now(), last_alert="\n".join([notice.subject, *report]))
    return report


def _destinations(policy: AlertPolicy) -> list[tuple[str, callable]]:
    found = []
    if policy.channel_id and policy.recipient:
        found.append((f"WhatsApp {policy.recipient}", _send_whatsapp))
    if policy.webhook_url:
        found.append(("webhook", _send_webhook))
    if policy.email:
        found.append((f"email {policy.email}", _send_email))
    return found


def _send_whatsapp(policy: AlertPolicy, notice: Notice) -> None:
    """One text through the policy's channel, kept as an outbound Message like any other."""
    channel = policy.channel
    chat_id = recipients.normalise(policy.recipient)
    if not channel.is_working:
        raise ValueError(f"channel '{channel.name}' is {channel.status}, not WORKING")
    channel.send_and_record(chat_id, notice.text, recipient=policy.recipient)  # SendFailed is a WahaError


def _send_webhook(policy: AlertPolicy, notice: Notice) -> None:
    response = http.send("POST", policy.webhook_url, json=notice.as_json(), timeout_s=ALERT_TIMEOUT_S,
                         address_policy=http.AddressPolicy.for_http_targets())
    response.raise_for_status()


def _send_email(policy: AlertPolicy, notice: Notice) -> None:
    send_mail(notice.subject, notice.text, None, [policy.email])


# --- Channel alerts: about a WhatsApp number, not one chrono ---------------------------------


def outreach_paused(channel, reason: str) -> list[str]:
    """A ban signal paused sends to new contacts on ``channel``: tell the operator, once per pause.

    Goes to the webhook and email destinations of every alert policy whose chrono sends
    through the channel or which alerts through it (each destination once), and to the
    deployment's ADMINS. Not over WhatsApp: the number is the one WhatsApp is restricting.
    """
    subject = _("ChronoFlow: outreach paused on '%(name)s'") % {"name": channel.name}
    text = "\n".join([subject + ": " + _("sends to new contacts wait, replies still go. "
                                         "Resume by hand on the channel once the lock is over."), reason[:ERROR_CHARS],
                       settings.PUBLIC_BASE_URL + reverse("admin:whatsapp_channel_change", args=[channel.pk])])
    body = {"event": "channel.outreach_paused", "channel": {"id": channel.pk, "name": channel.name},
            "reason": reason[:ERROR_CHARS], "text": text}
    policies = AlertPolicy.objects.filter(Q(chrono__channel=channel) | Q(channel=channel))
    report = [_try(f"webhook {url}", lambda url=url: _post(url, body))
              for url in sorted({p.webhook_url for p in policies if p.webhook_url})]
    report += [_try(f"email {email}", lambda email=email: send_mail(subject, text, None, [email]))
               for email in sorted({p.email for p in policies if p.email})]
    if settings.ADMINS:
        report.append(_try("ADMINS", lambda: mail_admins(subject, text)))
    log.warning("outreach paused on channel %s: %s (alerts: %s)", channel.pk, reason[:ERROR_CHARS], report)
    return report


def _post(url: str, body: dict) -> None:
    response = http.send("POST", url, json=body, timeout_s=ALERT_TIMEOUT_S,
                         address_policy=http.AddressPolicy.for_http_targets())
    response.raise_for_status()


def _try(name: str, send) -> str:
    try:
        send()
    except (http.HttpError, OSError, ValueError) as exc:
        return _("%(name)s: not sent (%(error)s)") % {"name": name, "error": exc}
    return _("%(name)s: sent") % {"name": name}
