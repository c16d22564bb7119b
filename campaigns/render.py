"""A campaign's text for one contact: variations picked per recipient, then the template.

``{Olá|Oi|Bom dia}`` is a variation group (single braces, at least one ``|``, outside
``{{ }}`` and ``{% %}``). The pick is a hash of the campaign, the contact and the group's
position, so rendering again (a retry, the preview) gives the same text. The template sees
``contact`` as plain values, never the model: a template cannot call a model method.
"""

import hashlib
import re

from django.template import Context, Template, TemplateSyntaxError
from django.utils.translation import gettext as _

VARIATION = re.compile(r"(?<!\{)\{(?![{%])([^{}]*\|[^{}]*)\}(?!\})")


class TemplateProblem(ValueError):
    """The message cannot be rendered; the text says why."""


def pick_variations(text: str, seed: str) -> str:
    counter = iter(range(10**6))

    def choose(match: re.Match) -> str:
        options = match.group(1).split("|")
        digest = hashlib.sha256(f"{seed}:{next(counter)}".encode()).digest()
        return options[int.from_bytes(digest[:4], "big") % len(options)]

    return VARIATION.sub(choose, text)


def contact_values(contact) -> dict:
    name = (contact.name or "").strip()
    return {"name": name, "first_name": name.split()[0] if name else "", "phone": contact.phone or "",
            "fields": dict(contact.custom_fields or {}), "timezone": contact.timezone or ""}


def render(message: str, campaign_id: int, contact) -> str:
    """The text ``contact`` gets; the same every time for the same campaign and contact."""
    text = pick_variations(message, f"{campaign_id}:{contact.pk}")
    try:
        return Template(text).render(Context({"contact": contact_values(contact)}, autoescape=False)).strip()
    except TemplateSyntaxError as exc:
        raise TemplateProblem(str(exc)) from None


def check(message: str) -> None:
    """TemplateProblem when ``message`` is empty or is not a valid template."""
    if not message.strip():
        raise TemplateProblem(_("Write the message to send."))
    try:
        Template(VARIATION.sub(lambda m: " ".join(m.group(1).split("|")), message))  # every option checked
    except TemplateSyntaxError as exc:
        raise TemplateProblem(_("The message is not a valid template: %(error)s") % {"error": exc}) from None
