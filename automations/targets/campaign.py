"""The CAMPAIGN target: each occurrence of the chrono sends a copy of a campaign (campaigns/).

The chrono names its campaign in ``extras`` (``{"campaign": 12}``); that campaign stays a
draft, the template. Each run starts a copy of it (message, attachment, audience; its own
ledger), made once per run: a retried or redelivered run finds its copy and starts nothing.
The run ends when the copy is started; the sends go on in their own tasks.
"""

from django.utils.translation import gettext as _

from automations.targets import Outcome


def deadline_s(chrono) -> float:
    return 600.0  # writing the copy's ledger: a minute per 100,000 contacts, with room


def _campaign(chrono):
    from campaigns.models import Campaign

    ident = chrono.extras.get("campaign") if isinstance(chrono.extras, dict) else None
    if isinstance(ident, bool) or not isinstance(ident, int):
        return None
    return Campaign.objects.filter(pk=ident).first()


def config_errors(chrono) -> dict[str, list[str]]:
    campaign = _campaign(chrono)
    if campaign is None:
        return {"extras": [_('A CAMPAIGN chrono names its campaign in extras: {"campaign": <its id>}.')]}
    problems = campaign.problems()
    if problems:
        listed = "; ".join(f"{field}: {' '.join(texts)}" for field, texts in problems.items())
        return {"extras": [_("Campaign %(id)s cannot be sent: %(problems)s") % {"id": campaign.pk, "problems": listed}]}
    return {}


def run(chrono, run, context: dict) -> Outcome:
    from campaigns import sending

    campaign = _campaign(chrono)
    if campaign is None:
        return Outcome(ok=False, error=_("The chrono's campaign no longer exists."), retryable=False)
    copy, written = sending.start_copy(campaign, occurrence=f"chrono-run:{run.pk}")
    return Outcome(ok=True, result={"campaign": copy.pk, "status": copy.status, "recipients": written})
