"""An admin paginator that never counts a big table row by row.

``EstimatedCountPaginator.count`` is exact up to ``EXACT_UP_TO`` rows (a count that stops
there); past that, on PostgreSQL, it is the planner's estimate: ``pg_class.reltuples`` for
the whole table, the plan's row estimate for a filtered list. Other databases (the
embedded SQLite) then count exactly. Pair it with ``show_full_result_count = False``.
"""

import json

from django.core.paginator import Paginator
from django.db import connections
from django.utils.functional import cached_property
from django.utils.translation import gettext as _
from rest_framework.exceptions import ValidationError

EXACT_UP_TO = 10_000


class EstimatedCountPaginator(Paginator):
    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if not hasattr(queryset, "query"):
            return super().count
        bounded = queryset.order_by()[: EXACT_UP_TO + 1].count()
        if bounded <= EXACT_UP_TO:
            return bounded
        if connections[queryset.db].vendor != "postgresql":
            return super().count
        return max(estimate(queryset), bounded)


def estimate(queryset) -> int:
    """The planner's estimate of the rows ``queryset`` returns (PostgreSQL)."""
    connection = connections[queryset.db]
    with connection.cursor() as cursor:
        if not queryset.query.where:
            cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                           [queryset.model._meta.db_table])
            row = cursor.fetchone()
            if row and row[0] >= 0:  # -1: never analysed
                return int(row[0])
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        return int(plan[0]["Plan"]["Plan Rows"])


class StrictPageSize:
    """``?page_size=`` that is not a whole number from 1 is a 400 naming it.

    DRF ignores a bad page size and answers a page of the default size, which hides the
    client's mistake; past ``max_page_size`` it still gives the largest page.
    """

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None and not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise ValidationError({self.page_size_query_param: [
                _("A whole number from 1 (at most %(max)d is used).") % {"max": self.max_page_size}]})
        return super().get_page_size(request)
