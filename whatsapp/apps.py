from django.apps import AppConfig


class WhatsappConfig(AppConfig):
    name = "whatsapp"
    verbose_name = "WhatsApp"

    def ready(self) -> None:
        from whatsapp import checks  # noqa: F401  (registers the system checks)
