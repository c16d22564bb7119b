import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from chronoflow.env import env_secret


class Command(BaseCommand):
    help = "Create the 'admin' superuser if it does not exist (password from ADMIN_PASSWORD, else generated and printed once)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username: str, **options):
        User = get_user_model()
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user '{username}' exists.")
            return
        password = env_secret("ADMIN_PASSWORD")
        generated = not password
        password = password or secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(self.style.WARNING(
                f"Created admin user '{username}' with password: {password}\n"
                "It is shown only this once; set ADMIN_PASSWORD to choose your own."
            ))
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin user '{username}' (password from ADMIN_PASSWORD)."))
