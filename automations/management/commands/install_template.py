"""python manage.py install_template <name> [--channel ... --time ... --url ...]: a ready-made automation.

``install_template --list`` names the templates and what each asks for.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext_lazy as _

from automations import recipes
from automations.recipes import RECIPES, InvalidOption


class Command(BaseCommand):
    help = _("Create a working automation from a ready-made template: ") + ", ".join(RECIPES) + "."

    def add_arguments(self, parser) -> None:
        parser.add_argument("name", nargs="?", help=_("The template: ") + ", ".join(RECIPES) + ".")
        parser.add_argument("--list", action="store_true", dest="list_templates",
                            help=_("List the templates and the options each needs."))
        names = sorted({option.name for recipe in RECIPES.values() for option in recipe.options})
        for name in names:
            parser.add_argument(f"--{name}", dest=name, help=_option_help(name))

    def handle(self, *args, name: str | None = None, list_templates: bool = False, **options) -> None:
        if list_templates or not name:
            self._list()
            if not name and not list_templates:
                raise CommandError(_("Name the template to install: %(names)s.") % {"names": ", ".join(RECIPES)})
            return
        answers = {o.name: options.get(o.name) for r in RECIPES.values() for o in r.options}
        try:
            installed = recipes.install(name, answers)
        except InvalidOption as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(self.style.SUCCESS(_("Installed %(title)s: %(count)d chrono(s).")
                                             % {"title": RECIPES[name].title, "count": len(installed.chronos)}))
        for chrono in installed.chronos:
            self.stdout.write(f"  chrono #{chrono.pk} {chrono.name!r}: {chrono.get_target_type_display()}, "
                              f"{chrono.describe_schedule()}")
        for note in installed.notes:
            self.stdout.write(f"  {note}")

    def _list(self) -> None:
        for recipe in RECIPES.values():
            asks = " ".join(f"--{o.name}" + (f" (default {o.default})" if o.default else "") for o in recipe.options)
            self.stdout.write(f"{recipe.name}: {recipe.description}\n    {asks}")


def _option_help(name: str) -> str:
    users = [(recipe.name, option) for recipe in RECIPES.values() for option in recipe.options if option.name == name]
    if len({option.help for _, option in users}) == 1:
        return f"{users[0][1].help} Used by: {', '.join(r for r, _ in users)}."
    return " ".join(f"{recipe}: {option.help}" for recipe, option in users)
