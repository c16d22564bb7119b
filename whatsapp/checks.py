"""System checks for the WhatsApp settings that depend on each other (``manage.py check``)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

from whatsapp.models import WAHA_DEFAULT_URL, Channel, current_provider

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@checks.register()
def waha_can_reach_us(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """WAHA posts its webhooks to PUBLIC_BASE_URL: from another host, "localhost" is WAHA itself."""
    if current_provider() == Channel.Provider.DEV:
        return []  # the development channel posts no webhooks
    waha_host = urlsplit(settings.WAHA_BASE_URL or WAHA_DEFAULT_URL).hostname or ""
    public_host = urlsplit(settings.PUBLIC_BASE_URL).hostname or ""
    if waha_host in LOOPBACK_HOSTS or public_host not in LOOPBACK_HOSTS:
        return []
    return [checks.Warning(
        f"PUBLIC_BASE_URL ({settings.PUBLIC_BASE_URL}) is a loopback address, but WAHA runs at "
        f"{settings.WAHA_BASE_URL}: WAHA's webhooks would go to WAHA's own machine, not to ChronoFlow.",
        hint="Set PUBLIC_BASE_URL to an address WAHA can reach, e.g. http://web:8000 in docker-compose.",
        id="whatsapp.W001")]
