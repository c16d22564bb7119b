"""An operator's own language and time zone, over the browser's and the deployment's."""

from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


def time_zone_names() -> list[str]:
    """IANA zones people live in (Area/City) and UTC, sorted: what the choice list offers."""
    return sorted(name for name in available_timezones() if "/" in name and not name.startswith(("Etc/", "SystemV/"))) + ["UTC"]


def validate_time_zone(value: str) -> None:
    if value and value not in available_timezones():
        raise ValidationError(_("%(value)s is not a time zone; choose one such as America/Sao_Paulo."),
                              code="invalid", params={"value": value})


class OperatorProfile(models.Model):
    """Empty fields follow the browser (language) and the deployment's TIME_ZONE (times)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="operator_profile",
                                verbose_name=_("user"))
    language = models.CharField(_("language"), max_length=16, blank=True, choices=settings.LANGUAGES,
                                help_text=_("Empty: the browser's language."))
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True, validators=[validate_time_zone],
                                 help_text=_("Times are shown in this zone. Empty: the deployment's zone."))

    class Meta:
        verbose_name = _("operator preferences")
        verbose_name_plural = _("operator preferences")

    def __str__(self) -> str:
        return str(self.user)
