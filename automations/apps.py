from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AutomationsConfig(AppConfig):
    name = "automations"
    verbose_name = _("Automations")

    def ready(self) -> None:
        # Receivers: beat kept in step with chronos, run tallies, and what the whatsapp app announces.
        from automations import signals  # noqa: F401
        from automations.events import receivers  # noqa: F401
