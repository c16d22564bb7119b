"""System checks for the settings user functions depend on this machine for (``manage.py check``)."""

import os
import pwd

from django.conf import settings
from django.core import checks


@checks.register(checks.Tags.security)
def sandbox_user_exists(app_configs, **kwargs) -> list[checks.CheckMessage]:
    """A worker running as root drops each sandbox child to FUNCTION_SANDBOX_USER: it must exist here."""
    name = settings.FUNCTION_SANDBOX_USER
    if not name:
        return []
    try:
        pwd.getpwnam(name)
    except KeyError:
        return [checks.Error(
            f"FUNCTION_SANDBOX_USER names no user on this machine: {name!r}.",
            hint="Create the user, or set FUNCTION_SANDBOX_USER to an existing unprivileged one (e.g. nobody)"
                 + ("." if os.geteuid() == 0 else "; it is used only when the worker runs as root."),
            id="functions.E001")]
    return []
