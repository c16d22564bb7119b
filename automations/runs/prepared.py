"""A queryset shape compiled to SQL once, then run many times with new values (issue 12).

The worker loads each run with its chrono and the chrono's three event rows
(select_related); compiling that query cost the worker more CPU than PostgreSQL spent
answering it. A ``Prepared`` compiles the real queryset the first time, keeps its SQL and
the compiler's column map, and afterwards only executes that SQL with the new values and
builds the instances with Django's own populators, exactly as iterating the queryset does.

Its values must be the query's only parameters, in the order the SQL takes them: the first
compilation checks that, and a shape that fails the check is never cached (every call then
goes through the ORM, only slower).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection
from django.db.models import QuerySet
from django.db.models.query import get_related_populators

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Plan:
    sql: str
    model: type
    init_list: list[str]
    fields: slice  # the main model's columns in a row
    converters: list  # (position, (converter functions, expression)), as the compiler applies them
    populators: list  # select_related's RelatedPopulators; stateless, so shared by every call


class Prepared:
    """``build(*values)`` is the queryset; ``params(*values)`` its SQL parameters, in order."""

    def __init__(self, build: Callable[..., QuerySet], params: Callable[..., list]) -> None:
        self.build, self.params = build, params
        self._plans: dict[tuple[str, str], _Plan | None] = {}

    def first(self, *values):
        """The first instance the queryset yields for these values, or None."""
        statement = self.statement(*values)
        if statement is None:
            return next(iter(self.build(*values)), None)
        with connection.cursor() as cursor:
            cursor.execute(*statement)
            return self.instance(cursor.fetchone())

    def statement(self, *values) -> tuple[str, list] | None:
        """The SQL and parameters for these values (compiled the first time), for a caller that
        sends it itself (execution's pipeline); None when this shape goes through the ORM."""
        key = (connection.alias, connection.vendor)
        if key not in self._plans:
            self._plans[key] = self._compile(values)
        plan = self._plans[key]
        return None if plan is None else (plan.sql, self.params(*values))

    def instance(self, row: tuple | None):
        """The instance a row of ``statement()``'s SQL stands for (None for no row)."""
        return None if row is None else _instance(self._plans[(connection.alias, connection.vendor)], row)

    def _compile(self, values: tuple) -> _Plan | None:
        queryset = self.build(*values)
        compiler = queryset.query.get_compiler(using=queryset.db)
        sql, params = compiler.as_sql()
        expected = list(self.params(*values))
        if [(type(p), p) for p in params] != [(type(v), v) for v in expected]:
            log.warning("prepared query of %s: parameters %r are not %r; using the ORM", queryset.model.__name__,
                        params, expected)
            return None
        klass_info, select = compiler.klass_info, compiler.select
        columns = klass_info["select_fields"]
        fields = slice(columns[0], columns[-1] + 1)
        converters = list(compiler.get_converters([s[0] for s in select[0:compiler.col_count]]).items())
        return _Plan(sql=sql, model=klass_info["model"], init_list=[s[0].target.attname for s in select[fields]],
                     fields=fields, converters=converters,
                     populators=get_related_populators(klass_info, select, queryset.db))


def _instance(plan: _Plan, row: tuple):
    values = list(row)
    for position, (functions, expression) in plan.converters:
        value = values[position]
        for convert in functions:
            value = convert(value, expression, connection)  # this thread's connection, not the compiler's
        values[position] = value
    obj = plan.model.from_db(connection.alias, plan.init_list, values[plan.fields])
    for populator in plan.populators:
        populator.populate(values, obj)
    return obj
