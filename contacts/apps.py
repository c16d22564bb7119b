from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ContactsConfig(AppConfig):
    name = "contacts"
    verbose_name = _("Contacts")

    def ready(self) -> None:
        # Inbound messages update contacts and their consent; every send asks before_send.
        from contacts import receivers  # noqa: F401
