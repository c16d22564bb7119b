from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FunctionsConfig(AppConfig):
    name = "functions"
    verbose_name = _("User functions")

    def ready(self) -> None:
        from functions import checks  # noqa: F401  (registers the system checks)
