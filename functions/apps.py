from django.apps import AppConfig


class FunctionsConfig(AppConfig):
    name = "functions"
    verbose_name = "User functions"

    def ready(self) -> None:
        from functions import checks  # noqa: F401  (registers the system checks)
