"""The base of ChronoFlow's management commands.

Our commands' ``help`` is ``gettext_lazy(...)`` so that ``--help`` speaks the operator's
language; argparse needs a real string for its description, so the lazy text is turned into
one when the parser is built (by then the command's language is active).
"""

from __future__ import annotations

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    def create_parser(self, prog_name: str, subcommand: str, **kwargs):
        self.help = str(self.help or "")
        return super().create_parser(prog_name, subcommand, **kwargs)
