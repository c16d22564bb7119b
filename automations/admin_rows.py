"""The admin's change-list rows as Django writes them, with each column's work done once a page.

Django's ``items_for_result`` (contrib/admin/templatetags/admin_list.py) works every column
out again for every row: which field or display method it is, its empty value, its CSS
class, a widget template rendered for the action checkbox, and for the link column a
reverse() and a resolve() (the preserved filters). On the run and chrono lists (50 rows of
9 and 10 columns) that was most of the page's time (bench/pages.py). Here each column is
resolved once a page into a ``Column`` and a row only computes its values. The HTML is
Django's, byte for byte: tests/automations/test_admin_rows.py compares the two.

``ListedFieldsOnly`` makes such a list read only the columns it shows.

Used through ``{% quick_result_list cl %}`` (automations/templatetags/chrono_admin_list.py)
in the change_list.html of the admins that opt in. Popups and list_editable lists, which this
does not handle, get Django's own code.
"""

import datetime
import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from django.contrib.admin import helpers
from django.contrib.admin.options import ModelAdmin
from django.contrib.admin.templatetags import admin_list
from django.contrib.admin.templatetags.admin_urls import add_preserved_filters
from django.contrib.admin.views.main import ChangeList
from django.contrib.admin.utils import (
    FieldIsAForeignKeyColumnName, _get_non_gfk_field, display_for_field, display_for_value, lookup_field, quote,
)
from django.core.exceptions import FieldDoesNotExist, ObjectDoesNotExist
from django.db import models
from django.urls import NoReverseMatch, get_script_prefix, get_urlconf, reverse
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext

PK = "CHRONOFLOWPK"  # the pk's place in a change URL reversed once a page (letters: quote() keeps them)
NOWRAP_FIELDS = (models.DateField, models.TimeField, models.ForeignKey)  # as items_for_result


class ListedFieldsChangeList(ChangeList):
    def get_results(self, request) -> None:
        # The page of rows only: actions and counts start again from get_queryset().
        if self.model_admin.list_fields:  # only() of nothing would read the pk alone
            self.queryset = self.queryset.only(*self.model_admin.list_fields)
        super().get_results(request)


class ListedFieldsOnly:
    """ModelAdmin mixin: the change list's rows read only ``list_fields``, not every column.

    A run's JSON (result, input, attempts) and a chrono's (headers, payload, extras...) cost
    more to load than to show the row. A field left out is loaded again row by row, one query
    each: tests count the list's queries."""

    list_fields: tuple[str, ...] = ()

    def get_changelist(self, request, **kwargs):
        return ListedFieldsChangeList


def admin_url(name: str, pk: int | None = None) -> str:
    """``reverse("admin:<name>", args=[pk])`` (or no args) for a list's rows: reversed once, the pk put in."""
    template = _reversed(name, pk is not None, get_script_prefix(), get_urlconf())
    return template if pk is None else template.replace(PK, str(int(pk)), 1)


@functools.lru_cache(maxsize=64)
def _reversed(name: str, with_pk: bool, prefix: str, urlconf) -> str:
    # The prefix and urlconf are the key, not read: reverse() depends on both.
    return reverse(f"admin:{name}", args=[PK] if with_pk else None)


def result_list(cl) -> dict:
    """The context of admin/change_list_results.html, as Django's ``result_list`` tag builds it."""
    if cl.is_popup or cl.formset:
        return admin_list.result_list(cl)
    headers = list(admin_list.result_headers(cl))
    return {
        "cl": cl,
        "result_hidden_fields": [],  # only list_editable has some
        "result_headers": headers,
        "num_sorted_fields": sum(1 for header in headers if header["sortable"] and header["sorted"]),
        "results": list(rows(cl)),
    }


def rows(cl) -> Iterator[admin_list.ResultList]:
    """One item a row, its cells joined: the template writes a row's items one after the other."""
    columns = page_columns(cl)
    for result in cl.result_list:
        yield admin_list.ResultList(None, [SafeString("".join(column.cell(result) for column in columns))])


def page_columns(cl) -> list["Column"]:
    empty = cl.model_admin.get_empty_value_display()
    links = ChangeLinks(cl)
    columns, first = [], True
    for index, name in enumerate(cl.list_display):
        link = link_in_col(first, name, cl)
        columns.append(Column.resolve(cl, index, name, empty, links if link else None, first and link))
        first = first and not link
    return columns


def link_in_col(is_first: bool, name, cl) -> bool:
    # items_for_result's own rule: the first column unless list_display_links names others.
    if cl.list_display_links is None:
        return False
    if is_first and not cl.list_display_links:
        return True
    return name in cl.list_display_links


class ChangeLinks:
    """Each row's change URL with the list's filters preserved: reversed and resolved once a page."""

    def __init__(self, cl) -> None:
        self.cl = cl
        self.context = {"preserved_filters": cl.preserved_filters, "opts": cl.opts}
        try:
            self.template = conditional_escape(self.slow(PK))
        except NoReverseMatch:
            self.template = None

    def slow(self, pk) -> str:
        # ChangeList.url_for_result with the pk given, then the filters as items_for_result adds them.
        url = reverse(f"admin:{self.cl.opts.app_label}_{self.cl.opts.model_name}_change",
                      args=(quote(pk),), current_app=self.cl.model_admin.admin_site.name)
        return add_preserved_filters(self.context, url)

    def escaped(self, result) -> str | None:
        if self.template is None:
            return None
        pk = getattr(result, self.cl.pk_attname)
        if isinstance(pk, int):  # digits: neither quote() nor the URL's escaping changes them
            return self.template.replace(PK, str(pk), 1)
        return conditional_escape(self.slow(pk))


@dataclass
class Column:
    """One list_display entry: how a row's value is found and shown, worked out once a page."""

    name: str
    classes: str  # "field-<name>"
    empty: str  # the admin's empty value; a display method may have its own
    lookup: Callable  # row -> (field, attr, value), as lookup_field
    choices: dict | None = None
    links: ChangeLinks | None = None
    tag: str = "td"
    nowrap: bool = False

    @classmethod
    def resolve(cls, cl, index: int, name, empty: str, links: ChangeLinks | None, first: bool) -> "Column":
        model_admin = cl.model_admin
        # Anything but a model field or a display method of the admin: lookup_field row by row, as Django.
        column = cls(name=name, classes=f"field-{admin_list._coerce_field_name(name, index)}", empty=empty,
                     lookup=lambda row: lookup_field(name, row, model_admin), links=links, tag="th" if first else "td")
        if not isinstance(name, str):
            return column
        try:
            column.resolve_field(_get_non_gfk_field(cl.lookup_opts, name))
        except (FieldDoesNotExist, FieldIsAForeignKeyColumnName):
            if name != "__str__" and hasattr(model_admin, name):
                column.resolve_method(model_admin, name)
        return column

    def resolve_field(self, f: models.Field) -> None:
        name = self.name
        self.lookup = lambda row: (f, None, getattr(row, name))
        self.nowrap = isinstance(f, NOWRAP_FIELDS)
        if f.auto_created or not getattr(f, "flatchoices", None):
            return
        try:
            # display_for_field builds the dict again for every cell, and each cell translates its label.
            self.choices = {value: conditional_escape(label) for value, label in dict(f.flatchoices).items()}
        except TypeError:  # list-like choices: display_for_field's own fallback, cell by cell
            self.choices = None

    def resolve_method(self, model_admin: ModelAdmin, name: str) -> None:
        method = getattr(model_admin, name)
        if name == "action_checkbox" and type(model_admin).action_checkbox is ModelAdmin.action_checkbox:
            # Django renders a CheckboxInput's template for every row: the same HTML, written here.
            label = gettext("Select this object for an action - {}")
            self.lookup = lambda row: (None, method, action_checkbox(row, label))
        else:
            self.lookup = lambda row: (None, method, method(row))

    def cell(self, row) -> str:
        text, classes = self.display(row)
        text = conditional_escape(text)
        if self.links is not None:
            url = self.links.escaped(row)
            if url is not None:
                text = f'<a href="{url}">{text}</a>'
        return f'<{self.tag} class="{classes}">{text}</{self.tag}>'

    def display(self, row) -> tuple:
        """(the cell's text, its CSS classes): items_for_result's branches, in its order."""
        try:
            f, attr, value = self.lookup(row)
        except ObjectDoesNotExist:
            return self.empty, self.classes
        empty = getattr(attr, "empty_value_display", self.empty)
        if isinstance(value, str) and value.strip() == "":
            value = ""
        if f is None or f.auto_created:
            return self.display_value(attr, value, empty)
        if isinstance(f.remote_field, models.ManyToOneRel):
            text = empty if value is None else value
        elif self.choices is not None:
            try:
                text = self.choices.get(value, empty)
            except TypeError:  # an unhashable value
                text = display_for_field(value, f, empty, avoid_link=self.links is not None)
        else:
            text = display_for_field(value, f, empty, avoid_link=self.links is not None)
        return text, f"{self.classes} nowrap" if self.nowrap else self.classes

    def display_value(self, attr, value, empty: str) -> tuple:
        classes = "action-checkbox" if self.name == "action_checkbox" else self.classes
        boolean = getattr(attr, "boolean", False)
        if isinstance(attr, property) and hasattr(attr, "fget"):
            boolean = getattr(attr.fget, "boolean", False)
        text = display_for_value(value, empty, boolean)
        return text, f"{classes} nowrap" if isinstance(value, (datetime.date, datetime.time)) else classes


def action_checkbox(row, label: str) -> SafeString:
    """ModelAdmin.action_checkbox's HTML (a CheckboxInput never checked), without its template."""
    return format_html('<input type="checkbox" name="{}" value="{}" class="action-select" aria-label="{}">',
                       helpers.ACTION_CHECKBOX_NAME, str(row.pk), format_html(label, str(row)))
