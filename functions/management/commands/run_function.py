"""manage.py run_function <name> [--input JSON]: run a user function once and print what it did."""

import json

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from chronoflow import commands
from functions.models import UserFunction


class Command(commands.Command):
    help = _("Run a user function once in the sandbox; print its result and logs. State is saved if it succeeds.")

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", help=_("The function's name."))
        parser.add_argument("--input", default=None, help=_("JSON given to the function as ctx.input."))

    def handle(self, *args, name: str, input: str | None, **options) -> None:
        try:
            function = UserFunction.objects.get(name=name)
        except UserFunction.DoesNotExist:
            raise CommandError(_("No function named %(name)r.") % {"name": name}) from None
        try:
            value = json.loads(input) if input is not None else None
        except ValueError as exc:
            raise CommandError(_("--input is not JSON: %(error)s") % {"error": exc}) from None
        report = function.run_once(input=value, refill_pool=False)  # one run: no children to pre-start
        for line in report.logs:
            self.stdout.write(f"log: {line}")
        self.stdout.write(json.dumps(report.as_result(), indent=2, ensure_ascii=False, default=str))
        if not report.ok:
            raise CommandError(report.error_text)
