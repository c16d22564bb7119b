"""Ready-made routines that need contacts: the ROUTINE target's work (automations/targets/routine.py).

Each routine is one module with
* ``run(chrono, run, context) -> Outcome``: one attempt;
* ``wants(chrono, message) -> bool``: whether an inbound whatsapp.Message is its business
  (a trigger of match ``routine`` asks; the routine decides, e.g. a survey awaiting an answer);
* ``config_errors(chrono) -> dict[str, list[str]]``.

Options live in ``chrono.extras``. The recipes (automations/recipes.py) install them.
"""

from importlib import import_module
from types import ModuleType

from django.utils.translation import gettext_lazy as _

BIRTHDAY, SURVEY, WELCOME = "birthday", "survey", "welcome"
CHOICES = [(BIRTHDAY, _("Birthday greeting")), (SURVEY, _("Satisfaction survey")),
           (WELCOME, _("New-lead welcome"))]


def module(name: str) -> ModuleType:
    """The routine's module; LookupError for a name no routine has."""
    if name not in dict(CHOICES):
        raise LookupError(f"Unknown routine {name!r}")
    return import_module(f"automations.routines.{name}")


def wants(chrono, message) -> bool:
    """Whether ``chrono``'s routine takes this inbound message (False for an unknown routine)."""
    try:
        return bool(module(chrono.routine).wants(chrono, message))
    except LookupError:
        return False
