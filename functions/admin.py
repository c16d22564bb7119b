"""Admin of user functions: the code, its limits, its state, and a test-run action."""

import json

from django import forms
from django.contrib import admin, messages
from django.db import models
from django.utils.html import format_html
from django.utils.translation import ngettext
from django.utils.translation import gettext_lazy as _

from chronoflow import secrets
from functions.models import UserFunction


class UserFunctionForm(forms.ModelForm):
    class Meta:
        model = UserFunction
        fields = "__all__"
        widgets = {
            "code": forms.Textarea(attrs={"rows": 24, "cols": 100, "spellcheck": "false",
                                          "style": "font-family: monospace; white-space: pre;"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        secrets.mask_form_initial(self, ["env"], mask=secrets.mask_values)  # env is write-only

    def clean(self) -> dict:
        cleaned = super().clean()
        # An emptied JSON box means "nothing": store {}, not NULL.
        for name in ("state", "env"):
            if name in cleaned and cleaned[name] is None:
                cleaned[name] = {}
        return secrets.keep_masked_in_form(self, cleaned, ["env"])


@admin.register(UserFunction)
class UserFunctionAdmin(admin.ModelAdmin):
    form = UserFunctionForm
    list_display = ["name", "version", "timeout_ms", "max_http", "max_messages", "max_memory_mb", "chrono_count",
                    "updated_at"]
    search_fields = ["name", "code"]
    readonly_fields = ["version", "checksum", "created_at", "updated_at", "chronos_using_it"]
    actions = ["run_now"]
    fieldsets = [
        (None, {"fields": ["name", "code", "runtime"],
                "description": _("Define <code>def run(ctx):</code>. ctx.http, ctx.message.send, ctx.state, ctx.log, "
                                 "ctx.sleep, ctx.env and ctx.input are available; json, math, re and datetime "
                                 "helpers can be imported. The code is checked when you save.")}),
        (_("Limits"), {"fields": ["timeout_ms", "max_http", "max_messages", "max_memory_mb"]}),
        (_("Data"), {"fields": ["env", "state", "fallback_channel"]}),
        (_("Version"), {"fields": ["version", "checksum", "chronos_using_it", "created_at", "updated_at"],
                     "classes": ["collapse"]}),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(chrono_total=models.Count("chronos"))

    @admin.display(description=_("Chronos"), ordering="chrono_total")
    def chrono_count(self, function: UserFunction) -> int:
        return function.chrono_total

    @admin.display(description=_("Chronos using it"))
    def chronos_using_it(self, function: UserFunction) -> str:
        names = list(function.chronos.values_list("name", flat=True)[:20]) if function.pk else []
        return ", ".join(names) or _("None")

    @admin.action(description=_("Run once now (test run, empty input)"), permissions=["change"])
    def run_now(self, request, queryset) -> None:
        failed = 0
        for function in queryset:
            report = function.run_once(input=None, refill_pool=False)  # no pool kept in the web process
            if report.ok:
                self.message_user(request, format_html("{}: returned <code>{}</code>; logs: {}", function.name,
                                                       json.dumps(report.value)[:300], " | ".join(report.logs)[:500]))
            else:
                failed += 1
                self.message_user(request, f"{function.name}: {report.error_text}"[:1000], messages.ERROR)
        ran = queryset.count()
        self.message_user(request, ngettext("%(n)d function ran, %(f)d failed.", "%(n)d functions ran, %(f)d failed.",
                                            ran) % {"n": ran, "f": failed})
