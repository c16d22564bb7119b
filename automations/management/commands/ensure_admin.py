import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.utils.translation import gettext_lazy as _

from chronoflow.env import env_secret


class Command(BaseCommand):
    help = ("Create the 'admin' superuser if it does not exist (password from ADMIN_PASSWORD, else generated "
            "and printed once). --reset-password sets the password of an existing one the same way.")

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--reset-password", action="store_true",
                            help=_("give the existing user a new password (ADMIN_PASSWORD, else a generated one)"))

    def handle(self, *args, username: str, reset_password: bool, **options):
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is not None and not reset_password:
            hint = " ADMIN_PASSWORD is set but was not applied to it:" if env_secret("ADMIN_PASSWORD") else ""
            self.stdout.write(f"Admin user '{username}' exists.{hint} To set a new password, run "
                              f"`.venv/bin/python manage.py ensure_admin --reset-password`.")
            return
        password = env_secret("ADMIN_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        if user is None:
            User.objects.create_superuser(username=username, email="", password=password)
            done = f"Created admin user '{username}'"
        else:
            user.set_password(password)
            user.save(update_fields=["password"])
            done = f"New password for admin user '{username}'"
        if generated:
            self.stdout.write(self.style.WARNING(
                f"{done} with password: {password}\n"
                "It is shown only this once; set ADMIN_PASSWORD to choose your own."
            ))
        else:
            self.stdout.write(self.style.SUCCESS(f"{done} (password from ADMIN_PASSWORD)."))
